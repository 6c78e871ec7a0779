"""Service schemas: MultiWOZ 2.2 and SGD."""

from __future__ import annotations

import pytest

from spec_tod.data.schema import load_schema
from spec_tod.errors import SpecTodError


def test_multiwoz22_schema(data_dir):
    schema = load_schema(data_dir / "multiwoz22" / "schema.json")
    # shared/data/README.md: 8 services, 61 slots, 11 intents.
    assert list(schema) == ["hotel", "train", "attraction", "restaurant", "hospital", "taxi", "bus", "police"]
    assert sum(len(service.slots) for service in schema.values()) == 61
    assert sum(len(service.intents) for service in schema.values()) == 11
    hotel = schema["hotel"]
    assert hotel.description == "hotel reservations and vacation stays"
    parking = next(slot for slot in hotel.slots if slot.name == "hotel-parking")
    assert parking.short_name == "parking"
    assert parking.is_categorical and parking.possible_values == ("free", "no", "yes")
    assert [intent.name for intent in hotel.intents] == ["find_hotel", "book_hotel"]
    assert hotel.intents[0].required_slots == ()


def test_multiwoz22_informable_slots(data_dir):
    """The parameters Spec-TOD gives its functions: the slots MultiWOZ tracks in its states."""
    schema = load_schema(data_dir / "multiwoz22" / "schema.json")
    informable = {name: {s.short_name for s in service.slots if s.is_informable} for name, service in schema.items()}
    assert informable["restaurant"] == {"pricerange", "area", "food", "name", "bookday", "bookpeople", "booktime"}
    assert informable["train"] == {"arriveby", "departure", "day", "bookpeople", "leaveat", "destination"}
    assert informable["attraction"] == {"area", "name", "type"}
    assert informable["taxi"] == {"leaveat", "destination", "departure", "arriveby"}
    assert len(informable["hotel"]) == 10 and "ref" not in informable["hotel"]
    assert informable["police"] == set()


def test_informable_slots_are_the_state_slots(data_dir, mwz21_test):
    # Every slot the 2.1 test states use is informable in the 2.2 schema, and vice versa for the
    # five Spec-TOD domains.
    schema = load_schema(data_dir / "multiwoz22" / "schema.json")
    used: dict[str, set[str]] = {}
    for dialogue in mwz21_test.dialogues:
        for turn in dialogue.turns:
            for domain, slots in turn.belief_state.items():
                used.setdefault(domain, set()).update(slots)
    for domain in ("restaurant", "hotel", "attraction", "train", "taxi"):
        assert used[domain] == {s.short_name for s in schema[domain].slots if s.is_informable}, domain


def test_sgd_schema(data_dir):
    schema = load_schema(data_dir / "sgd" / "dev" / "schema.json")
    assert len(schema) == 17
    alarm = schema["Alarm_1"]
    assert [slot.name for slot in alarm.slots][:2] == ["alarm_time", "alarm_name"]
    assert all(slot.is_informable for service in schema.values() for slot in service.slots)
    add_alarm = alarm.intents[1]
    assert (add_alarm.name, add_alarm.is_transactional) == ("AddAlarm", True)
    assert add_alarm.required_slots == ("new_alarm_time",) and add_alarm.optional_slots == ("new_alarm_name",)


def test_bad_schema_files(tmp_path):
    with pytest.raises(SpecTodError, match="not found"):
        load_schema(tmp_path / "schema.json")
    (tmp_path / "schema.json").write_text('{"services": []}')
    with pytest.raises(SpecTodError, match="expected a JSON list of services"):
        load_schema(tmp_path / "schema.json")
    (tmp_path / "schema.json").write_text('[{"service_name": "x", "slots": [{"description": "no name"}]}]')
    with pytest.raises(SpecTodError, match="service 'x': malformed slot"):
        load_schema(tmp_path / "schema.json")
    (tmp_path / "schema.json").write_text("[{")
    with pytest.raises(SpecTodError, match="not a readable JSON"):
        load_schema(tmp_path / "schema.json")
    (tmp_path / "schema.json").write_text("[" * 100_000 + "]" * 100_000)  # deeper than the decoder goes
    with pytest.raises(SpecTodError, match="not a readable JSON"):
        load_schema(tmp_path / "schema.json")
