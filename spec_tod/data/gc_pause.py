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
