"""The whole spec-tod pipeline on a tiny model, on the CPU, in minutes: what ``spec-tod quickstart`` runs.

Every stage but one is the ``spec-tod`` command a user would type, run as a subprocess and
printed first, so the quickstart doubles as a worked example; its output goes to
``WORKDIR/logs/<stage>.log``. The exception is building the tiny model, which has no command
(:func:`spec_tod.models.tiny.build_tiny_model`). Stages: build data from MultiWOZ dev, build a
tiny Llama whose tokenizer is trained on that data, fine-tune it with axolotl for a few steps
(LoRA, the spec-tod preset's CPU profile), merge the adapter, serve the merged model with
``transformers serve``, bench a few test dialogues end to end, score them. The server is
stopped however the run ends.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from spec_tod.errors import SpecTodError
from spec_tod.quickstart.data import resolve_data_dir
from spec_tod.serve import registry
from spec_tod.serve.local import free_port
from spec_tod.settings import state_dir

MARKER = ".spec-tod-quickstart"
SERVER_NAME = "spec-tod-quickstart"
TRAIN_FILE = "multiwoz21-dev-e2e.jsonl"
LOG_TAIL_ON_FAILURE = 25


@dataclass(frozen=True)
class QuickstartOptions:
    """What ``spec-tod quickstart`` was asked for."""

    workdir: Path = Path("runs/quickstart")
    data_dir: Path | None = None
    dialogues: int = 3
    steps: int = 8
    fraction: float = 0.02
    """Share of the 999 MultiWOZ dev dialogues to train on (0.02: 20 dialogues, enough for 8 steps of 2)."""
    port: int | None = None
    dst_max_new_tokens: int = 32
    response_max_new_tokens: int = 48
    """Short generations: the untrained tiny model never stops by itself, so these bound the bench time."""


@dataclass(frozen=True)
class StageResult:
    """One finished stage: its name, how long it took and its key figure."""

    name: str
    seconds: float
    figure: str


@dataclass
class QuickstartResult:
    """Everything the closing summary shows."""

    data_dir: Path
    data_source: str
    stages: list[StageResult] = field(default_factory=list)
    report: Path | None = None
    scores: Path | None = None


Announce = Callable[[str], None]


def run_quickstart(options: QuickstartOptions, announce: Announce) -> QuickstartResult:
    """Run every stage in ``options.workdir``; ``announce`` receives each command before it runs."""
    work = _prepare_workdir(options.workdir)
    logs = work / "logs"
    started = time.monotonic()
    data_dir, source = resolve_data_dir(options.data_dir, state_dir() / "data")
    result = QuickstartResult(data_dir=data_dir, data_source=source)
    result.stages.append(StageResult("data folder", time.monotonic() - started, f"{data_dir} ({source})"))
    data, model, run = work / "data", work / "tiny-model", work / "run"
    merged, bench, scores = run / "merged", work / "bench", work / "scores.json"

    result.stages.append(_stage("build data", announce, logs, [
        "build-data", "--dataset", "multiwoz21", "--data-dir", str(data_dir), "--split", "dev", "--task", "e2e",
        "--fraction", str(options.fraction), "--seed", "42", "--out", str(data),
    ], lambda: f"{_count_lines(data / TRAIN_FILE)} training dialogues (MultiWOZ 2.1 dev)"))

    announce(f"python: spec_tod.models.tiny.build_tiny_model({str(model)!r}, texts of {TRAIN_FILE})")
    began = time.monotonic()
    _build_model(data / TRAIN_FILE, model, logs / "tiny-model.log")
    result.stages.append(StageResult("tiny model", time.monotonic() - began, _model_figure(model)))

    result.stages.append(_stage("fine-tune", announce, logs, [
        "finetune", "--preset", "spec-tod", "--profile", "cpu", "--base-model", str(model), "--data", str(data),
        "--output-dir", str(run), "--backend", "local", "--max-steps", str(options.steps),
    ], lambda: _training_figure(run)))

    result.stages.append(_stage("merge", announce, logs, ["merge", str(run), "--backend", "local"], lambda: str(merged)))

    port = options.port or free_port()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        result.stages.append(_stage("serve", announce, logs, [
            "serve", str(merged), "--engine", "transformers", "--port", str(port), "--name", SERVER_NAME,
            "--timeout", "300",
        ], lambda: endpoint))
        result.stages.append(_stage("bench", announce, logs, [
            "bench", "run", "--endpoint", endpoint, "--model-dir", str(merged), "--dataset", "multiwoz21",
            "--data-dir", str(data_dir), "--split", "test", "--mode", "e2e", "--limit-dialogues", str(options.dialogues),
            "--dst-max-new-tokens", str(options.dst_max_new_tokens),
            "--response-max-new-tokens", str(options.response_max_new_tokens), "--run-dir", str(bench),
        ], lambda: _bench_figure(bench / "report.json")))
    finally:
        _stop_server(announce)
    result.stages.append(_stage("score", announce, logs, [
        "score", str(bench / "predictions.json"), "--dataset", "multiwoz21", "--data-dir", str(data_dir),
        "--split", "test", "--subset", "--json", str(scores),
    ], lambda: _score_figure(scores)))
    result.report, result.scores = bench / "report.md", scores
    return result


def spec_tod_command() -> list[str]:
    """How to run ``spec-tod`` from this Python environment."""
    script = Path(sys.executable).parent / "spec-tod"
    if script.is_file():
        return [str(script)]
    found = shutil.which("spec-tod")
    return [found] if found else [sys.executable, "-c", "from spec_tod.cli import main; main()"]


def _stage(name: str, announce: Announce, logs: Path, args: Sequence[str], figure: Callable[[], str]) -> StageResult:
    announce("spec-tod " + shlex.join(args))
    log = logs / f"{name.replace(' ', '-')}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    with open(log, "w", encoding="utf-8") as out:
        code = subprocess.run([*spec_tod_command(), *args], stdout=out, stderr=subprocess.STDOUT, env=_env()).returncode
    if code != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_TAIL_ON_FAILURE:]
        shown = "\n".join(f"  | {line}" for line in tail)
        raise SpecTodError(f"the {name} stage failed (exit status {code}); the end of {log}:\n{shown}")
    return StageResult(name, time.monotonic() - began, figure())


def _env() -> dict[str, str]:
    # Wide, plain output: the logs are read as files, not on a terminal.
    return {**os.environ, "COLUMNS": "160", "NO_COLOR": "1", "TERM": "dumb"}


def _prepare_workdir(workdir: Path) -> Path:
    workdir = workdir.expanduser().absolute()
    if workdir.exists() and any(workdir.iterdir()):
        if not (workdir / MARKER).is_file():
            raise SpecTodError(
                f"{workdir} exists and was not made by the quickstart; pass an empty or new --workdir"
            )
        shutil.rmtree(workdir)  # a quickstart folder from an earlier run: start clean
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / MARKER).write_text("made by spec-tod quickstart; rerunning it empties this folder\n")
    return workdir


def _build_model(train_file: Path, out: Path, log: Path) -> None:
    # torch and transformers print import warnings and progress bars on stderr; they belong in the log.
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(log, "w", encoding="utf-8") as out_log:
            os.dup2(out_log.fileno(), 2)
            from spec_tod.models.tiny import build_tiny_model, record_texts

            build_tiny_model(out, record_texts([train_file]))
            sys.stderr.flush()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _stop_server(announce: Announce) -> None:
    from spec_tod.serve import stop

    if any(record.name == SERVER_NAME for record in registry.servers()):
        announce(f"spec-tod serve stop {SERVER_NAME}")
        stop(SERVER_NAME)


def _count_lines(path: Path) -> int:
    with open(path, encoding="utf-8") as lines:
        return sum(1 for _ in lines)


def _model_figure(model: Path) -> str:
    config = json.loads((model / "config.json").read_text())
    return f"Llama, vocab {config['vocab_size']}, {config['num_hidden_layers']} layers of {config['hidden_size']}"


def _training_figure(run: Path) -> str:
    states = sorted(run.glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name.split("-")[1]))
    if not states:
        return f"adapter in {run}"
    losses = [entry["loss"] for entry in json.loads(states[-1].read_text())["log_history"] if "loss" in entry]
    steps = states[-1].parent.name.split("-")[1]
    return f"{steps} steps, loss {losses[0]:.3f} -> {losses[-1]:.3f}" if losses else f"{steps} steps"


def _bench_figure(report: Path) -> str:
    turns = json.loads(report.read_text())["turns"]
    return (
        f"{turns['dialogues']} dialogues, {turns['turns']} turns: {turns['done']} done, "
        f"{turns['failed']} failed, {turns['skipped']} skipped"
    )


def _score_figure(scores: Path) -> str:
    s = json.loads(scores.read_text())
    return f"Inform {s['inform']:.1f}, Success {s['success']:.1f}, BLEU {s['bleu']:.2f}, Combined {s['combined']:.2f}"
