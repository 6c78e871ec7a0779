"""The judge's prompt and the reading of tidy and untidy answers."""

from __future__ import annotations

import json

from spec_tod.judge.criteria import NAMES, judge_prompt, read_judgment

ALL_FOUR = {name: 4 for name in NAMES}


def test_the_prompt_carries_the_release_criteria_and_the_dialogue() -> None:
    prompt = judge_prompt([("i need a taxi", "where to ?", "where are you going ?")])
    assert "1) Interesting:  Are" not in prompt  # the release's double space is not part of the wording
    assert "1) Interesting: Are the responses of AI interesting.\n" in prompt
    assert "8) Direct: Are the responses of AI directly answer request from human.\n" in prompt
    assert (
        "### Dialogue: user: i need a taxi\nassistant: where to ?\nreference: where are you going ?\n### Note:"
        in prompt
    )
    assert all(f'"{name}": "an integer score range from 0 to 5"' in prompt for name in NAMES)


def test_tidy_json_and_json_inside_text() -> None:
    assert read_judgment(json.dumps(ALL_FOUR)).scores == ALL_FOUR
    fenced = "Here you go:\n```json\n" + json.dumps({name.lower(): f"{4}/5" for name in NAMES}) + "\n```"
    reading = read_judgment(fenced)
    assert (reading.status, reading.scores) == ("scored", ALL_FOUR)


def test_prose_synonyms_and_partial_answers() -> None:
    prose = (
        "Interesting: 3\nEngaging - 2\nUnderstandability: 5\n**Relevance**: 4/5\nCorrectness = 1\n"
        "Appropriate: 0\nFluency: 5\nDirectness: 4"
    )
    reading = read_judgment(prose)
    assert reading.status == "scored"
    assert list(reading.scores.values()) == [3, 2, 5, 4, 1, 0, 5, 4]
    partial = read_judgment('{"Interesting": 4, "Engaging": "5", "Correct": 9}')
    assert (partial.status, partial.scores) == ("partial", {"Interesting": 4, "Engaging": 5})
    assert "Correct" in partial.note  # 9 is out of range: not a score


def test_refusals_and_unreadable_answers() -> None:
    assert read_judgment("I'm sorry, but I cannot evaluate this dialogue.").status == "refused"
    assert read_judgment('{"score": "4"}').status == "unreadable"
    assert read_judgment("").status == "unreadable"


def test_an_answer_caught_in_a_loop_of_brackets_is_read_as_prose() -> None:
    """JSON nested deeper than the decoder goes is no JSON: the prose scores around it still count."""
    reading = read_judgment("Interesting: 4\n" + '{"Engaging": ' + "[" * 5000 + "}")
    assert (reading.status, reading.scores) == ("partial", {"Interesting": 4})
