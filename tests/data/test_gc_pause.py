"""The readers pause the garbage collector while they build, and always restore it; a bench run keeps its
loaded data out of the collections it makes."""

from __future__ import annotations

import gc
import weakref

import pytest

from spec_tod.data.gc_pause import RUN_YOUNG_THRESHOLD, gc_paused, run_collections
from spec_tod.data.readers import multiwoz21
from spec_tod.errors import SpecTodError


def test_paused_inside_and_restored_after_an_error():
    assert gc.isenabled()
    with pytest.raises(ValueError):
        with gc_paused():
            assert not gc.isenabled()
            raise ValueError("bad record")
    assert gc.isenabled()


def test_nested_pause_leaves_the_outer_one_in_charge():
    with gc_paused():
        with gc_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_disabled_by_the_caller_stays_disabled():
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_failed_read_restores_the_collector(tmp_path):
    with pytest.raises(SpecTodError):
        multiwoz21.read(tmp_path, "test", db=None, skip_invalid=False, progress=None)
    assert gc.isenabled()


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def test_what_a_paused_block_built_joins_the_oldest_generation_unscanned():
    gc.collect()
    with gc_paused():
        built = [[index] for index in range(20_000)]
        cycle = _Node()
    # Without the move, the youngest generation would hold the 20,000 lists and the next allocation
    # would scan them all.
    assert gc.get_count()[0] < 100
    oldest = {id(item) for item in gc.get_objects(generation=2)}
    assert id(built[0]) in oldest and id(built[-1]) in oldest
    seen = weakref.ref(cycle)
    del cycle
    gc.collect()
    assert seen() is None  # still collected by a full collection


def test_inside_a_run_a_paused_block_freezes_nothing_more():
    with run_collections():
        frozen = gc.get_freeze_count()
        garbage = _Node()
        left = weakref.ref(garbage)
        del garbage  # a cycle the run dropped before the block: a freeze would keep it until the run's end
        with gc_paused():
            made = _Node()
        seen = weakref.ref(made)
        del made
        assert gc.get_freeze_count() == frozen
        gc.collect()
        assert left() is None and seen() is None


def test_data_loaded_before_the_block_is_left_out_of_its_collections_and_rejoins_after():
    loaded = _Node()
    seen = weakref.ref(loaded)
    before, thresholds = gc.get_freeze_count(), gc.get_threshold()
    with pytest.raises(ValueError):
        with run_collections():
            assert gc.get_threshold() == (RUN_YOUNG_THRESHOLD, *thresholds[1:])
            del loaded
            gc.collect()
            assert seen() is not None  # frozen: a full collection does not look at it
            assert gc.get_freeze_count() > before
            made_inside = _Node()
            inside = weakref.ref(made_inside)
            del made_inside
            gc.collect()
            assert inside() is None  # what the block makes is collected as usual
            raise ValueError("the run failed")
    assert gc.get_freeze_count() == before and gc.get_threshold() == thresholds
    gc.collect()
    assert seen() is None  # back among the collected objects, even after an error
