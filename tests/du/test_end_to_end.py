"""The whole DU pipeline on the CPU, as a user runs it: exemplars -> index -> find-k -> build-data -> a few
real training steps of the tiny model -> merge -> transformers serve -> bench --mode du -> scores."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_du_pipeline_end_to_end(spec_tod, tiny_model_dir: Path, data_dir: Path, tmp_path: Path, port: int) -> None:
    timings: dict[str, float] = {}

    def stage(name: str, *args: str, timeout: float = 900) -> str:
        started = time.perf_counter()
        done = spec_tod(*args, timeout=timeout)
        timings[name] = time.perf_counter() - started
        assert done.returncode == 0, f"{name}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
        return done.stdout

    data = ["--data-dir", str(data_dir)]
    out = stage("exemplars", "du", "exemplars", "--split", "dev", "--out", str(tmp_path / "ex"), *data)
    assert "327" in out
    stage("index", "du", "index", "--exemplars", str(tmp_path / "ex"), "--out", str(tmp_path / "index"))
    stage("find-k", "du", "find-k", "--index", str(tmp_path / "index"), "--out", str(tmp_path / "k"))
    assert json.loads((tmp_path / "k" / "find-k.json").read_text())["hit_at"]["8"] == pytest.approx(0.966, abs=1e-3)
    for task in ("du-rag", "du-slots-one"):
        stage(
            f"build-data {task}",
            "build-data",
            "--dataset",
            "sgd",
            "--split",
            "dev",
            "--task",
            task,
            "--index",
            str(tmp_path / "index"),
            "--fraction",
            "0.05",
            "--seed",
            "1",
            "--out",
            str(tmp_path / "data"),
            *data,
        )
    run = tmp_path / "run"
    stage(
        "finetune",
        "finetune",
        "--preset",
        "spec-tod",
        "--profile",
        "cpu",
        "--base-model",
        str(tiny_model_dir),
        "--data",
        str(tmp_path / "data"),
        "--output-dir",
        str(run),
        "--backend",
        "local",
    )
    assert (run / "adapter_model.safetensors").is_file()
    stage("merge", "merge", str(run), "--backend", "local")
    merged = run / "merged"
    stage("serve", "serve", str(merged), "--engine", "transformers", "--port", str(port), "--timeout", "180")
    try:
        stage(
            "bench",
            "bench",
            "--mode",
            "du",
            "--endpoint",
            f"http://127.0.0.1:{port}",
            "--model-dir",
            str(merged),
            "--dataset",
            "sgd",
            "--split",
            "dev",
            "--index",
            str(tmp_path / "index"),
            "--du-intent",
            "rag",
            "--du-slots",
            "one",
            "--limit-dialogues",
            "3",
            "--run-dir",
            str(tmp_path / "bench"),
            *data,
        )
    finally:
        stopped = spec_tod("serve", "stop", "--all")
    assert stopped.returncode == 0, stopped.stderr
    report = json.loads((tmp_path / "bench" / "scores.json").read_text())
    assert report["failed_requests"] == 0
    assert report["scores"]["intent"]["rows"] == 6  # 3 items x (positive, negative)
    assert 0.0 <= report["scores"]["intent"]["accuracy"] <= 1.0
    assert (tmp_path / "bench" / "report.md").read_text().startswith("# spec-tod bench --mode du")
    print(
        "\nDU end to end on the CPU (seconds):",
        json.dumps({k: round(v, 1) for k, v in timings.items()}),
        "total",
        round(sum(timings.values()), 1),
    )
