"""Reading the simulator's answers (``spec_tod.synth.answers``)."""

from __future__ import annotations

from spec_tod.synth.answers import json_object


def test_the_first_object_with_a_text_is_found() -> None:
    assert json_object('Sure: {"area": "east"} then {"text": "a hotel in the east", "area": "east"}') == {
        "text": "a hotel in the east", "area": "east"
    }  # fmt: skip
    assert json_object("no object here") is None


def test_an_answer_caught_in_a_loop_of_brackets_has_no_object() -> None:
    loop = "[" * 5000  # deeper than the JSON decoder goes
    assert json_object('{"text": ' + loop) is None
    assert json_object('{"text": ' + loop + ' {"text": "after the loop"}') == {"text": "after the loop"}
