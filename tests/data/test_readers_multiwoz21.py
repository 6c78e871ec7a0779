"""The MultiWOZ 2.1 reader on the shipped test and validation files."""

from __future__ import annotations

import json
import shutil
import warnings
from collections import Counter
from pathlib import Path

import pytest

from spec_tod.data.readers import load_database, load_dialogues
from spec_tod.errors import SpecTodError

DOMAINS = {"restaurant", "hotel", "attraction", "train", "taxi", "hospital", "police", "general"}


def test_split_sizes(mwz21_test, mwz21_dev):
    # Figures from shared/data/README.md.
    assert len(mwz21_test.dialogues) == 1000
    assert sum(len(d.turns) for d in mwz21_test.dialogues) == 7372
    assert len(mwz21_dev.dialogues) == 999
    assert sum(len(d.turns) for d in mwz21_dev.dialogues) == 7365
    assert "PMUL4707" not in {d.id for d in mwz21_dev.dialogues}
    assert mwz21_test.skipped == [] and mwz21_dev.skipped == []


def test_ids_keep_case_and_match_the_list_file(mwz21_test, data_dir):
    ids = [d.id for d in mwz21_test.dialogues]
    listed = (data_dir / "multiwoz21" / "testListFile").read_text().split()
    assert sorted(ids) == sorted(listed)
    prefixes = Counter(dialogue_id.rstrip("0123456789") for dialogue_id in ids)
    assert prefixes == {"SNG": 223, "MUL": 349, "PMUL": 428}


def test_files_read(mwz21_test, data_dir):
    names = [path.name for path in mwz21_test.files]
    assert names[0] == "test.json.zip"
    assert "schema.json" in names
    assert {"restaurant_db.json", "hotel_db.json", "attraction_db.json", "train_db.json"} <= set(names)
    assert all(path.is_file() for path in mwz21_test.files)


def test_booked_domains_reproduce_the_evaluator_file(mwz21_test, mwz21_dev, data_dir):
    booked = json.loads((data_dir / "mwz_eval" / "booked_domains.json").read_text())
    for dialogue in mwz21_test.dialogues + mwz21_dev.dialogues:
        assert [list(turn.booked_domains) for turn in dialogue.turns] == booked[dialogue.id.lower()], dialogue.id


def test_hand_checked_taxi_dialogue(mwz21_test):
    dialogue = next(d for d in mwz21_test.dialogues if d.id == "SNG0073")
    assert dialogue.domains == ("taxi",)
    assert dialogue.goal["taxi"]["info"]["leaveAt"] == "17:15"
    first, second, third, last = dialogue.turns
    assert first.user == "I would like a taxi from Saint John 's college to Pizza Hut Fen Ditton ."
    assert first.belief_state == {"taxi": {"destination": "pizza hut fenditton", "departure": "saint johns college"}}
    assert first.system_acts == {"taxi": {"request": [("leave", "?"), ("arrive", "?")]}}
    # Spans [Car 'blue honda' words 7-8] and [Phone words 12-12].
    assert second.system == "Booking completed ! your taxi will be blue honda Contact number is 07218068540"
    assert second.system_delex == "Booking completed ! your taxi will be [value_car] Contact number is [value_phone]"
    # arriveBy is 'not mentioned' and is left out; leaveAt becomes leaveat.
    assert second.belief_state == {
        "taxi": {"leaveat": "17:15", "destination": "pizza hut fenditton", "departure": "saint johns college"}
    }
    # The taxi is booked (book.booked is non-empty) but taxi never counts as a booked domain.
    assert second.booked_domains == ()
    # "You are welcome .   Is there ..." has no spans: whitespace is normalised only.
    assert third.system_delex == "You are welcome . Is there anything else I can help you with today ?"
    assert [turn.turn_domain for turn in dialogue.turns] == ["taxi", "taxi", "general", "general"]
    assert [turn.index for turn in dialogue.turns] == [0, 1, 2, 3]
    assert all(turn.db_count is None for turn in dialogue.turns)  # taxi has no venue table
    assert last.system == "you too ! thank you"


