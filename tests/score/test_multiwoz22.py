"""Scoring against MultiWOZ 2.2 data: references and gold states from 2.2, goals and bookings from 2.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from spec_tod.data.database import VenueDatabase
from spec_tod.data.dialogue import Dialogue
from spec_tod.data.readers import load_dialogues
from spec_tod.errors import SpecTodError
from spec_tod.score import Scorer
from spec_tod.score.references import ground_truth_predictions


def test_excerpt_matches_multiwoz21(data_dir: Path, test_dialogues: list[Dialogue], database: VenueDatabase) -> None:
    excerpt = load_dialogues("multiwoz22", data_dir, "test").dialogues
    assert sorted(d.id for d in excerpt) == ["MUL0484", "PMUL3520"]
    with pytest.raises(SpecTodError, match="--goals-data-dir"):
        Scorer(excerpt, database=database)
    scorer22 = Scorer(excerpt, database=database, goal_dialogues=test_dialogues)
    scorer21 = Scorer(test_dialogues, database=database)
    for key, reference in scorer22.references.items():
        # docs/evaluation.md 8: on the test excerpts, 8.1/8.3 and 8.2/8.4 give the same references and gold states
        full = scorer21.references[key]
        assert reference.responses == full.responses[: len(reference.responses)]
        assert reference.states == full.states[: len(reference.states)]
        assert reference.goal == full.goal
    result = scorer22.score(ground_truth_predictions(excerpt))
    assert result.bleu == pytest.approx(100.0, abs=1e-9)
    assert result.dst is not None and result.dst.joint_accuracy == pytest.approx(100.0)
    assert (result.coverage.dialogues, result.coverage.turns) == (2, 2)
