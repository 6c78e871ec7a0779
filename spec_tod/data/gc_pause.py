"""Pausing Python's cyclic garbage collector while large acyclic structures are built.

Reading a split allocates millions of dicts, lists and tuples (26 MB of JSON per MultiWOZ split,
then the dialogues). Every 700 allocations start a collection, and the older generations, which
hold everything read so far, are scanned again and again (figures: docs/speed.md). Scoring
(predictions, references, per-turn states) pays the same toll on the dialogues already in memory.
Nothing built this way forms reference cycles, so reference counting frees all of it; the
collector resumes afterwards.
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
        gc.enable()



@contextmanager
def frozen_for_collections() -> Iterator[None]:
    """Leave every object alive now out of the collections made during the block (``gc.freeze``).

    For a command that loads a corpus and then runs for a while (a bench run): a full collection scans
    every tracked object, the loaded dialogues too, 25-90 ms each time at 1000 dialogues; in the block
    they are not scanned. Reference counting still frees what they drop. They rejoin the collected
    generations afterwards (``gc.unfreeze``), so that any cycle among them is not kept for the rest of a
    process that runs several commands (a sweep, tests).
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
