"""A forked worker ends with the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spec_tod.data.background import can_fork, in_background
from spec_tod.settings import REPO_ROOT


def _square(number: int) -> int:
    return number * number


def test_the_result_comes_from_the_worker() -> None:
    assert in_background(_square, 12)() == 144


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"  # exited, waiting to be reaped
    except FileNotFoundError:
        return True


_PARENT = """
import os, sys, time
from spec_tod.data.background import in_background
wait = in_background(time.sleep, 600)
def parent_of(pid):
    return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1]
print(*(pid for pid in os.listdir("/proc") if pid.isdigit() and parent_of(pid) == str(os.getpid())), flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(not (can_fork() and sys.platform.startswith("linux")), reason="needs fork, two cores and Linux")
def test_a_killed_parent_takes_its_worker_with_it(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    parent = subprocess.Popen([sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert parent.stdout is not None
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(workers) == 1 and not _gone(workers[0])
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
    deadline = time.monotonic() + 30
    while not _gone(workers[0]) and time.monotonic() < deadline:
        time.sleep(0.05)
    survived = not _gone(workers[0])
    if survived:
        os.kill(workers[0], signal.SIGKILL)  # not left behind by a failing test
    assert not survived, f"worker {workers[0]} outlived its killed parent"
