"""The console entry point as a process: exit statuses of `typer.Exit` and of Ctrl-C, never a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from spec_tod.serve.local import free_port
from spec_tod.settings import REPO_ROOT
from tests.bench.conftest import bench, spec_tod_command
from tests.bench.scripted_server import ScriptedServer


def _closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_an_explicit_exit_status_reaches_the_shell(tmp_path: Path, data_dir: Path) -> None:
    # `bench merge` of a run whose second shard never ran ends with typer.Exit(1).
    run_dir = tmp_path / "run"
    shard = bench("--endpoint", _closed_port_url(), "--template", "llama3", "--limit-dialogues", "2", "--shards", "2",
                  "--shard", "0", "--outage-budget", "0", "--data-dir", str(data_dir), "--run-dir", str(run_dir))  # fmt: skip
    assert shard.returncode == 1  # its turns failed: a shard that is not complete does not exit 0
    assert "shard 0 of 2 is not complete: 1 turn(s) failed" in " ".join(shard.stderr.split())
    merged = bench("merge", str(run_dir), "--data-dir", str(data_dir))
    assert merged.returncode == 1
    assert "some shards' turns are still missing" in " ".join(merged.stderr.split())


def test_ctrl_c_exits_130_with_one_line_and_keeps_the_checkpoints(tmp_path: Path, data_dir: Path) -> None:
    run_dir = tmp_path / "run"
    with ScriptedServer(delay_s=0.05) as server:
        process = subprocess.Popen(
            [*spec_tod_command(), "bench", "--endpoint", server.url, "--template", "llama3", "--limit-dialogues", "6",
             "--concurrency", "2", "--data-dir", str(data_dir), "--run-dir", str(run_dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            # A shell started in the background ignores SIGINT, and children inherit that: a terminal's Ctrl-C does not.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if any(path.stat().st_size for path in (run_dir / "shards").glob("*.jsonl")):
                break
            time.sleep(0.02)
        assert process.poll() is None, "the run ended before it could be interrupted"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err.rstrip().endswith("interrupted; rerun the same command to continue") and "Traceback" not in err
    assert not (run_dir / "predictions.json").exists()
    assert any(path.read_text().count("\n") for path in (run_dir / "shards").glob("*.jsonl"))


def _spec_tod(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*spec_tod_command(), *args], capture_output=True, text=True, timeout=300)


def test_quickstart_refuses_a_busy_port_before_any_work(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _spec_tod("quickstart", "--workdir", str(tmp_path / "qs"), "--port", str(port))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"--port {port}: cannot listen there" in " ".join(result.stderr.split())
    assert not (tmp_path / "qs").exists()


def test_sigterm_while_starting_is_one_line_without_a_traceback() -> None:
    """A signal while the command line's modules load (spec_tod.cli installs its handler before them)."""
    code = "import os, signal, time, spec_tod.cli; os.kill(os.getpid(), signal.SIGTERM); time.sleep(60)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert (done.returncode, done.stderr) == (143, "interrupted; rerun the same command to continue\n")


def test_sigterm_while_a_command_waits_for_its_input_writes_nothing(tmp_path: Path, data_dir: Path) -> None:
    """The predictions are a named pipe that stays empty: the command is certainly running when the signal comes."""
    fifo = tmp_path / "predictions.json"
    os.mkfifo(fifo)
    process = subprocess.Popen(
        [*spec_tod_command(), "score", str(fifo), "--dataset", "multiwoz21", "--data-dir", str(data_dir),
         "--json", str(tmp_path / "scores.json")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    writer = None
    deadline = time.monotonic() + 120
    while writer is None and process.poll() is None and time.monotonic() < deadline:
        try:  # opens only once the command has opened the pipe to read it
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            time.sleep(0.02)
    try:
        assert writer is not None, "the command never opened its predictions"
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        if writer is not None:
            os.close(writer)
    assert process.returncode == 143 and "Traceback" not in err
    assert err.rstrip().endswith("interrupted; rerun the same command to continue")
    assert not (tmp_path / "scores.json").exists()
