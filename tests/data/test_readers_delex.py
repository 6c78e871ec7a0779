"""Delexicalisation procedures and placeholder names."""

from __future__ import annotations

import json
import re

import pytest

from spec_tod.data.readers.delex import PLACEHOLDER_NAMES, delex_chars, delex_words, placeholder

# docs/evaluation.md section 8.2: placeholder class of each MultiWOZ 2.1 span slot.
CLASSES_21 = {
    "Addr": "ADDRESS", "Post": "POST", "Dest": "PLACE", "Depart": "PLACE", "Leave": "TIME", "Arrive": "TIME",
    "Time": "TIME", "Ticket": "PRICE", "Fee": "PRICE", "Price": "PRICE", "Id": "TRAINID", "Ref": "REFERENCE",
    "Choice": "COUNT", "People": "COUNT", "Stay": "COUNT", "Stars": "COUNT", "Car": "TYPE", "Type": "TYPE",
    "Day": "DAY", "Area": "AREA", "Food": "FOOD", "Name": "NAME", "Phone": "PHONE", "Internet": "INTERNET",
    "Parking": "PARKING", "Department": "DEPARTMENT", "Open": "OPEN",
}  # fmt: skip


@pytest.fixture(scope="module")
def class_of(data_dir) -> dict[str, str]:
    table = json.loads((data_dir / "mwz_eval" / "slot_name_mapping.json").read_text())
    return {name: cls for cls, names in table["classes"].items() for name in names}


def test_multiwoz21_placeholders_have_the_section_8_2_class(class_of):
    for slot, expected in CLASSES_21.items():
        assert class_of[placeholder(slot)[1:-1]] == expected, slot


def test_multiwoz22_placeholders_have_the_class_of_the_bare_name(class_of):
    # The canonical 2.2 references write the bare slot name ([leaveat], [ref]); ours must mean the same.
    for slot, name in PLACEHOLDER_NAMES.items():
        assert name in class_of, slot
        if slot in class_of:
            assert class_of[name] == class_of[slot], slot


def test_every_placeholder_of_the_test_references_has_a_class(mwz21_test, class_of):
    names = {m for d in mwz21_test.dialogues for t in d.turns for m in re.findall(r"\[(\w+)\]", t.system_delex)}
    assert names and names <= set(class_of)


def test_word_spans():
    text = "the  hotel is in the north , ref 123"
    spans = [
        ["Hotel-Inform", "Area", "north", 5, 5],
        ["Hotel-Inform", "Type", "hotel", 1, 1],  # inside the name, which starts earlier: skipped
        ["Hotel-Inform", "Name", "the hotel", 0, 1],
        ["Booking-Book", "Ref", "123", 8, 8],
        ["Booking-Book", "Ref", "999", 12, 14],  # past the end: appended, as the evaluator's slicing does
    ]
    assert delex_words(text, spans) == "[value_name] is in the [value_area] , ref [value_reference] [value_reference]"
    # first > last (PMUL4672 has one): the placeholder is inserted and no word is removed.
    assert delex_words("a b c d", [["X", "Type", "t", 2, 1]]) == "a b [value_type] c d"
    # Ties on the first word keep the original order; an overlapping later span is skipped.
    assert delex_words("a b c", [["X", "Name", "a b", 0, 1], ["X", "Area", "a", 0, 0]]) == "[value_name] c"
    assert delex_words("a b c", [["X", "Area", "a", 0, 0], ["X", "Name", "a b", 0, 1]]) == "[value_area] b c"
    assert delex_words("any area", [["X", "Area", "dontcare", 0, 1]]) == "any area"
    assert delex_words(" spaced   out ", []) == "spaced out"


def test_character_spans():
    text = "TR5678 leaves at 10:15, arrives 11:00."
    spans = [
        ["Train-Inform", "arriveby", "11:00", 32, 37],
        ["Train-Inform", "trainid", "TR5678", 0, 6],
        ["Train-Inform", "leaveat", "10:15", 17, 22],
        ["Train-Inform", "leaveat", "10:1", 17, 21],  # overlaps the kept span
        ["Train-Inform", "day", "dontcare", 7, 13],
    ]
    assert delex_chars(text, spans) == "[value_id] leaves at [value_leave], arrives [value_arrive]."
    assert delex_chars("Sino in San Jose", [[None, "location", "San Jose", 8, 16]], names={}) == (
        "Sino in [value_location]"
    )
