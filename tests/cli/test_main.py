"""The console entry point as a process: exit statuses of `typer.Exit` and of Ctrl-C, never a traceback."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from spec_tod.serve.local import free_port
from tests.bench.conftest import bench, spec_tod_command
from tests.bench.scripted_server import ScriptedServer


def _closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_an_explicit_exit_status_reaches_the_shell(tmp_path: Path, data_dir: Path) -> None:
    # `bench merge` of a run whose second shard never ran ends with typer.Exit(1).
    run_dir = tmp_path / "run"
    shard = bench("--endpoint", _closed_port_url(), "--template", "llama3", "--limit-dialogues", "2", "--shards", "2",
                  "--shard", "0", "--max-retries", "0", "--data-dir", str(data_dir), "--run-dir", str(run_dir))  # fmt: skip
    assert shard.returncode == 0, shard.stderr
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
    assert err.rstrip().endswith("interrupted") and "Traceback" not in err
    assert not (run_dir / "predictions.json").exists()
    assert any(path.read_text().count("\n") for path in (run_dir / "shards").glob("*.jsonl"))