def test_db_count_matches_what_the_system_says(mwz21_test, mwz21_dev):
    # MUL0484: "I have 133 trains matching your request"; SNG0771: 2 cheap guesthouses, 1 moderate
    # and 1 expensive hotel in the south with internet.
    dialogues = {d.id: d for d in mwz21_test.dialogues + mwz21_dev.dialogues}
    assert dialogues["MUL0484"].turns[0].system.startswith("I have 133 trains")
    assert dialogues["MUL0484"].turns[0].db_count == 133
    assert dialogues["SNG0771"].turns[0].db_count == 4


def test_db_count_only_for_database_domains_with_a_state(mwz21_test):
    for dialogue in mwz21_test.dialogues:
        for turn in dialogue.turns:
            counted = turn.turn_domain in {"restaurant", "hotel", "attraction", "train"} and (
                turn.turn_domain in turn.belief_state
            )
            assert (turn.db_count is not None) == counted


def test_belief_states(mwz21_test, mwz21_dev):
    values = Counter()
    for dialogue in mwz21_test.dialogues + mwz21_dev.dialogues:
        for turn in dialogue.turns:
            assert "bus" not in turn.belief_state  # always empty in these files
            for domain, slots in turn.belief_state.items():
                assert slots, domain
                assert set(slots) <= {
                    "area", "pricerange", "food", "name", "type", "parking", "internet", "stars", "department",
                    "leaveat", "arriveby", "destination", "departure", "day",
                    "bookday", "bookpeople", "bookstay", "booktime",
                }  # fmt: skip
                values.update(slots.values())
    assert not {"", "not mentioned", "none", "don't care", "dont care", "do n't care"} & set(values)
    assert values["dontcare"] > 0


def test_delex_of_turns_without_spans_is_the_text(mwz21_test, mwz21_test_raw):
    without_spans = 0
    for dialogue in mwz21_test.dialogues:
        log = mwz21_test_raw[dialogue.id]["log"]
        for turn in dialogue.turns:
            system = log[2 * turn.index + 1]
            assert turn.system == system["text"]
            if not system["span_info"]:
                without_spans += 1
                assert turn.system_delex == " ".join(system["text"].split())
    assert without_spans == 2592  # shared/data/README.md


def test_turn_domains_and_dialogue_domains(mwz21_test):
    for dialogue in mwz21_test.dialogues:
        assert {turn.turn_domain for turn in dialogue.turns} <= DOMAINS
        touched = {turn.turn_domain for turn in dialogue.turns} | {d for t in dialogue.turns for d in t.belief_state}
        assert set(dialogue.domains) == touched - {"general"}




def _write(folder: Path, name: str, data: object) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(data))


