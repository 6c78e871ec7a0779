"""State values, turn domains and the places the readers look for data."""

from __future__ import annotations

import shutil

import pytest

from spec_tod.data.database import VenueDatabase
from spec_tod.data.readers import find_db_dir, find_schema
from spec_tod.data.readers.domains import dialogue_domains, multiwoz_acts, turn_domain
from spec_tod.data.readers.mwz_turns import db_count
from spec_tod.data.readers.state import changed_domains, state_value
from spec_tod.errors import SpecTodError


def test_state_values():
    assert [state_value(v) for v in ("", "not mentioned", "none")] == [None, None, None]
    assert {state_value(v) for v in ("dontcare", "don't care", "dont care", "do n't care", "do not care")} == {
        "dontcare"
    }
    assert state_value("Pizza Hut") == "Pizza Hut"  # no lower-casing


def test_changed_domains():
    before = {"hotel": {"area": "north"}, "train": {"day": "monday"}}
    after = {"train": {"day": "monday"}, "hotel": {"area": "north", "stars": "4"}, "taxi": {"leaveat": "5"}}
    assert changed_domains(before, after) == ["hotel", "taxi"]
    assert changed_domains(after, {"hotel": {"area": "north"}}) == []  # removals do not count


def test_turn_domain_rule():
    acts = multiwoz_acts
    hotel = acts({"Hotel-Inform": [["Area", "north"]]})
    booking = acts({"Booking-Book": [["Ref", "X1"]]})
    bye = acts({"general-bye": [["none", "none"]]})
    train_user = acts({"Train-Inform": [["Day", "monday"]]})
    assert turn_domain(acts({"general-reqmore": [], "Hotel-Inform": []}), {}, ["train"], "taxi") == "hotel"
    assert turn_domain(booking, train_user, ["restaurant"], "hotel") == "restaurant"
    assert turn_domain(booking, train_user, [], "hotel") == "hotel"
    assert turn_domain(booking, train_user, [], "general") == "train"
    assert turn_domain(bye, train_user, ["hotel"], "taxi") == "train"
    assert turn_domain(bye, {}, ["hotel"], "taxi") == "hotel"
    assert turn_domain(bye, {}, [], "taxi") == "general"
    assert turn_domain({}, {}, [], "taxi") == "taxi"  # no annotation at all
    assert turn_domain({}, {}, [], None) == "general"
    assert hotel == {"hotel": {"inform": [("area", "north")]}}


def test_dialogue_domains():
    turns = [({}, "general"), ({"train": {"day": "x"}}, "hotel"), ({"taxi": {"a": "b"}, "train": {}}, "train")]
    assert dialogue_domains(turns) == ("train", "hotel", "taxi")


def test_find_schema(data_dir, tmp_path):
    expected = data_dir / "multiwoz22" / "schema.json"
    assert find_schema("multiwoz21", data_dir / "multiwoz21") == expected  # ../multiwoz22/schema.json
    assert find_schema("multiwoz21", data_dir) == expected  # multiwoz22/schema.json
    assert find_schema("multiwoz22", data_dir / "multiwoz22") == expected
    assert find_schema("sgd", data_dir) == data_dir / "sgd" / "dev" / "schema.json"
    assert find_schema("sgd", data_dir / "sgd", split="dev") == data_dir / "sgd" / "dev" / "schema.json"
    assert find_schema("multiwoz21", tmp_path, expected) == expected  # explicit path wins
    # The MultiWOZ repository layout: <repo>/data/MultiWOZ_2.2/schema.json.
    repo = tmp_path / "multiwoz"
    (repo / "data" / "MultiWOZ_2.2").mkdir(parents=True)
    shutil.copy(expected, repo / "data" / "MultiWOZ_2.2")
    assert find_schema("multiwoz22", repo) == repo / "data" / "MultiWOZ_2.2" / "schema.json"
    with pytest.raises(SpecTodError, match=r"looked at .*/schema\.json"):
        find_schema("multiwoz21", tmp_path / "empty")
    with pytest.raises(SpecTodError, match="not found"):
        find_schema("multiwoz21", data_dir, tmp_path / "nothing.json")


def test_find_db_dir(data_dir, tmp_path):
    assert find_db_dir(data_dir) == data_dir / "multiwoz_db"
    assert find_db_dir(data_dir / "multiwoz21") == data_dir / "multiwoz_db"
    repo_db = tmp_path / "multiwoz" / "db"
    repo_db.mkdir(parents=True)
    shutil.copy(data_dir / "multiwoz_db" / "restaurant_db.json", repo_db)
    assert find_db_dir(tmp_path / "multiwoz" / "data" / "MultiWOZ_2.2") == repo_db
    with pytest.raises(SpecTodError, match="looked at"):
        find_db_dir(tmp_path / "elsewhere")


def test_reused_counts_equal_fresh_queries(data_dir, mwz21_test):
    # The turn builder reuses a count while the domain's state stays the same: the same numbers as
    # asking a fresh database every turn.
    db = VenueDatabase.load(data_dir / "multiwoz_db")
    turns = [turn for dialogue in mwz21_test.dialogues for turn in dialogue.turns]
    assert [turn.db_count for turn in turns] == [db_count(db, turn.turn_domain, turn.belief_state) for turn in turns]
