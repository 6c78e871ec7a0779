"""A scorer made ready in a standing worker while the caller does something else (a bench run's loop).

Scoring at the end of a bench run first pays for imports (sacremoses' tokenizer compiles its regular
expressions on import, about a quarter of a second) and for the references of the dialogues run.
None of that depends on the answers, so it is done in a worker process on another core while the
loop waits on the server; the scoring itself then runs in that worker (docs/speed.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from spec_tod.data.background import StandingWorker
from spec_tod.data.database import VenueDatabase
from spec_tod.data.dialogue import Dialogue
from spec_tod.score.evaluate import Scorer
from spec_tod.score.result import ScoreResult

_SCORER: list[Scorer] = []
"""The scorer the set-up built, in the process that runs the set-up (the worker, else this one)."""


def _set_up(dialogues: Sequence[Dialogue], database: VenueDatabase, goal_dialogues: Sequence[Dialogue] | None) -> None:
    # The slow imports, done before the answers arrive (the BLEU worker forked later inherits sacrebleu).
    import sacrebleu.metrics.bleu  # noqa: F401

    import spec_tod.data.moses  # noqa: F401

    _SCORER[:] = [Scorer(dialogues, database=database, goal_dialogues=goal_dialogues)]


def _score(predictions: Mapping[str, Any], allow_subset: bool) -> ScoreResult:
    return _SCORER[0].score(predictions, allow_subset=allow_subset)


class PreparedScorer:
    """Starts preparing a :class:`Scorer` of ``dialogues`` now; :meth:`score` uses it when asked."""

    def __init__(
        self,
        dialogues: Sequence[Dialogue],
        *,
        database: VenueDatabase,
        goal_dialogues: Sequence[Dialogue] | None = None,
    ) -> None:
        self._worker = StandingWorker(_set_up, list(dialogues), database, goal_dialogues)

    def score(self, predictions: Mapping[str, Any], *, allow_subset: bool = False) -> ScoreResult:
        """:meth:`Scorer.score` of ``predictions``, run in the worker."""
        return self._worker.call(_score, dict(predictions), allow_subset)

    def close(self) -> None:
        self._worker.close()

    def __enter__(self) -> PreparedScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