def test_original_data_json_layout(tmp_path, mwz21_test_raw, mwz21_test):
    # data.json keys carry .json; train is everything in neither list file.
    ids = list(mwz21_test_raw)[:5]
    data = {f"{key}.json": mwz21_test_raw[key] for key in ids}
    _write(tmp_path, "data.json", data)
    (tmp_path / "testListFile.txt").write_text("".join(f"{key}.json\n" for key in ids[:2]))
    (tmp_path / "valListFile.txt").write_text(f"{ids[2]}.json\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no venue database beside tmp_path
        splits = {split: load_dialogues("multiwoz21", tmp_path, split) for split in ("train", "dev", "test")}
    assert [d.id for d in splits["test"].dialogues] == ids[:2]
    assert [d.id for d in splits["dev"].dialogues] == ids[2:3]
    assert [d.id for d in splits["train"].dialogues] == ids[3:]
    assert [path.name for path in splits["train"].files] == ["data.json", "testListFile.txt", "valListFile.txt"]
    reference = {d.id: d for d in mwz21_test.dialogues}
    for dialogue in splits["test"].dialogues:
        expected = reference[dialogue.id]
        assert [t.system_delex for t in dialogue.turns] == [t.system_delex for t in expected.turns]
        assert [t.belief_state for t in dialogue.turns] == [t.belief_state for t in expected.turns]
        assert all(turn.db_count is None for turn in dialogue.turns)


def test_without_a_database_db_count_is_none_with_a_warning(tmp_path, mwz21_test_raw):
    _write(tmp_path / "corpus", "test.json", {"MUL0484": mwz21_test_raw["MUL0484"]})
    with pytest.warns(UserWarning, match="db_count stays None"):
        result = load_dialogues("multiwoz21", tmp_path / "corpus", "test")
    assert result.dialogues[0].turns[0].db_count is None


def test_explicit_database_folder(tmp_path, mwz21_test_raw, data_dir):
    _write(tmp_path / "corpus", "test.json", {"MUL0484": mwz21_test_raw["MUL0484"]})
    result = load_dialogues("multiwoz21", tmp_path / "corpus", "test", db_dir=data_dir / "multiwoz_db")
    assert result.dialogues[0].turns[0].db_count == 133
    with pytest.raises(SpecTodError, match="database folder"):
        load_dialogues("multiwoz21", tmp_path / "corpus", "test", db_dir=tmp_path / "nowhere")


def test_a_venue_table_nested_too_deeply_is_named(tmp_path, data_dir):
    shutil.copytree(data_dir / "multiwoz_db", tmp_path / "db")
    (tmp_path / "db" / "restaurant_db.json").write_text("[" * 100_000 + "]" * 100_000)  # deeper than the decoder goes
    with pytest.raises(SpecTodError, match=r"restaurant_db\.json: cannot read the restaurant venue table"):
        load_database(tmp_path / "db")


def test_missing_folder_and_split(tmp_path, data_dir):
    with pytest.raises(SpecTodError, match="does not exist"):
        load_dialogues("multiwoz21", tmp_path / "missing", "test")
    with pytest.raises(SpecTodError, match="no train split"):
        load_dialogues("multiwoz21", data_dir, "train")
    with pytest.raises(SpecTodError, match="unknown split"):
        load_dialogues("multiwoz21", data_dir, "validation")
    with pytest.raises(SpecTodError, match="unknown dataset"):
        load_dialogues("multiwoz20", data_dir, "test")


def test_malformed_json(tmp_path, data_dir):
    shutil.copy(data_dir / "multiwoz21" / "testListFile", tmp_path)
    (tmp_path / "test.json").write_text('{"SNG0073": {"log": [')
    with pytest.raises(SpecTodError, match=r"test\.json: malformed JSON"):
        load_dialogues("multiwoz21", tmp_path, "test", db_dir=data_dir / "multiwoz_db")
    (tmp_path / "test.json").write_text('{"SNG0073": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(SpecTodError, match=r"test\.json: malformed JSON \(nested deeper"):
        load_dialogues("multiwoz21", tmp_path, "test", db_dir=data_dir / "multiwoz_db")


def test_progress_counts_every_dialogue(tmp_path, mwz21_test_raw, data_dir):
    _write(tmp_path, "test.json", {key: mwz21_test_raw[key] for key in ("SNG0073", "MUL0484", "PMUL3520")})
    seen: list[int] = []
    load_dialogues("multiwoz21", tmp_path, "test", db_dir=data_dir / "multiwoz_db", progress=seen.append)
    assert sum(seen) == 3


def test_invalid_dialogue_names_file_and_id(tmp_path, mwz21_test_raw, data_dir):
    data = {key: mwz21_test_raw[key] for key in ("SNG0073", "MUL0484", "PMUL3520", "SNG0095")}
    data["MUL0484"] = {"goal": data["MUL0484"]["goal"]}  # no log
    data["PMUL3520"] = {"log": data["PMUL3520"]["log"][:-1]}  # user turn without a system turn
    log = json.loads(json.dumps(data["SNG0095"]["log"]))
    del log[3]["metadata"]["hotel"]["semi"]
    data["SNG0095"] = {"log": log}
    _write(tmp_path, "test.json", data)
    with pytest.raises(SpecTodError) as error:
        load_dialogues("multiwoz21", tmp_path, "test", db_dir=data_dir / "multiwoz_db")
    message = str(error.value)
    assert str(tmp_path / "test.json") in message and "'MUL0484'" in message and "'log'" in message
    result = load_dialogues("multiwoz21", tmp_path, "test", db_dir=data_dir / "multiwoz_db", skip_invalid=True)
    assert [d.id for d in result.dialogues] == ["SNG0073"]
    assert [dialogue_id for dialogue_id, _ in result.skipped] == ["MUL0484", "PMUL3520", "SNG0095"]
    assert "even" in result.skipped[1][1]
    assert result.skipped[2][1] == "log entry 3 (system): every metadata domain needs 'semi' and 'book' objects"
