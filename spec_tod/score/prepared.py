"""A scorer made ready in a standing worker while the caller does something else (a bench run's loop).

Scoring at the end of a bench run first pays for imports (the scorer's modules and pydantic), for
the references of the dialogues run and for their BLEU statistics (n-gram counts).
None of that depends on the answers, so it is done in a worker process on another core while the
loop waits on the server; so is the normalisation of the responses already answered (Moses, most of
the scoring's time), batch by batch as the run goes; the scoring itself then runs in that worker
(docs/speed.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from spec_tod.data.background import StandingWorker
from spec_tod.data.database import VenueDatabase
from spec_tod.data.dialogue import Dialogue
from spec_tod.data.normalize import normalise_response

if TYPE_CHECKING:
    from spec_tod.score.evaluate import Scorer

_SCORER: list[Scorer] = []
"""The scorer the set-up built, in the process that runs the set-up (the worker, else this one)."""


def _set_up(dialogues: Sequence[Dialogue], database: VenueDatabase, goal_dialogues: Sequence[Dialogue] | None) -> None:
    # The slow imports, done before the answers arrive.
    import spec_tod.data.moses  # noqa: F401
    from spec_tod.score.evaluate import Scorer

    scorer = Scorer(dialogues, database=database, goal_dialogues=goal_dialogues)
    scorer.bleu_index()  # BLEU's statistics of every reference turn, here: the scoring at the end then counts none
    _SCORER[:] = [scorer]


def _score_json(predictions: Mapping[str, Any], allow_subset: bool) -> dict[str, Any]:
    return _SCORER[0].score(predictions, allow_subset=allow_subset).to_json_dict()


def _normalise_ahead(responses: list[str]) -> None:
    for response in responses:
        normalise_response(response)  # kept by text in this process: the scoring finds them done


class PreparedScorer:
    """Starts preparing a :class:`Scorer` of ``dialogues`` now; :meth:`score` uses it when asked."""

    batch = 256
    """Responses sent to the worker at a time by :meth:`note_response`."""

    def __init__(
        self,
        dialogues: Sequence[Dialogue],
        *,
        database: VenueDatabase,
        goal_dialogues: Sequence[Dialogue] | None = None,
    ) -> None:
        self._worker = StandingWorker(_set_up, list(dialogues), database, goal_dialogues)
        self._responses: list[str] = []

    def note_response(self, response: str) -> None:
        """A response of the run, normalised in the worker (by batches of :attr:`batch`) while the run goes
        on, so that the scoring at the end finds most responses done. Nothing is done here."""
        self._responses.append(response)
        if len(self._responses) >= self.batch:
            self._worker.submit(_normalise_ahead, self._responses)  # its result is the worker's cache
            self._responses = []

    def score_json_later(self, predictions: Mapping[str, Any], *, allow_subset: bool = False) -> Callable[[], dict[str, Any]]:
        """:meth:`Scorer.score` of ``predictions``, started in the worker now; call the returned function for
        the scores as ``ScoreResult.to_json_dict()`` gives them (the caller writes its other outputs meanwhile).

        A plain document crosses the pipe, so this process never imports the result's pydantic models
        (20-30 ms of a bench command's start, whose scoring is all done in the worker).
        """
        return self._worker.submit(_score_json, dict(predictions), allow_subset)

    def close(self) -> None:
        self._worker.close()

    def __enter__(self) -> PreparedScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
