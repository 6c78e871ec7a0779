"""The dataset scored as its own prediction: the references and gold states match themselves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spec_tod.data.dialogue import Dialogue
from spec_tod.score import Scorer
from spec_tod.score.references import build_references, ground_truth_predictions, load_booked_domains


def test_ground_truth_scores_100(scorer: Scorer, test_dialogues: list[Dialogue]) -> None:
    truth = ground_truth_predictions(test_dialogues)
    assert len(truth) == 1000 and sum(len(turns) for turns in truth.values()) == 7372
    result = scorer.score(json.loads(json.dumps(truth)))
    assert result.bleu == pytest.approx(100.0, abs=1e-9)
    assert result.dst is not None
    assert result.dst.joint_accuracy == 100 * 7372 / (7372 + 1e-10)
    assert round(result.dst.slot_f1, 6) == 100.0
    assert set(result.dst.joint_accuracy_by_domain.values()) == {100.0}
    assert (result.states, result.active_domains) == ("predicted", "estimated")


def test_booked_domains_derived_from_the_dataset(data_dir: Path, test_dialogues: list[Dialogue]) -> None:
    """The dataset's booking records reproduce the evaluator's booked_domains.json on every test turn."""
    shipped = load_booked_domains(data_dir / "mwz_eval" / "booked_domains.json")
    derived = build_references(test_dialogues)
    assert sum(len(reference.booked) for reference in derived.values()) == 7372
    assert {key: [list(turn) for turn in reference.booked] for key, reference in derived.items()} == {
        key: shipped[key] for key in derived
    }


def test_goals_rebuilt(scorer: Scorer) -> None:
    references = scorer.references
    assert scorer.total_by_domain == {"attraction": 396, "hotel": 394, "restaurant": 437, "taxi": 195, "train": 495}
    taxi = references["sng0073"].goal["taxi"]
    assert taxi.informable == {"leave": "17:15", "destination": "pizza hut fen ditton", "departure": "saint john's college"}
    assert taxi.requestable == {"PHONE"}
    train_goals = [reference.goal["train"] for reference in references.values() if "train" in reference.goal]
    assert all(goal.requestable <= {"REFERENCE", "TRAINID"} for goal in train_goals)
    assert sum("REFERENCE" in goal.requestable for goal in train_goals) == 252
