"""The evaluator's normalisation (docs/evaluation.md, section 2), case by case."""

from __future__ import annotations

import pytest

from spec_tod.data.normalize import (
    normalise_response,
    normalise_slot_name,
    normalise_slot_value,
    normalise_state,
    placeholder_class,
    time_to_minutes,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("by 17:00", "17:00"),
        ("by17:00", "07:00"),  # the evaluator drops three characters after "by"
        ("12:30pm", "24:30"),  # no range check
        ("5 pm", "17:00"),
        ("after 5:30 pm", "17:30"),
        ("10 a.m.", "10:00"),
        ("1715", "17:15"),
        ("9", "09:00"),
        ("9:30", "09:30"),
        ("17 : 15", "17:15"),
        ("17:15.", "17:15"),
        ("", "00:00"),
        ("Noon", "12:00"),
        ("one o'clock p.m. please", "13:00"),
        ("after lunch", "lunch"),
        ("whenever", "whenever"),
        ("abc pm", "abc"),  # the reference implementation raises; the string then matches nothing
    ],
)
def test_time_values(raw: str, expected: str) -> None:
    assert normalise_slot_value("leave", raw) == expected
    assert normalise_slot_value("arrive", raw) == expected


@pytest.mark.parametrize(
    ("slot", "raw", "expected"),
    [
        ("name", " Nando's ", "nandos"),
        ("name", "A & B Guest House", "a and b guest house"),
        ("destination", "Christs", "christ's college"),  # every block applies to every name-like slot
        ("departure", "Broughton Gallery", "broughton house gallery"),
        ("type", "guest house", "guesthouse"),
        ("type", "Guest House", "Guest House"),  # exact lookup of the raw value
        ("food", " English ", "british"),
        ("food", "Italian", "italian"),
        ("parking", "free", "yes"),
        ("internet", "Free", "Free"),
        ("area", "Centre", "Centre"),  # not lower-cased
        ("booktime", "5 pm", "5 pm"),  # not a time slot
    ],
)
def test_slot_values(slot: str, raw: str, expected: str) -> None:
    assert normalise_slot_value(slot, raw) == expected


def test_slot_names_and_states() -> None:
    assert normalise_slot_name("Arrive By") == "arrive"
    assert normalise_slot_name("leaveAt") == "leave"
    assert normalise_slot_name("price range") == "pricerange"
    state = {"train": {"arriveBy": "by 17:00", "leave at": "9:30", "leaveat": "10:00"}, "Hotel": {"Type": "guest house"}}
    assert normalise_state(state) == {
        "train": {"arrive": "17:00", "leave": "10:00"},  # the later of two equal names wins
        "Hotel": {"type": "guesthouse"},  # domain names are kept as given
    }


def test_time_to_minutes() -> None:
    assert time_to_minutes("17:15") == 1035
    assert time_to_minutes("24:30") == 1470
    assert time_to_minutes("7:15") == 0
    assert time_to_minutes("after lunch") == 0


def test_responses() -> None:
    assert (
        normalise_response("There are [value_count] [price range] hotels -s in [AREA] . Do you want [Hotel_Name]s ?")
        == "there are COUNT PRICE hotels in AREA. do you want NAME?"
    )
    # unknown names vanish; names with other characters are ordinary text; -ly is deleted anywhere
    assert normalise_response("[foo] it is [value-count] friendly-ly") == "it is [value-count] friendly"
    assert normalise_response("i  'm   here .") == "i 'm here."
    assert placeholder_class("Restaurant_Name") == "NAME"
    assert placeholder_class("value_openhours") is None


def test_a_standing_normaliser_gives_the_same_texts_and_leaves_nothing_pending() -> None:
    from spec_tod.data import normalize

    texts = [f"there are [value_count] hotels -s , number {k} ." for k in range(50)] + ["i  'm   here ."]
    expected = [normalize._normalise_uncached(text) for text in texts]
    with normalize.standing_normaliser():
        normalize.start_normalising(texts[:30])
        normalize.start_normalising(texts[10:40])  # only the 10 unseen ones are sent
        assert sum(len(batch) for batch, _ in normalize._PENDING) == 40
        later = normalize.normalise_responses_later(texts)
        assert later() == expected
        assert normalize._PENDING == []
        normalize.start_normalising([text + " again" for text in texts])  # never asked for
    assert normalize._PENDING == [] and normalize._STANDING == []
    assert normalize.normalise_responses([text + " again" for text in texts[:2]]) == [
        normalize._normalise_uncached(text + " again") for text in texts[:2]
    ]
