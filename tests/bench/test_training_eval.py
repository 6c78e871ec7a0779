"""Evaluation during training: a real CPU training of the tiny model benches the dev split every N steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spec_tod.bench.training_eval import PLUGIN, read_settings
from spec_tod.cli.finetune_eval import with_dev_eval
from spec_tod.errors import SpecTodError
from spec_tod.tasks.response_data import ResponseBuildOptions, build_response_data
from spec_tod.train.axolotl_config import check_segments_bos
from spec_tod.train.settings import TrainSettings
from tests.train.conftest import spec_tod


@pytest.fixture(scope="module")
def response_data(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, tiny_model_dir: Path) -> Path:
    """Response records of 1 % of dev, starting with the BOS the tiny model's tokenizer adds (as a server does)."""
    out = tmp_path_factory.mktemp("response-data")
    build_response_data(
        ResponseBuildOptions(
            dataset="multiwoz21",
            data_dir=data_dir,
            split="dev",
            out=out,
            fraction=0.01,
            seed=1,
            tokenizer=tiny_model_dir,
        )
    )
    return out


def test_evaluation_during_training_is_refused_where_it_cannot_run(
    response_data: Path, tmp_path: Path, data_dir: Path
) -> None:
    settings = TrainSettings.model_validate(
        {"base_model": "org/model", "data": [{"path": response_data}], "output_dir": tmp_path / "run"}
    )
    with pytest.raises(SpecTodError, match="--backend local"):
        with_dev_eval(settings, "docker", 2, 2, None, data_dir, None)
    fsdp = settings.model_copy(update={"distributed": settings.distributed.model_copy(update={"strategy": "fsdp"})})
    with pytest.raises(SpecTodError, match="shards the weights"):
        with_dev_eval(fsdp, "local", 2, 2, None, data_dir, None)
    planned, evaluation = with_dev_eval(settings, "local", 2, 3, None, data_dir, None)
    assert json.loads((response_data / "multiwoz21-dev-response-turns.jsonl").read_text().splitlines()[0])["segments"][
        0
    ]["text"].startswith("<|begin_of_text|>user> ")
    assert planned.axolotl["plugins"] == [PLUGIN]
    assert (evaluation.mode, evaluation.every, evaluation.dialogues, evaluation.model_dir) == ("response", 2, 3, None)


@pytest.mark.slow
def test_cpu_training_writes_dev_scores_at_each_evaluation_step(
    response_data: Path, tiny_model_dir: Path, tmp_path: Path, data_dir: Path
) -> None:
    run = tmp_path / "run"
    done = spec_tod(
        "finetune",
        "--profile",
        "cpu",
        "--base-model",
        str(tiny_model_dir),
        "--data",
        str(response_data),
        "--output-dir",
        str(run),
        "--backend",
        "local",
        "--max-steps",
        "4",
        "--eval-every",
        "2",
        "--eval-dialogues",
        "2",
        "--eval-data-dir",
        str(data_dir),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert read_settings(run).mode == "response"
    lines = [json.loads(line) for line in (run / "dev-eval" / "scores.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [2, 4]
    assert all(isinstance(line["dev/bleu"], float) and line["dev/turns_failed"] == 0 for line in lines)
    for step in (2, 4):
        report = json.loads((run / "dev-eval" / f"step-{step}" / "report.json").read_text())
        assert (report["config"]["split"], report["config"]["limit_dialogues"]) == ("dev", 2)
    assert done.stdout.count("[spec-tod dev eval] step ") == 2
    # The trainer's own log history has the scores beside the loss.
    state = json.loads((run / "checkpoint-4" / "trainer_state.json").read_text())
    logged = [entry for entry in state["log_history"] if "dev/bleu" in entry]
    assert [entry["step"] for entry in logged] == [2, 4]
    # Logging the scores left the loss of those steps logged too (Trainer.log clears the step's should_log).
    assert [entry["step"] for entry in state["log_history"] if "loss" in entry] == [1, 2, 3, 4]
    # Training throughput, without the time the evaluations paused it.
    throughput = json.loads((run / "throughput.json").read_text())
    assert throughput["steps"] == 4 and throughput["paused_s"] == pytest.approx(sum(line["seconds"] for line in lines))
    assert throughput["tokens_per_s"] > 0 and "steps/s (it/s)" in done.stderr
    # Its steady rate: step 3 alone (steps 1-2 warm up, the dev evaluation at step 4 ran inside its window).
    assert throughput["steady_steps"] == 1 and throughput["steady_trainable_tokens_per_s"] > 0


def test_response_records_without_the_tokenizers_bos_are_refused(
    tiny_model_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    build_response_data(
        ResponseBuildOptions(dataset="multiwoz21", data_dir=data_dir, split="dev", out=tmp_path, fraction=0.01, seed=1)
    )
    settings = TrainSettings.model_validate(
        {"base_model": str(tiny_model_dir), "data": [{"path": tmp_path}], "output_dir": tmp_path / "run"}
    )
    with pytest.raises(SpecTodError, match="--tokenizer"):
        check_segments_bos(settings)
