"""``spec-tod bench`` as a process: SIGKILL and resume, a changed configuration, a real ``transformers serve``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
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


def test_sigkill_mid_run_then_rerun_gives_the_uninterrupted_predictions(tmp_path: Path, data_dir: Path) -> None:
    with ScriptedServer(delay_s=0.05) as server:
        args = ["--endpoint", server.url, "--template", "llama3", "--limit-dialogues", LIMIT, "--concurrency", "2",
                "--shards", "2", "--data-dir", str(data_dir), "--run-dir", str(tmp_path / "killed")]  # fmt: skip
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
    result = bench("--endpoint", url, "--template", "llama3", "--limit-dialogues", "1", "--max-retries", "0",
                   "--data-dir", str(data_dir), "--run-dir", str(run_dir))  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())
    assert f"error: {run_dir}: 1 turn(s) failed and 3 were skipped, so the scores count them as empty answers" in message
    assert "(first: SNG0073 turn 0: request failed after 1 attempt(s): no answer: ConnectError: cannot connect" in message
    assert f"check that {url} answers, then rerun the same command to retry them" in message


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
