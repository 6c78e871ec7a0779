"""Shared, expensive setups for the training tests: real build-data output, one LoRA run, one merge.

The run follows the CPU recipe: ``spec-tod finetune --backend local
--profile cpu`` (5 steps, in-process launcher) on the tiny Llama, then ``spec-tod merge``.
Each is a real ``spec-tod`` process bounded by a timeout.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from spec_tod.cli import main
from spec_tod.tasks.build import BuildOptions, build_data

# 2% of MultiWOZ 2.1 dev with seed 1: 20 dialogues, enough rows for 5 steps of 2 and a quick tokenization.
DEV_FRACTION = 0.02
DEV_SEED = 1
PROCESS_TIMEOUT_S = 900  # a loaded 2-core machine; 16 s + 12 s measured unloaded


def spec_tod(*args: str, timeout: float = PROCESS_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    """Run the ``spec-tod`` CLI in a child process (this interpreter), capturing its output."""
    env = {**os.environ, "AXOLOTL_DO_NOT_TRACK": "1", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-c", "from spec_tod.cli import main; main()", *args],
        capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL,
    )


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str  # whitespace collapsed: rich wraps long messages at the console width


@pytest.fixture()
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run ``spec-tod ARGS`` in this process (axolotl's schema is imported once), returning code and output."""

    def run(*args: str) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["spec-tod", *args])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as done:
            code = int(done.code or 0)
        out, err = capsys.readouterr()
        return CliResult(code, out, " ".join(err.split()))

    return run


@pytest.fixture(scope="session")
def dev_data(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """build-data's DST output for a slice of MultiWOZ 2.1 dev (the folder holding the .jsonl and manifest)."""
    out = tmp_path_factory.mktemp("build-data")
    build_data(
        BuildOptions(
            dataset="multiwoz21", data_dir=data_dir / "multiwoz21", split="dev", task="dst", out=out,
            fraction=DEV_FRACTION, seed=DEV_SEED,
        )
    )
    return out


@pytest.fixture(scope="session")
def lora_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, dev_data: Path) -> Path:
    """A finished LoRA run folder, trained by ``spec-tod finetune --backend local`` with the CPU profile."""
    run = tmp_path_factory.mktemp("runs") / "lora"
    done = spec_tod(
        "finetune", "--preset", "spec-tod", "--profile", "cpu", "--base-model", str(tiny_model_dir),
        "--data", str(dev_data), "--output-dir", str(run), "--backend", "local",
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return run


@pytest.fixture(scope="session")
def merged_run(lora_run: Path) -> Path:
    """The same run after ``spec-tod merge --backend local``."""
    done = spec_tod("merge", str(lora_run), "--backend", "local")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return lora_run
