"""BLEU in the standing normaliser's worker, which reads the references' statistics while the command reads.

``spec-tod score`` forks one worker at its start (:func:`spec_tod.data.normalize.standing_normaliser`):
it sets up the Moses rules, then (:func:`standing_bleu`) reads the references' BLEU statistics from the
cache and normalises the responses, while this process imports and reads its inputs. The responses it
normalises stay there: the BLEU of them (:func:`bleu_later`) is computed where they are, so that
neither they nor the statistics cross between the processes (docs/speed.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING

from spec_tod.data.normalize import apply_to_normalised_later, in_normaliser

if TYPE_CHECKING:
    from spec_tod.score.bleu import ReferenceIndex

_READS: list[Callable[[], None]] = []
"""In this process: the statistics' read, asked of the normaliser's worker by :func:`standing_bleu`."""
_LOADED: list[ReferenceIndex | None] = []
"""In the worker: the statistics that read found (``None``: not at hand; they are then counted)."""


def _read(load: Callable[[], ReferenceIndex | None]) -> None:
    _LOADED[:] = [load()]


def _bleu_against(references: list[str], hypotheses: list[str]) -> float:
    from spec_tod.score.bleu import bleu

    return bleu(hypotheses, references, _LOADED[0] if _LOADED else None)


@contextmanager
def standing_bleu(load: Callable[[], ReferenceIndex | None]) -> Iterator[None]:
    """Within this block, itself within a :func:`~spec_tod.data.normalize.standing_normaliser` block, the
    scorer's BLEU runs in the normaliser's worker, which calls ``load`` next for the references' statistics
    (``None``: not at hand cheaply; they are then counted when needed). Outside a standing normaliser it
    does nothing."""
    read = in_normaliser(_read, load)
    if read is None:
        yield
        return
    _READS.append(read)
    try:
        yield
    finally:
        _READS.remove(read)


def bleu_later(texts: list[str], references: list[str]) -> Callable[[], float] | None:
    """BLEU of the normalised ``texts`` (raw responses: the worker normalises them, or has) against
    ``references``, started in the :func:`standing_bleu` worker; call the returned function for the figure.
    ``None`` outside such a block."""
    if not _READS:
        return None
    read, figure = _READS[0], apply_to_normalised_later(partial(_bleu_against, references), texts)

    def result() -> float:
        read()  # the statistics' read: done long before in a worker, here now without one; its error if any
        return figure()

    return result
