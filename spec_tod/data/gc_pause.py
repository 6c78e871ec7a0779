"""Pausing Python's cyclic garbage collector while large acyclic structures are built.

Reading a split allocates millions of dicts, lists and tuples (26 MB of JSON per MultiWOZ split,
then the dialogues). Every 700 allocations start a collection, and the older generations, which
hold everything read so far, are scanned again and again (figures: docs/speed.md). Scoring
(predictions, references, per-turn states) pays the same toll on the dialogues already in memory.
Nothing built this way forms reference cycles, so reference counting frees all of it; the
collector resumes afterwards.

What a paused block built is long-lived data, and it joins the oldest generation without a scan
(:func:`_settle`): re-enabling the collector would otherwise start a collection of the youngest
generation at the next allocation, holding everything the block made. After ``Scorer.score`` that
one collection took 57-75 ms of a 1.4 s ``spec-tod score`` and found nothing to free.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector for the block (or the decorated function), then restore it."""
    if not gc.isenabled():  # nested, or paused by the caller: leave it to them
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        _settle()
        gc.enable()


def _settle() -> None:
    """Move every tracked object to the oldest generation, unscanned, and restart the youngest one's count.

    ``gc.freeze`` moves them all to the permanent generation and zeroes the youngest generation's
    count; ``gc.unfreeze`` puts them in the oldest generation, which is scanned only by full
    collections. Not while objects are frozen (:func:`run_collections`): a freeze there would also
    keep whatever garbage the run has made so far out of every collection until the run ends.
    """
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


RUN_YOUNG_THRESHOLD = 50_000
"""Allocations between two collections of the youngest generation during a run (Python's default: 700)."""


@contextmanager
def run_collections() -> Iterator[None]:
    """Fewer and smaller collections for a command that loads a corpus and then runs for a while (a bench run).

    * The objects alive at the start (the loaded dialogues) are left out of the block's collections
      (``gc.freeze``): a full collection would scan them all, 25-90 ms each time at 1000 dialogues.
      Reference counting still frees what they drop.
    * The youngest generation is collected every :data:`RUN_YOUNG_THRESHOLD` allocations rather than
      every 700: a loop at 256 requests in flight made 330-420 collections, 0.36-0.5 s of its 7 s,
      and makes 3 (docs/speed.md). Almost all it allocates is freed by reference counting anyway.

    Both are undone afterwards (``gc.unfreeze``, the thresholds restored), so that a process running
    several commands (a sweep, tests) keeps no cycle among the loaded data for ever.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(RUN_YOUNG_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
