"""``bench sweep`` against the sampling stand-in: one run folder per point, one table, resume, determinism."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from spec_tod.bench.response_run import run_response_bench
from spec_tod.bench.sweep import SweepFile, load_sweep, plan_points, run_sweep, sweep_base_options
from spec_tod.errors import SpecTodError
from spec_tod.settings import REPO_ROOT
from tests.bench.conftest import spec_tod_command
from tests.bench.stand_ins import SamplingServer

LIMIT = 2


def _grid(path: Path, url: str, grid: dict, **extra: object) -> Path:
    document = {
        "bench": {"endpoint": url, "mode": "response", "limit-dialogues": LIMIT, "concurrency": 2},
        "grid": grid,
        **extra,
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _sweep(grid_file: Path, out: Path, data_dir: Path, repeat: int = 1):
    spec = load_sweep(grid_file)
    base, _ = sweep_base_options(spec.bench, [], data_dir, out)
    return run_sweep(base, plan_points(spec, str(grid_file)), out, lambda options: run_response_bench(options), repeat)


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "sweep.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_a_2x2_grid_gives_four_runs_one_table_and_the_seed_variation(tmp_path: Path, data_dir: Path) -> None:
    with SamplingServer() as server:
        grid = _grid(tmp_path / "grid.yaml", server.url, {"temperature": [0.0, 0.7], "seed": [1, 2]})
        result = _sweep(grid, tmp_path / "sweep", data_dir)
    names = sorted(path.name for path in (tmp_path / "sweep" / "runs").iterdir())
    assert names == [
        "temperature=0.0,seed=1",
        "temperature=0.0,seed=2",
        "temperature=0.7,seed=1",
        "temperature=0.7,seed=2",
    ]
    assert all((tmp_path / "sweep" / "runs" / name / "predictions.json").is_file() for name in names)
    rows = _rows(tmp_path / "sweep")
    assert [row["point"] for row in rows] == [run.point.name for run in result.runs] and len(rows) == 4
    assert all(float(row["bleu"]) >= 0 and float(row["requests_per_s"]) > 0 and row["jga"] == "" for row in rows)
    markdown = (tmp_path / "sweep" / "sweep.md").read_text()
    # Greedy decoding ignores the seed; sampling with two seeds gives two different runs, and the spread is shown.
    assert "| temperature=0.0 | 2 | 2 | yes |" in markdown
    assert "| temperature=0.7 | 2 | 2 | no |" in markdown
    assert "may decode greedily" not in markdown
    assert {path.name for path in (tmp_path / "sweep" / "plots").iterdir()} == {
        "scores_vs_temperature.png",
        "scores_vs_seed.png",
        "score_vs_throughput.png",
    }


def test_greedy_twice_is_identical_and_the_table_says_so(tmp_path: Path, data_dir: Path) -> None:
    with SamplingServer() as server:
        grid = _grid(tmp_path / "grid.yaml", server.url, {"temperature": [0.0]})
        _sweep(grid, tmp_path / "sweep", data_dir, repeat=2)
        sent = len(server.received)
        # A second sweep over finished runs sends nothing.
        _sweep(grid, tmp_path / "sweep", data_dir, repeat=2)
        assert len(server.received) == sent
    runs = tmp_path / "sweep" / "runs"
    assert sorted(path.name for path in runs.iterdir()) == ["temperature=0.0~r1", "temperature=0.0~r2"]
    assert (runs / "temperature=0.0~r1" / "predictions.json").read_bytes() == (
        runs / "temperature=0.0~r2" / "predictions.json"
    ).read_bytes()
    assert "| temperature=0.0 | 2 | 1 | yes | " in (tmp_path / "sweep" / "sweep.md").read_text()


def test_a_server_that_ignores_the_temperature_is_pointed_out(tmp_path: Path, data_dir: Path) -> None:
    with SamplingServer(honour_temperature=False) as server:
        grid = _grid(tmp_path / "grid.yaml", server.url, {"temperature": [0.7], "seed": [1, 2]})
        _sweep(grid, tmp_path / "sweep", data_dir)
    markdown = (tmp_path / "sweep" / "sweep.md").read_text()
    assert "| temperature=0.7 | 2 | 2 | yes |" in markdown and "the server may decode greedily" in markdown


@pytest.mark.parametrize(
    ("key", "words"),
    [("penalty_alpha", "contrastive search"), ("num_beams", "beam search"), ("beams", "not a sweep parameter")],
)
def test_parameters_no_server_honours_are_refused_in_plain_words(key: str, words: str) -> None:
    with pytest.raises(SpecTodError, match=words):
        plan_points(SweepFile.model_validate({"grid": {key: [1, 2]}}), "grid.yaml")


def test_a_killed_sweep_resumes_without_rerunning_finished_points(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "sweep"
    with SamplingServer(delay_s=0.05) as server:
        grid = _grid(tmp_path / "grid.yaml", server.url, {"temperature": [0.0, 0.7], "seed": [1, 2]})
        command = [
            *spec_tod_command(),
            "bench",
            "sweep",
            "--grid",
            str(grid),
            "--out",
            str(out),
            "--data-dir",
            str(data_dir),
        ]
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        first = out / "runs" / "temperature=0.0,seed=1" / "report.json"
        deadline = time.monotonic() + 120
        while not first.is_file() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        assert first.is_file() and not (out / "sweep.csv").exists()
        before = first.read_bytes()
        done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "temperature=0.0,seed=1: already finished" in done.stderr
    assert first.read_bytes() == before
    assert len(_rows(out)) == 4
