"""A scorer prepared in a standing worker gives the scores of one built here."""

from __future__ import annotations

from typing import Any

from spec_tod.data.database import VenueDatabase
from spec_tod.data.dialogue import Dialogue
from spec_tod.score import ScoreResult
from spec_tod.score.prepared import PreparedScorer


def test_prepared_scores_are_the_scorers(
    test_dialogues: list[Dialogue],
    database: VenueDatabase,
    published: dict[str, dict[str, Any]],
    published_scores: dict[str, ScoreResult],
) -> None:
    with PreparedScorer(test_dialogues, database=database) as scorer:
        for name in ("augpt", "mintl"):
            result = scorer.score(published[name], allow_subset=name == "mintl")
            assert result.model_dump(exclude={"timings"}) == published_scores[name].model_dump(exclude={"timings"})
