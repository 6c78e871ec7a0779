"""The venue database and the evaluator's query semantics (docs/evaluation.md, section 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spec_tod.data.database import VenueDatabase
from spec_tod.errors import SpecTodError


@pytest.fixture(scope="module")
def db(data_dir: Path) -> VenueDatabase:
    return VenueDatabase.load(data_dir / "multiwoz_db")


def test_tables_and_sizes(db: VenueDatabase) -> None:
    assert [len(db.query(domain, {})) for domain in ("restaurant", "attraction", "hotel", "train")] == [110, 79, 33, 2828]
    assert db.has_table("train") and not db.has_table("taxi")
    assert db.query("taxi", {"leaveat": "10:00"}) == []
    assert db.query("police", {}) == []


def test_value_correction_and_entity(db: VenueDatabase) -> None:
    assert db.query("attraction", {"type": "multiple sports"}) == ["68"]
    assert db.query("attraction", {"type": "mutliple sports"}) == ["68"]  # normalised by the type table
    record = db.entity("attraction", "68")
    assert record["name"] == "the cherry hinton village centre" and "openhours" in record
    assert db.entity("train", "TR7075")["arriveBy"] == "05:51"
    with pytest.raises(KeyError):
        db.entity("train", "TR0000")


def test_time_constraints_any_spelling(db: VenueDatabase) -> None:
    base = {"departure": "cambridge", "destination": "london kings cross", "day": "monday"}
    arriving = [db.query("train", {**base, name: "10:00"}) for name in ("arrive", "arriveby", "arriveBy", "arrive by")]
    assert arriving[0] == ["TR7075", "TR2289", "TR7409"]
    assert all(result == arriving[0] for result in arriving)
    leaving = db.query("train", {**base, "leaveAt": "by 21:00"})
    assert leaving == db.query("train", {**base, "leave at": "21:00"})
    assert all(db.entity("train", train)["leaveAt"] >= "21:00" for train in leaving) and leaving
    # an unparsable arrival time is 0 minutes: no train arrives by then
    assert db.query("train", {**base, "arriveby": "whenever"}) == []


def test_fuzzy_exact_and_ignored(db: VenueDatabase) -> None:
    assert db.query("restaurant", {"food": "italian", "area": "centre", "pricerange": "cheap"}) == ["19210", "19229", "29652"]
    assert db.query("restaurant", {"area": "Centre"}) == []  # exact columns are case-sensitive
    assert db.query("hotel", {"name": "acorn house"}) == ["1"]  # name table, then partial_ratio >= 90
    assert db.query("hotel", {"area": "dontcare", "bookday": "monday"}) == db.query("hotel", {})
    # records with unknown values ('?') are never excluded
    unknown_fee = [v for v in db.query("attraction", {}) if db.entity("attraction", v)["entrance fee"] == "?"]
    assert set(unknown_fee) <= set(db.query("attraction", {"entrancefee": "5 pounds"}))


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(SpecTodError, match="restaurant_db.json"):
        VenueDatabase.load(tmp_path)
