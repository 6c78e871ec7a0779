"""A scorer prepared in a standing worker gives the scores of one built here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from spec_tod.data.database import VenueDatabase
from spec_tod.data.dialogue import Dialogue
from spec_tod.score import ScoreResult
from spec_tod.score.prepared import PreparedScorer


@pytest.fixture()
def prepared(test_dialogues: list[Dialogue], database: VenueDatabase) -> Iterator[PreparedScorer]:
    with PreparedScorer(test_dialogues, database=database) as scorer:
        yield scorer


def test_prepared_scores_are_the_scorers(
    prepared: PreparedScorer, published: dict[str, dict[str, Any]], published_scores: dict[str, ScoreResult]
) -> None:
    for name in ("augpt", "mintl"):
        document = prepared.score_json_later(published[name], allow_subset=name == "mintl")()
        assert document == published_scores[name].to_json_dict()


def _normalised_here() -> int:
    from spec_tod.data import normalize

    return len(normalize._RESPONSES)


def test_responses_noted_during_a_run_are_normalised_in_the_worker_and_score_the_same(
    prepared: PreparedScorer, published: dict[str, dict[str, Any]], published_scores: dict[str, ScoreResult]
) -> None:
    before = prepared._worker.call(_normalised_here)
    for i in range(600):  # two whole batches of 256 go to the worker; 88 wait for the scoring
        prepared.note_response(f"zq unseen response {i} for the [value_name] .")
    assert prepared._worker.call(_normalised_here) - before == 2 * prepared.batch
    for turns in published["augpt"].values():
        for turn in turns:
            prepared.note_response(turn["response"])
    assert prepared.score_json_later(published["augpt"])() == published_scores["augpt"].to_json_dict()
