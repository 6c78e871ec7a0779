"""Exemplars of SGD dev under opendu's rules: counts and skips from the data, templates that round-trip."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

from spec_tod.du.exemplars import (
    AnnotatedExemplar,
    ExemplarSet,
    cap_per_owner,
    extract_template,
    fill_template,
    read_exemplars,
    read_skills,
    write_exemplar_folder,
)


def test_dev_counts_and_every_skip(sgd_dev: ExemplarSet) -> None:
    assert sgd_dev.user_turns == 5964
    assert dict(sgd_dev.skipped) == {
        "known_bad_turn": 0,
        "several_intents": 0,
        "carried_over": 4181,
        "not_in_schema": 1016,
        "other_service": 58,
        "offered_intent": 112,
        "no_template": 0,
        "duplicate": 21,
        "over_cap": 249,
    }
    # every user turn is either an exemplar or skipped for exactly one reason
    assert len(sgd_dev.exemplars) + sum(sgd_dev.skipped.values()) == sgd_dev.user_turns
    assert len(sgd_dev.exemplars) == 327
    owners = Counter(e.owner for e in sgd_dev.exemplars)
    assert len(owners) == len(sgd_dev.skills) == 17
    assert max(owners.values()) == 20
    assert {o: n for o, n in owners.items() if n < 20} == {
        "buy_event_tickets": 18,
        "play_song": 15,
        "reserve_hotel": 14,
    }
    assert {skill.service for skill in sgd_dev.skills.values()} == {
        "Alarm_1",
        "Buses_1",
        "Events_1",
        "Homes_1",
        "Hotels_1",
        "Music_1",
        "RentalCars_1",
        "RideSharing_1",
        "Travel_1",
        "Weather_1",
    }


def test_exemplars_are_lowercased_unique_and_templates_round_trip(sgd_dev: ExemplarSet) -> None:
    utterances = [e.utterance for e in sgd_dev.exemplars]
    assert len(set(utterances)) == len(utterances)
    assert all(u == u.lower() for u in utterances)
    assert len({e.id for e in sgd_dev.exemplars}) == 327
    with_values = [e for e in sgd_dev.exemplars if e.arguments]
    assert (len(with_values), sum(len(v) for e in with_values for v in e.arguments.values())) == (91, 105)
    for exemplar in sgd_dev.exemplars:
        assert fill_template(exemplar.template, exemplar.arguments) == exemplar.utterance
        for slot in exemplar.arguments:
            assert f" < {slot} > " in exemplar.template
    first = sgd_dev.exemplars[3]
    assert (first.owner, first.utterance, first.template, first.arguments) == (
        "get_ride",
        "hey i need a cab for 1 to lers ros thai",
        "hey i need a cab for 1 to  < destination > ",
        {"destination": ["lers ros thai"]},
    )


def test_templates_need_each_value_exactly_once_as_a_word() -> None:
    assert extract_template("from paris to rome", {"from": ["paris"], "to": ["rome"]}) == "from  < from >  to  < to > "
    assert extract_template("paris to paris", {"city": ["paris"]}) is None  # twice
    assert extract_template("a table for $50", {"price": ["$50"]}) is None  # no word boundary before '$'
    assert extract_template("new york city", {"city": ["new york city"], "state": ["york"]}) is None  # overlap
    assert extract_template("hello", {}) == "hello"


def test_cap_keeps_a_seeded_sample_in_input_order() -> None:
    items = [AnnotatedExemplar(str(i), "a" if i % 3 else "b", f"u{i}", {}, f"u{i}") for i in range(30)]
    kept = cap_per_owner(items, 5, random.Random(42))
    assert Counter(e.owner for e in kept) == {"a": 5, "b": 5}
    assert [int(e.id) for e in kept] == sorted(int(e.id) for e in kept)
    assert kept == cap_per_owner(items, 5, random.Random(42))


def test_folder_round_trip(sgd_dev: ExemplarSet, tmp_path: Path) -> None:
    write_exemplar_folder(tmp_path, sgd_dev.exemplars, sgd_dev.skills, {"split": "dev"})
    assert read_exemplars(tmp_path) == sgd_dev.exemplars
    assert read_skills(tmp_path) == sgd_dev.skills
    manifest = json.loads((tmp_path / "exemplars.manifest.json").read_text())
    assert set(manifest["outputs"]) == {"exemplars.jsonl", "skills.json"}
