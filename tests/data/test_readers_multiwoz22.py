"""The MultiWOZ 2.2 reader on the shipped two-turn excerpts, checked against the 2.1 reader."""

from __future__ import annotations

import json
import shutil

import pytest

from spec_tod.data.normalize import normalise_response
from spec_tod.data.readers import load_dialogues
from spec_tod.errors import SpecTodError


@pytest.fixture(scope="module")
def excerpts(data_dir):
    return {split: load_dialogues("multiwoz22", data_dir, split) for split in ("train", "dev", "test")}


def test_excerpt_sizes_and_ids(excerpts, data_dir):
    assert [d.id for d in excerpts["test"].dialogues] == ["MUL0484", "PMUL3520"]
    assert [d.id for d in excerpts["dev"].dialogues] == ["PMUL0698", "SNG0771"]
    assert len(excerpts["train"].dialogues) == 17
    for result in excerpts.values():
        assert all(len(d.turns) == 1 for d in result.dialogues)  # cut to two turns: one user, one system
        assert data_dir / "multiwoz22" / "dialog_acts.json" in result.files
    names = [path.name for path in excerpts["test"].files]
    assert names[:2] == ["dialogues_001.json", "dialogues_002.json"]


def test_first_test_dialogue(excerpts):
    turn = excerpts["test"].dialogues[0].turns[0]
    assert turn.user == "I need train reservations from norwich to cambridge"
    assert turn.system_delex == (
        "I have [value_choice] trains matching your request. Is there a specific day and time you would like to travel?"
    )
    assert turn.belief_state == {"train": {"departure": "norwich", "destination": "cambridge"}}
    assert turn.system_acts == {"train": {"inform": [("choice", "133")], "request": [("leaveat", "?"), ("day", "?")]}}
    assert turn.turn_domain == "train"
    assert turn.db_count == 133  # "I have 133 trains"
    assert turn.booked_domains == ()


def test_agrees_with_multiwoz21_on_the_dev_and_test_excerpts(excerpts, mwz21_test, mwz21_dev):
    """docs/evaluation.md section 8: on these four dialogues the 2.2 procedures (8.1, 8.3) and the 2.1
    approximations (8.2, 8.4) give the same references and gold states."""
    reference = {d.id: d for d in mwz21_test.dialogues + mwz21_dev.dialogues}
    for dialogue in excerpts["test"].dialogues + excerpts["dev"].dialogues:
        new, old = dialogue.turns[0], reference[dialogue.id].turns[0]
        # 2.1 text is tokenised ("request ."), 2.2 is not: equal up to spacing, and equal once normalised.
        assert new.system_delex.split() != old.system_delex.split()
        assert "".join(new.system_delex.split()) == "".join(old.system_delex.split())
        assert normalise_response(new.system_delex) == normalise_response(old.system_delex)
        assert new.belief_state == old.belief_state
        assert (new.turn_domain, new.db_count) == (old.turn_domain, old.db_count)


def test_missing_dialog_acts(tmp_path, data_dir):
    shutil.copytree(data_dir / "multiwoz22" / "test", tmp_path / "multiwoz22" / "test")
    with pytest.raises(SpecTodError, match="dialog_acts.json"):
        load_dialogues("multiwoz22", tmp_path, "test")


def test_invalid_dialogue(tmp_path, data_dir):
    source = data_dir / "multiwoz22"
    shutil.copy(source / "dialog_acts.json", tmp_path)
    (tmp_path / "test").mkdir()
    dialogues = json.loads((source / "test" / "dialogues_001.json").read_text())
    dialogues.append({"dialogue_id": "BAD0001.json", "services": []})
    (tmp_path / "test" / "dialogues_001.json").write_text(json.dumps(dialogues))
    with pytest.raises(SpecTodError, match=r"dialogues_001\.json: dialogue 'BAD0001': expected a non-empty 'turns'"):
        load_dialogues("multiwoz22", tmp_path, "test", db_dir=data_dir / "multiwoz_db")
    result = load_dialogues("multiwoz22", tmp_path, "test", db_dir=data_dir / "multiwoz_db", skip_invalid=True)
    assert [d.id for d in result.dialogues] == ["MUL0484"]
    assert [dialogue_id for dialogue_id, _ in result.skipped] == ["BAD0001"]
