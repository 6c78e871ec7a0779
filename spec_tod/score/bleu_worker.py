"""BLEU in a worker forked at a command's start, which reads the references' statistics meanwhile.

``spec-tod score`` spends its first tenth of a second importing and reading its inputs in one
process, while the other core has little to do. A worker forked then (:func:`standing_bleu`) reads
the references' BLEU statistics from the cache in that time; the scorer later hands it the
normalised responses (:func:`bleu_later`) instead of forking a worker that would read them only then,
beside the rest of the scoring (docs/speed.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from spec_tod.data.background import StandingWorker

if TYPE_CHECKING:
    from spec_tod.score.bleu import ReferenceIndex

_STANDING: list[StandingWorker] = []
_INDEX: list[ReferenceIndex] = []
"""In the worker: the statistics its set-up read, if it found them."""


def _read(load: Callable[[], ReferenceIndex | None]) -> None:
    index = load()
    if index is not None:
        _INDEX[:] = [index]


def _bleu(hypotheses: list[str], references: list[str]) -> float:
    from spec_tod.score.bleu import bleu

    return bleu(hypotheses, references, _INDEX[0] if _INDEX else None)  # counted here without them


@contextmanager
def standing_bleu(load: Callable[[], ReferenceIndex | None]) -> Iterator[None]:
    """Within this block, the scorer's BLEU runs in a worker forked now, whose set-up calls ``load`` for
    the references' statistics (``None``: not at hand cheaply; they are then counted when needed)."""
    with StandingWorker(_read, load) as worker:
        _STANDING.append(worker)
        try:
            yield
        finally:
            _STANDING.remove(worker)


def bleu_later(hypotheses: list[str], references: list[str]) -> Callable[[], float] | None:
    """``bleu(hypotheses, references)`` started in the :func:`standing_bleu` worker; call the returned
    function for the figure. ``None`` outside such a block."""
    if not _STANDING:
        return None
    return _STANDING[0].submit(_bleu, hypotheses, references)
