"""``spec-tod serve --engine transformers`` for real on the tiny model: a detached local process on the CPU."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from spec_tod.serve.local import process_start_time
from spec_tod.serve.registry import latest_endpoint

pytestmark = pytest.mark.slow


def test_transformers_server_answers_completions_and_bench_then_stops(
    spec_tod, tiny_model_dir: Path, data_dir: Path, tmp_path: Path, port: int, recorded, serve_home: Path
) -> None:
    started = spec_tod("serve", str(tiny_model_dir), "--engine", "transformers", "--port", str(port), "--timeout", "120")
    assert started.returncode == 0, started.stderr + started.stdout
    url = f"http://127.0.0.1:{port}"
    try:
        [record] = recorded()
        assert (record["engine"], record["kind"], record["url"]) == ("transformers", "process", url)
        assert record["model"] == str(tiny_model_dir.resolve())
        assert process_start_time(record["pid"]) == record["pid_start"]
        assert latest_endpoint() == url

        # Raw-prompt completion, as bench sends it; the pinned model's name is the folder path.
        reply = httpx.post(
            f"{url}/v1/completions",
            json={"model": record["model"], "prompt": "<|begin_of_text|>i need a cheap hotel", "max_tokens": 8,
                  "temperature": 0},
            timeout=60,
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["usage"]["completion_tokens"] == 8
        # The model list names the served model first, under the name requests carry.
        models = httpx.get(f"{url}/v1/models", timeout=30)
        assert models.status_code == 200
        assert models.json()["data"][0]["id"] == record["model"]

        # spec-tod bench against it: one test dialogue (SNG0073, 4 turns), every turn answered.
        bench = spec_tod(
            "bench", "run", "--endpoint", url, "--model-dir", str(tiny_model_dir), "--dataset", "multiwoz21",
            "--data-dir", str(data_dir), "--split", "test", "--mode", "e2e", "--limit-dialogues", "1",
            "--dst-max-new-tokens", "8", "--response-max-new-tokens", "8", "--run-dir", str(tmp_path / "bench"),
        )
        assert bench.returncode == 0, bench.stdout[-2000:] + bench.stderr[-2000:]
        turns = json.loads((tmp_path / "bench" / "report.json").read_text())["turns"]
        assert (turns["turns"], turns["done"], turns["failed"]) == (4, 4, 0)

        status = spec_tod("serve", "status")
        assert "healthy" in status.stdout and url in status.stdout, status.stdout
        logs = spec_tod("serve", "logs", record["name"], "-n", "200")
        assert "POST /v1/completions" in logs.stdout, logs.stdout + logs.stderr
        again = spec_tod("serve", str(tiny_model_dir), "--engine", "transformers", "--port", str(port))
        assert again.returncode == 1 and "already running" in again.stderr, again.stderr
    finally:
        stopped = spec_tod("serve", "stop", "--all")
    assert stopped.returncode == 0, stopped.stderr
    assert process_start_time(record["pid"]) is None
    assert recorded() == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health")
    assert (serve_home / "logs" / f"{record['name']}.log").is_file()


def test_stopping_a_server_whose_process_is_gone_only_forgets_it(spec_tod, serve_home: Path, recorded) -> None:
    from spec_tod.serve import registry

    # A PID that exists but belongs to another process (ours) with a different start time: never signalled.
    registry.add(registry.ServerRecord(
        name="old", engine="transformers", url="http://127.0.0.1:9", openai_base_url="http://127.0.0.1:9/v1",
        model="m", source="m", kind="process", pid=os.getpid(), pid_start="1", log_path=str(serve_home / "x.log"),
    ))
    status = spec_tod("serve", "status")
    assert "gone" in status.stdout, status.stdout
    assert spec_tod("serve", "stop", "old").returncode == 0
    assert recorded() == []
