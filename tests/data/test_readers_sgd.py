"""The SGD reader on the shipped part of the dev split."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest

from spec_tod.data.readers import load_dialogues
from spec_tod.data.schema import load_schema
from spec_tod.errors import SpecTodError


def test_sizes(sgd_dev, data_dir):
    # shared/data/README.md: 836 dialogues, 11,928 turns (user and system) = 5,964 pairs.
    assert len(sgd_dev.dialogues) == 836
    assert sum(len(d.turns) for d in sgd_dev.dialogues) == 11928 // 2
    assert sgd_dev.dialogues[0].id == "1_00000" and sgd_dev.dialogues[-1].id == "7_00067"
    assert sgd_dev.files[0] == data_dir / "sgd" / "dev" / "schema.json"
    assert len(sgd_dev.files) == 8


def test_services_cover_the_schema(sgd_dev, data_dir):
    schema = load_schema(data_dir / "sgd" / "dev" / "schema.json")
    used = {service for dialogue in sgd_dev.dialogues for service in dialogue.services}
    assert used == set(schema) and len(used) == 17
    assert all(len(d.services) == 1 for d in sgd_dev.dialogues)  # the shipped files are single-service
    per_file = Counter(d.source.rsplit("/", 1)[-1] for d in sgd_dev.dialogues)
    assert per_file["dialogues_001.json"] == 128 and per_file["dialogues_007.json"] == 68


def test_domains_are_services(sgd_dev):
    for dialogue in sgd_dev.dialogues:
        assert dialogue.domains == dialogue.services
        for turn in dialogue.turns:
            assert turn.turn_domain == dialogue.services[0]
            assert set(turn.belief_state) <= set(dialogue.services)
            assert turn.db_count is None and turn.booked_domains == ()


def test_first_dialogue(sgd_dev):
    first, second = sgd_dev.dialogues[0].turns[:2]
    assert first.user == "I want to make a restaurant reservation for 2 people at half past 11 in the morning."
    assert first.belief_state == {"Restaurants_2": {"number_of_seats": "2", "time": "half past 11 in the morning"}}
    assert first.system_acts == {"Restaurants_2": {"request": [("restaurant_name", ""), ("location", "")]}}
    assert first.system_delex == first.system  # no spans
    assert second.system_delex == (
        "Confirming: I will reserve a table for 2 people at [value_restaurant_name] in [value_location]. "
        "The reservation time is [value_time] [value_date]."
    )
    assert second.belief_state["Restaurants_2"]["restaurant_name"] == "Sino"


def test_dontcare_values_are_kept(sgd_dev):
    values = Counter(v for d in sgd_dev.dialogues for t in d.turns for s in t.belief_state.values() for v in s.values())
    assert values["dontcare"] > 0


def test_unknown_service_is_invalid(tmp_path, data_dir):
    source = data_dir / "sgd" / "dev"
    split = tmp_path / "sgd" / "dev"
    split.mkdir(parents=True)
    shutil.copy(source / "schema.json", split)
    dialogues = json.loads((source / "dialogues_007.json").read_text())[:2]
    dialogues[1]["services"] = ["Spaceships_1"]
    (split / "dialogues_001.json").write_text(json.dumps(dialogues))
    with pytest.raises(SpecTodError, match=r"dialogue '7_00001': services \['Spaceships_1'\] are not in the schema"):
        load_dialogues("sgd", tmp_path, "dev")
    result = load_dialogues("sgd", tmp_path / "sgd", "dev", skip_invalid=True)
    assert [d.id for d in result.dialogues] == ["7_00000"]
    assert result.skipped[0][0] == "7_00001"


def test_missing_split(data_dir):
    with pytest.raises(SpecTodError, match="split folder not found"):
        load_dialogues("sgd", data_dir, "train")
