"""Reading the understanding model's answers (``spec_tod.du.prompts``)."""

from __future__ import annotations

from spec_tod.du import prompts


def test_answers_are_read_and_unreadable_ones_say_so() -> None:
    assert prompts.parse_rag('["book_hotel"]') == (True, "book_hotel")
    assert prompts.parse_rag("[]") == (True, None)
    assert prompts.parse_value('["4", "5"]') == (True, ["4", "5"])
    assert prompts.parse_slots('{"area": "east", "stars": 4}') == (True, {"area": "east"})
    assert prompts.parse_value("the east") == (False, None)


def test_an_answer_caught_in_a_loop_of_brackets_is_unreadable_not_a_crash() -> None:
    loop = "[" * 5000  # deeper than the JSON decoder goes
    assert prompts.parse_rag(loop) == (False, None)
    assert prompts.parse_value(loop) == (False, None)
    assert prompts.parse_slots('{"area": ' + loop + "}") == (False, {})
