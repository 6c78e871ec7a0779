"""A forked worker ends with the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spec_tod.data.background import Forked, Gate, StandingWorker, can_fork, in_background
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


_PREPARED: list[int] = []


def _set_up(value: int) -> None:
    _PREPARED[:] = [value, os.getpid()]


def _prepared() -> tuple[int, int]:
    return _PREPARED[0], _PREPARED[1]


def _fail() -> None:
    raise ValueError("bad corpus")


@pytest.mark.skipif(not can_fork(), reason="needs fork and two cores")
def test_a_standing_worker_calls_find_its_set_up_done_in_another_process() -> None:
    with StandingWorker(_set_up, 7) as worker:
        value, pid = worker.call(_prepared)
    assert value == 7 and pid != os.getpid()
    assert _PREPARED == []  # the set-up ran in the worker only


def _set_up_from(unpicklable: list) -> None:
    _PREPARED[:] = [len(unpicklable), os.getpid()]


@pytest.mark.skipif(not can_fork(), reason="needs fork and two cores")
def test_a_standing_worker_inherits_its_set_up_arguments_unpickled() -> None:
    unpicklable = [lambda: None, open(os.devnull)]  # handed over by fork: pickling either would fail
    try:
        with StandingWorker(_set_up_from, unpicklable) as worker:
            value, pid = worker.call(_prepared)
    finally:
        unpicklable[1].close()
    assert (value, pid != os.getpid()) == (2, True)
    assert _PREPARED == []


@pytest.mark.skipif(not can_fork(), reason="needs fork and two cores")
def test_a_standing_worker_raises_its_set_up_error_at_the_call() -> None:
    with StandingWorker(_fail) as worker, pytest.raises(ValueError, match="bad corpus"):
        worker.call(_square, 3)


@pytest.mark.skipif(not can_fork(), reason="needs fork and two cores")
def test_a_dead_standing_worker_is_replaced_by_this_process() -> None:
    worker = StandingWorker(_set_up, 5)
    try:
        pid = worker.call(_prepared)[1]
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not _gone(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert worker.call(_prepared) == (5, os.getpid())  # set up again, here
    finally:
        worker.close()
        _PREPARED.clear()


_CTRL_C = """
import os, signal, sys, time
from spec_tod.data.background import StandingWorker
from spec_tod.interrupts import install_for_commands
install_for_commands()
worker = StandingWorker(time.sleep, 0)
worker.call(time.sleep, 0)
try:  # the signal may come as soon as "ready" is out, while print still returns
    print("ready", flush=True)
    time.sleep(600)
except KeyboardInterrupt:
    worker.close()
    print("stopped", flush=True)
"""


@pytest.mark.skipif(not (can_fork() and sys.platform.startswith("linux")), reason="needs fork, two cores and Linux")
def test_ctrl_c_to_the_process_group_leaves_no_traceback_from_a_standing_worker() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", _CTRL_C], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert "stopped" in out and "Traceback" not in err, err


def _pid_and_len(items: list) -> tuple[int, int]:
    return os.getpid(), len(items)


def test_a_forked_call_reads_its_arguments_in_place_and_returns_from_another_process() -> None:
    if not can_fork():
        pytest.skip("no fork or a single core")
    unpicklable = [lambda: None, open(os.devnull)]  # handed over by fork, never pickled
    pid, length = Forked(_pid_and_len, unpicklable).result()
    unpicklable[1].close()
    assert (pid != os.getpid(), length) == (True, 2)


def test_a_forked_call_raises_its_error_here() -> None:
    with pytest.raises(ValueError, match="bad corpus"):
        Forked(_fail).result()


def _wait_then_clean(started: Path, cleaned: Path) -> None:
    started.write_text("")
    try:
        time.sleep(600)
    finally:
        cleaned.write_text("")


def test_stopping_a_forked_call_interrupts_it_and_its_finally_blocks_run(tmp_path: Path) -> None:
    if not can_fork():
        pytest.skip("no fork or a single core")
    started, cleaned = tmp_path / "started", tmp_path / "cleaned"
    child = Forked(_wait_then_clean, started, cleaned)
    for _ in range(2000):  # until the function runs (bounded)
        if started.exists():
            break
        time.sleep(0.005)
    child.stop()
    assert cleaned.exists()


def _kill_me_in_the_child(parent: int) -> int:
    if os.getpid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)
    return os.getpid()


def test_a_forked_call_whose_child_dies_runs_here() -> None:
    assert Forked(_kill_me_in_the_child, os.getpid()).result() == os.getpid()


def _step_then_gate(step: str, gate: Gate) -> str:
    if step == "fail":
        gate.failed()
        raise ValueError("bad split")
    if step == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    return "went on" if gate.passed() else "held back"


@pytest.mark.skipif(not can_fork(), reason="needs fork and two cores")
@pytest.mark.parametrize("go", [True, False])
def test_a_gated_child_waits_for_its_parents_word(go: bool) -> None:
    gate = Gate()
    child = Forked(_step_then_gate, "pass", gate)
    gate.parent_side()
    try:
        assert gate.outcome() == "passed"
        if go:
            gate.release()
        else:
            gate.close()  # the parent gives up (another split failed): the child hears no word and stops
        assert child.result() == ("went on" if go else "held back")
    finally:
        gate.close()


@pytest.mark.skipif(not can_fork(), reason="needs fork and two cores")
def test_a_gated_childs_failure_and_death_are_told_apart() -> None:
    failing, dying = Gate(), Gate()
    children = [Forked(_step_then_gate, "fail", failing)]
    failing.parent_side()
    children.append(Forked(_step_then_gate, "die", dying))
    dying.parent_side()
    try:
        assert failing.outcome() == "failed"
        with pytest.raises(ValueError, match="bad split"):
            children[0].result()
        assert dying.outcome() == "died"
    finally:
        for gate, child in zip((failing, dying), children, strict=True):
            gate.close()
            child.stop()


def test_a_gate_closed_before_its_child_answered_holds_the_child_back() -> None:
    if not can_fork():
        pytest.skip("no fork or a single core")
    gate = Gate()
    child = Forked(_step_then_gate, "pass", gate)
    gate.parent_side()
    gate.close()  # the parent gave up (another split failed): the child hears nothing and stops
    assert child.result() == "held back"
