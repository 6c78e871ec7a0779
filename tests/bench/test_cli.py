"""``spec-tod bench`` as a process: SIGKILL and resume, a changed configuration, a real ``transformers serve``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from spec_tod.bench.runner import BenchOptions, run_bench
from spec_tod.serve.local import free_port
from tests.bench.conftest import bench, spec_tod_command
from tests.bench.scripted_server import ScriptedServer

LIMIT = "6"
KILL_AFTER_LINES = 12


def _shard_lines(run_dir: Path) -> int:
    return sum(path.read_bytes().count(b"\n") for path in (run_dir / "shards").glob("*.jsonl"))


def _slow_run(url: str, data_dir: Path, run_dir: Path) -> list[str]:
    """Bench arguments for a run of LIMIT dialogues, two turns at a time: slow enough to catch mid-run."""
    return ["--endpoint", url, "--template", "llama3", "--limit-dialogues", LIMIT, "--concurrency", "2",
            "--data-dir", str(data_dir), "--run-dir", str(run_dir)]  # fmt: skip


def test_sigkill_mid_run_then_rerun_gives_the_uninterrupted_predictions(tmp_path: Path, data_dir: Path) -> None:
    with ScriptedServer(delay_s=0.05) as server:
        args = [*_slow_run(server.url, data_dir, tmp_path / "killed"), "--shards", "2"]
        process = subprocess.Popen([*spec_tod_command(), "bench", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if (tmp_path / "killed" / "shards").is_dir() and _shard_lines(tmp_path / "killed") >= KILL_AFTER_LINES:
                break
            time.sleep(0.02)
        assert process.poll() is None, "the run ended before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        assert not (tmp_path / "killed" / "predictions.json").exists()
        killed_at = _shard_lines(tmp_path / "killed")

        resumed = bench(*args)
        assert resumed.returncode == 0, resumed.stderr
        run_bench(BenchOptions(endpoints=[server.url], run_dir=tmp_path / "whole", data_dir=data_dir, template="llama3",
                               limit_dialogues=int(LIMIT), concurrency=8, shards=2))  # fmt: skip

    assert (tmp_path / "killed" / "predictions.json").read_bytes() == (tmp_path / "whole" / "predictions.json").read_bytes()
    report = json.loads((tmp_path / "killed" / "report.json").read_text())
    total = report["turns"]["turns"]
    assert KILL_AFTER_LINES <= killed_at < total
    # No turn done twice: one checkpoint line per turn over both sessions.
    assert _shard_lines(tmp_path / "killed") == total
    assert report["throughput"]["sessions"] == 2


def test_a_changed_configuration_against_an_existing_run_dir_is_an_error(tmp_path: Path, data_dir: Path) -> None:
    with ScriptedServer() as server:
        args = ["--endpoint", server.url, "--template", "llama3", "--limit-dialogues", "2", "--data-dir", str(data_dir),
                "--run-dir", str(tmp_path / "run")]  # fmt: skip
        assert bench(*args).returncode == 0
        changed = bench(*args, "--seed", "7", "--dst-max-new-tokens", "64")
    assert changed.returncode == 1
    assert "seed: 42 -> 7" in changed.stderr and "dst.max_new_tokens: 128 -> 64" in changed.stderr
    assert "Traceback" not in changed.stderr


@pytest.mark.slow
def test_e2e_bench_against_transformers_serve_on_the_tiny_model(
    transformers_server: str, tiny_model_dir: Path, tmp_path: Path, data_dir: Path
) -> None:
    # One dialogue (SNG0073, 4 turns): prompts offer all five functions, about 5,600 tokens with the
    # tiny tokenizer, and each call takes 3-4 s on two CPU cores; three dialogues (25 turns) take 3.5 min.
    run_dir = tmp_path / "run"
    result = bench(
        "--endpoint", transformers_server, "--model-dir", str(tiny_model_dir), "--limit-dialogues", "1",
        "--dst-max-new-tokens", "24", "--response-max-new-tokens", "24", "--concurrency", "4",
        "--data-dir", str(data_dir), "--run-dir", str(run_dir),
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads((run_dir / "report.json").read_text())
    turns = report["turns"]
    assert turns["done"] == turns["turns"] > 0 and turns["failed"] == turns["skipped"] == 0
    predictions = json.loads((run_dir / "predictions.json").read_text())
    assert sum(len(entries) for entries in predictions.values()) == turns["turns"]
    scores = json.loads((run_dir / "scores.json").read_text())
    assert all(isinstance(scores[name], float) for name in ("inform", "success", "bleu", "combined"))
    assert (run_dir / "report.md").stat().st_size > 0
    assert (run_dir / "plots" / "latency.svg").stat().st_size > 0 and (run_dir / "plots" / "domains.svg").is_file()
    assert "inform" in result.stdout


def test_an_unreachable_server_fails_the_run_with_the_reason(tmp_path: Path, data_dir: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    run_dir = tmp_path / "run"
    result = bench("--endpoint", url, "--template", "llama3", "--limit-dialogues", "1", "--outage-budget", "0.5",
                   "--data-dir", str(data_dir), "--run-dir", str(run_dir))  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())
    expected = f"error: {run_dir}: 1 turn(s) failed and 3 were skipped, so the run is incomplete and has no scores"
    assert expected in message
    assert "(first: SNG0073 turn 0: request failed after 1 attempt(s): no answer: ConnectError: cannot connect" in message
    assert f"check that {url} answers, then rerun the same command to retry them" in message
    assert not (run_dir / "scores.json").exists() and (run_dir / "predictions.incomplete.json").is_file()


@pytest.mark.parametrize(
    ("options", "code", "words"),
    [
        (["--endpoint", "http://127.0.0.1:99999"], 1, "endpoint 'http://127.0.0.1:99999' is not a server URL"),
        (["--top-p", "3"], 2, "Invalid value for '--top-p': 3.0 is not in the range 0.0<x<=1.0"),
        (["--timeout", "0"], 2, "Invalid value for '--timeout': 0.0 is not in the range x>0.0"),
    ],
)
def test_out_of_range_options_are_refused_before_the_run_starts(
    tmp_path: Path, data_dir: Path, options: list[str], code: int, words: str
) -> None:
    args = ["--endpoint", "http://127.0.0.1:9", "--template", "llama3", "--data-dir", str(data_dir)]
    result = bench(*args, *options, "--run-dir", str(tmp_path / "run"))
    assert result.returncode == code and words in result.stderr and "Traceback" not in result.stderr
    if code == 2:  # usage errors stop before the run folder is made
        assert not (tmp_path / "run").exists()


def _start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*spec_tod_command(), "bench", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def _wait_for_lines(process: subprocess.Popen[str], run_dir: Path, lines: int) -> None:
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if (run_dir / "shards").is_dir() and _shard_lines(run_dir) >= lines:
            return
        time.sleep(0.02)
    raise AssertionError(f"the run ended (or stalled) before {lines} checkpoint lines: {process.poll()}")


def test_a_second_process_on_the_run_dir_is_refused_and_the_first_completes(tmp_path: Path, data_dir: Path) -> None:
    run_dir = tmp_path / "run"
    with ScriptedServer(delay_s=0.05) as server:
        args = _slow_run(server.url, data_dir, run_dir)
        first = _start(args)
        _wait_for_lines(first, run_dir, 4)
        server.delay_s = 1.0  # holds the first run back while the second starts (seconds of imports)
        second = bench(*args)
        server.delay_s = 0.05
        assert first.poll() is None, "the first run ended before the second started"
        _, first_err = first.communicate(timeout=120)
        sent = server.outcomes["ok"]
        run_bench(BenchOptions(endpoints=[server.url], run_dir=tmp_path / "whole", data_dir=data_dir, template="llama3",
                               limit_dialogues=int(LIMIT), concurrency=8))  # fmt: skip
    assert second.returncode == 1 and "Traceback" not in second.stderr
    assert f"in use by another spec-tod process (PID {first.pid})" in " ".join(second.stderr.split())
    assert first.returncode == 0, first_err
    report = json.loads((run_dir / "report.json").read_text())
    total = report["turns"]["turns"]
    assert report["turns"]["done"] == total and _shard_lines(run_dir) == total
    assert sent == 2 * total  # the refused process sent nothing
    assert (run_dir / "predictions.json").read_bytes() == (tmp_path / "whole" / "predictions.json").read_bytes()


def test_sigterm_stops_cleanly_and_the_rerun_continues(tmp_path: Path, data_dir: Path) -> None:
    run_dir = tmp_path / "run"
    with ScriptedServer(delay_s=0.05) as server:
        args = _slow_run(server.url, data_dir, run_dir)
        process = _start(args)
        _wait_for_lines(process, run_dir, KILL_AFTER_LINES)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        stopped_at = _shard_lines(run_dir)
        leftovers = sorted(path.name for path in run_dir.rglob(".*.tmp"))
        outputs_after_stop = sorted(path.name for path in run_dir.glob("*.json"))
        resumed = bench(*args)
        run_bench(BenchOptions(endpoints=[server.url], run_dir=tmp_path / "whole", data_dir=data_dir, template="llama3",
                               limit_dialogues=int(LIMIT), concurrency=8))  # fmt: skip
    assert process.returncode == 143 and "Traceback" not in stderr
    assert "interrupted; rerun the same command to continue" in stderr
    assert outputs_after_stop == ["config.json"] and leftovers == []
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads((run_dir / "report.json").read_text())
    total = report["turns"]["turns"]
    assert KILL_AFTER_LINES <= stopped_at < total and _shard_lines(run_dir) == total == report["turns"]["done"]
    assert (run_dir / "predictions.json").read_bytes() == (tmp_path / "whole" / "predictions.json").read_bytes()


def test_stale_temporary_files_of_a_killed_run_are_removed_on_resume(tmp_path: Path, data_dir: Path) -> None:
    run_dir = tmp_path / "run"
    with ScriptedServer() as server:
        args = ["--endpoint", server.url, "--template", "llama3", "--limit-dialogues", "2", "--data-dir", str(data_dir),
                "--run-dir", str(run_dir)]  # fmt: skip
        assert bench(*args).returncode == 0
        stale = [run_dir / ".generations.json.k1ll3d.tmp", run_dir / "plots" / ".latency.svg.x7q2.tmp"]
        for path in stale:
            path.write_text("half")
        assert bench(*args).returncode == 0
    assert not any(path.exists() for path in stale)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs (root only, else skipped): a disk that fills up."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def _fill(disk: Path, leave_bytes: int) -> Path:
    """Fill ``disk`` until only about ``leave_bytes`` are free; the filler file."""
    filler = disk / "filler"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with filler.open("wb") as handle:
        handle.write(b"\0" * max(0, free - leave_bytes))
    return filler


def test_a_full_disk_is_one_line_and_leaves_nothing_half_written(
    small_disk: Path, tmp_path: Path, data_dir: Path
) -> None:
    run_dir = small_disk / "run"
    with ScriptedServer() as server:
        args = ["--endpoint", server.url, "--template", "llama3", "--limit-dialogues", LIMIT, "--data-dir", str(data_dir),
                "--run-dir", str(run_dir)]  # fmt: skip
        # The checkpoint fills the disk: the run stops with one line, every line on disk is whole or cut on resume.
        filler = _fill(small_disk, 24 * 1024)
        during = bench(*args)
        lines_when_full = _shard_lines(run_dir)
        filler.unlink()
        assert bench(*args).returncode == 0
        # The outputs fill the disk: none of predictions, scores and report appear, no temporary file stays.
        outputs = ["predictions.json", "generations.json", "scores.json", "report.json", "report.md"]
        for name in outputs:
            (run_dir / name).unlink()
        filler = _fill(small_disk, 16 * 1024)
        final = bench(*args)
        left = sorted(path.name for path in run_dir.iterdir() if path.name in outputs or path.name.endswith(".tmp"))
        filler.unlink()
        again = bench(*args)
        run_bench(BenchOptions(endpoints=[server.url], run_dir=tmp_path / "whole", data_dir=data_dir, template="llama3",
                               limit_dialogues=int(LIMIT), concurrency=8))  # fmt: skip
    for result in (during, final):
        assert result.returncode == 1 and "Traceback" not in result.stderr and "ExceptionGroup" not in result.stderr
        assert "No space left on device" in result.stderr and str(run_dir) in " ".join(result.stderr.split())
        assert len([line for line in result.stderr.splitlines() if line.startswith("error:")]) == 1
    total = json.loads((run_dir / "report.json").read_text())["turns"]["turns"]
    assert 0 < lines_when_full < total
    assert left == []
    assert again.returncode == 0 and _shard_lines(run_dir) == total
    assert (run_dir / "predictions.json").read_bytes() == (tmp_path / "whole" / "predictions.json").read_bytes()
