"""``spec-tod judge`` over a bench run against a scripted judge: statuses, summary, agreement, resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from spec_tod.bench.response_run import run_response_bench
from spec_tod.bench.runner import BenchOptions
from spec_tod.judge.criteria import NAMES
from spec_tod.judge.run import JudgeOptions, load_judgments, run_judge
from spec_tod.settings import REPO_ROOT
from tests.bench.conftest import spec_tod_command
from tests.bench.stand_ins import JudgeServer, SamplingServer, judge_answer

LIMIT = 12


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    run_dir = tmp_path_factory.mktemp("judge") / "run"
    with SamplingServer() as server:
        options = BenchOptions(
            endpoints=[server.url], run_dir=run_dir, data_dir=data_dir, limit_dialogues=LIMIT, concurrency=4
        )
        assert run_response_bench(options) is not None
    return run_dir


def test_judge_reads_every_kind_of_answer_and_reports_agreement(
    bench_run: Path, data_dir: Path, tmp_path: Path
) -> None:
    server = JudgeServer()
    with server:
        summary = run_judge(JudgeOptions(run_dir=bench_run, endpoints=[server.url], data_dir=data_dir, out=tmp_path))
    assert len(server.requests) == 2 * LIMIT and set(server.requests.values()) == {1}
    expected = {
        "tidy": "scored",
        "fenced": "scored",
        "prose": "scored",
        "refusal": "refused",
        "partial": "partial",
        "single": "unreadable",
    }
    for repeat in (1, 2):
        judged, _ = load_judgments(tmp_path / f"judgments-{repeat}.jsonl")
        assert len(judged) == LIMIT
        for (prompt, seed), _count in server.requests.items():
            if seed != repeat - 1:
                continue
            kind, _, scores = judge_answer(prompt, seed)
            matching = [j for j in judged.values() if j.text == judge_answer(prompt, seed)[1]]
            assert matching and all(j.status == expected[kind] and j.scores == scores for j in matching)
    refused = summary["repeats"]["1"]["problems"]["refused"]
    assert len(refused) == summary["repeats"]["1"]["statuses"].get("refused", 0)
    assert set(summary["agreement"]) == set(NAMES)
    markdown = (tmp_path / "judge.md").read_text()
    assert "## Agreement of repeats 1 and 2" in markdown and "| Interesting |" in markdown
    if refused:
        assert f"refused: {len(refused)} (" in markdown


def test_a_killed_judge_resumes_without_judging_twice(bench_run: Path, data_dir: Path, tmp_path: Path) -> None:
    server = JudgeServer(delay_s=0.2)
    with server:
        command = [
            *spec_tod_command(),
            "judge",
            str(bench_run),
            "--endpoint",
            server.url,
            "--out",
            str(tmp_path),
            "--concurrency",
            "1",
            "--data-dir",
            str(data_dir),
        ]
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        log = tmp_path / "judgments-1.jsonl"
        deadline = time.monotonic() + 120
        while (
            (not log.is_file() or log.read_bytes().count(b"\n") < 3)
            and process.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        saved = log.read_bytes().count(b"\n")
        assert 3 <= saved < LIMIT
        done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(server.requests) == 2 * LIMIT
    assert (
        sum(count - 1 for count in server.requests.values()) <= 1
    )  # only the answer in flight at the kill is asked again
    summary = json.loads((tmp_path / "judge.json").read_text())
    assert sum(summary["repeats"]["2"]["statuses"].values()) == LIMIT


def test_a_damaged_judge_folder_or_predictions_file_is_one_line(bench_run: Path, data_dir: Path, tmp_path: Path) -> None:
    """Nothing is asked of the judge: the stored settings and the predictions are read first."""
    from spec_tod.errors import SpecTodError

    out = tmp_path / "judged"
    out.mkdir()
    (out / "config.json").write_text('{"prompt_sha256": ' + "[" * 5000)  # cut, and deeper than the decoder goes
    options = JudgeOptions(run_dir=bench_run, endpoints=["http://127.0.0.1:9"], data_dir=data_dir, out=out)
    with pytest.raises(SpecTodError, match=r"judged/config\.json: not a judge configuration"):
        run_judge(options)
    run = tmp_path / "run"
    run.mkdir()
    for name in ("config.json", "predictions.json"):
        (run / name).write_bytes((bench_run / name).read_bytes())
    (run / "predictions.json").write_text("{" * 3000)
    with pytest.raises(SpecTodError, match=r"predictions\.json: cannot read the predictions as JSON"):
        run_judge(JudgeOptions(run_dir=run, endpoints=["http://127.0.0.1:9"], data_dir=data_dir, out=tmp_path / "j2"))
