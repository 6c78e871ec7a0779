"""The readers pause the garbage collector while they build, and always restore it."""

from __future__ import annotations

import gc

import pytest

from spec_tod.data.readers import multiwoz21
from spec_tod.data.gc_pause import gc_paused
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
