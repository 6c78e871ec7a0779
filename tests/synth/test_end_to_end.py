"""End to end on the CPU: simulate the MultiWOZ graph, convert, `finetune --dry-run`, a few real training steps;
and a few dialogues against the tiny model served by `transformers serve`.

The 50 dialogues come from the scripted stand-in (the tiny model's weights are random: it writes no
JSON, so every dialogue of the real server stops at its first JSON turn, which the last test checks).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from spec_tod.serve.local import free_port
from spec_tod.synth.simulate import TurnLog
from tests.synth.stand_in import StandIn

pytestmark = pytest.mark.slow

TIMEOUT_S = 900
DIALOGUES = 50


def spec_tod(
    *args: str, env: dict[str, str] | None = None, timeout: float = TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from spec_tod.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={
            **os.environ,
            "AXOLOTL_DO_NOT_TRACK": "1",
            "DO_NOT_TRACK": "1",
            "HF_HUB_OFFLINE": "1",
            "COLUMNS": "200",
            **(env or {}),
        },
    )


@pytest.fixture(scope="module")
def synth_data(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, tiny_model_dir: Path) -> Path:
    """50 restaurant dialogues simulated through the CLI against the stand-in, converted by the CLI."""
    work = tmp_path_factory.mktemp("synth-e2e")
    with StandIn() as server:
        done = spec_tod(
            "synth",
            "simulate",
            "multiwoz_restaurant",
            "--count",
            str(DIALOGUES),
            "--run-dir",
            str(work / "run"),
            "--endpoint",
            server.url,
            "--model-dir",
            str(tiny_model_dir),
            env={"SPEC_TOD_DATA_DIR": str(data_dir)},
        )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"{DIALOGUES} dialogues: {DIALOGUES} complete, 0 failed" in done.stdout, done.stdout
    converted = spec_tod("synth", "convert", str(work / "run"), "--out", str(work / "data"))
    assert converted.returncode == 0, converted.stderr[-3000:]
    assert f"{DIALOGUES} records" in converted.stdout
    return work / "data"


def test_finetune_dry_run_accepts_the_converted_data(synth_data: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    done = spec_tod(
        "finetune",
        "--preset",
        "spec-tod",
        "--profile",
        "cpu",
        "--base-model",
        str(tiny_model_dir),
        "--data",
        str(synth_data),
        "--output-dir",
        str(tmp_path / "run"),
        "--backend",
        "local",
        "--dry-run",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    config = yaml.safe_load(done.stdout)
    assert [d["path"] for d in config["datasets"]] == [str(synth_data / "synth-multiwoz_restaurant.jsonl")]


def test_a_few_training_steps_run(synth_data: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "lora"
    done = spec_tod(
        "finetune",
        "--preset",
        "spec-tod",
        "--profile",
        "cpu",
        "--base-model",
        str(tiny_model_dir),
        "--data",
        str(synth_data),
        "--output-dir",
        str(run),
        "--backend",
        "local",
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (run / "adapter_model.safetensors").is_file()
    assert "Training completed!" in (run / "train.log").read_text()


def test_a_few_dialogues_against_the_served_tiny_model(data_dir: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    env = {
        "SPEC_TOD_HOME": str(tmp_path / "home"),
        "HF_HUB_CACHE": str(tmp_path / "hf-hub"),
        "SPEC_TOD_DATA_DIR": str(data_dir),
    }
    started = spec_tod(
        "serve", str(tiny_model_dir), "--engine", "transformers", "--port", str(port), "--timeout", "240", env=env
    )
    assert started.returncode == 0, started.stderr + started.stdout
    try:
        done = spec_tod(
            "synth",
            "simulate",
            "multiwoz_restaurant",
            "--count",
            "3",
            "--run-dir",
            str(tmp_path / "run"),
            "--model-dir",
            str(tiny_model_dir),
            "--model",
            str(tiny_model_dir.resolve()),
            "--max-tokens",
            "16",
            env=env,
        )
    finally:
        stopped = spec_tod("serve", "stop", "--all", env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert stopped.returncode == 0, stopped.stderr
    logs = [TurnLog.model_validate_json(line) for line in (tmp_path / "run" / "turns.jsonl").read_text().splitlines()]
    calls = [call for log in logs for call in log.calls]
    # the tiny tokenizer adds the BOS itself: the prompt text starts after it (one BOS, as bench sends)
    assert calls and all(call.prompt.startswith("<|start_header_id|>user<|end_header_id|>\n\n") for call in calls)
    assert all(call.prompt.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n") for call in calls)
    dialogues = [json.loads(line) for line in (tmp_path / "run" / "dialogues.jsonl").read_text().splitlines()]
    assert [d["status"] for d in dialogues] == ["failed"] * 3
    # random weights write no JSON: each dialogue's first JSON turn fails after its repair call
    failed = [log for log in logs if log.status == "failed"]
    assert len(failed) == 3 and {log.intent for log in failed} == {"find_restaurant"}
    for log in failed:
        assert [call.purpose for call in log.calls] == ["turn", "repair"]
        assert "even after the repair call" in (log.error or "")
