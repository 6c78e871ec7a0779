"""The run-directory lock: one holder, named when refused, and never kept alive by a forked worker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from spec_tod.bench.rundir_lock import RunDirLock
from spec_tod.errors import SpecTodError


def test_a_second_holder_is_refused_naming_the_first_and_the_lock_is_free_after(tmp_path: Path) -> None:
    with RunDirLock(tmp_path), pytest.raises(SpecTodError, match=f"in use by another spec-tod process \\(PID {os.getpid()}\\)"):
        RunDirLock(tmp_path).__enter__()
    with RunDirLock(tmp_path):  # released on exit
        pass
    assert (tmp_path / ".lock").read_text() == f"{os.getpid()}\n"


def test_a_forked_worker_that_outlives_the_holder_does_not_keep_the_lock(tmp_path: Path) -> None:
    # The scorer forks workers while a run holds its folder; a SIGKILLed holder must not leave them holding it.
    release_read, release_write = os.pipe()
    ready_read, ready_write = os.pipe()
    with RunDirLock(tmp_path):
        child = os.fork()
        if child == 0:  # the worker (its at-fork hooks have run): says so, then waits until the test lets it go
            os.write(ready_write, b"r")
            os.read(release_read, 1)
            os._exit(0)
        assert os.read(ready_read, 1) == b"r"
    try:
        with RunDirLock(tmp_path):  # the holder is gone, the worker lives on: the folder is free
            pass
    finally:
        os.write(release_write, b"x")
        _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
