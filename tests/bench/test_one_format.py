"""One format from training to inference: bench's prompts are the training texts, token for token.

An oracle model (:mod:`tests.bench.oracle`) that answers every prompt with the continuation of the
build-data record it is a prefix of, and refuses anything else, is benchmarked by the real
``spec-tod bench`` over the whole MultiWOZ 2.1 test split in both modes, with the Llama-3 template
(through a tokenizer that adds its own BOS) and with Qwen2.5's template (which lacks the function
and observation roles, so the role mapping is in play).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spec_tod.chat.template import load_chat_template
from spec_tod.cli import app
from spec_tod.score.evaluate import score_predictions
from spec_tod.score.references import ground_truth_predictions
from tests.bench.oracle import Oracle
from tests.bench.servers import FakeServer
from tests.fixtures.templates import QWEN25_CHAT_TEMPLATE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("records")
    for task in ("dst", "e2e"):
        result = CliRunner().invoke(
            app, ["build-data", "--dataset", "multiwoz21", "--data-dir", str(data_dir), "--split", "test",
                  "--task", task, "--out", str(out)],
        )
        assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def gold_scores(data_dir: Path):
    from spec_tod.bench.runner import load_inputs

    inputs = load_inputs("multiwoz21", data_dir, "test", None)
    return score_predictions(ground_truth_predictions(inputs.dialogues), inputs.dialogues, database=inputs.database)


@pytest.fixture(scope="module")
def qwen_model_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model's tokenizer with Qwen2.5's chat template."""
    folder = tmp_path_factory.mktemp("qwen") / "model"
    shutil.copytree(tiny_model_dir, folder)
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config.pop("chat_template", None)
    config_path.write_text(json.dumps(config))
    (folder / "chat_template.jinja").write_text(QWEN25_CHAT_TEMPLATE)
    return folder


def _bench(
    model_dir: Path, records: Path, data_dir: Path, run_dir: Path, mode: str, adds_bos: bool
) -> tuple[dict, Oracle]:
    template = load_chat_template(model_dir)
    # End-to-end runs ask the DST layout for calls and the end-to-end layout for replies: a model
    # trained on both files, as the recipe trains it.
    tasks = ("dst",) if mode == "dst" else ("dst", "e2e")
    oracle = Oracle([records / f"multiwoz21-test-{task}.jsonl" for task in tasks], template, server_adds_bos=adds_bos)
    with FakeServer(answer=oracle) as server:
        result = CliRunner().invoke(
            app,
            ["bench", "--endpoint", server.url, "--model-dir", str(model_dir), "--data-dir", str(data_dir),
             "--split", "test", "--mode", mode, "--run-dir", str(run_dir), "--concurrency", "64", "--max-retries", "0",
             "--max-model-len", "100000"],
        )
    assert oracle.refused == [], f"{len(oracle.refused)} refused, first: {oracle.refused[:1]}"
    assert result.exit_code == 0, result.output
    return json.loads((run_dir / "report.json").read_text()), oracle


@pytest.mark.parametrize("template", ["llama3", "qwen2.5"])
@pytest.mark.parametrize("mode", ["dst", "e2e"])
def test_oracle_scores_like_the_data(
    template: str, mode: str, records: Path, data_dir: Path, tiny_model_dir: Path, qwen_model_dir: Path,
    gold_scores, tmp_path: Path,
) -> None:
    model_dir = tiny_model_dir if template == "llama3" else qwen_model_dir
    report, oracle = _bench(model_dir, records, data_dir, tmp_path / "run", mode, adds_bos=template == "llama3")
    scores = json.loads((tmp_path / "run" / "scores.json").read_text())
    counts = report["turns"]
    assert (counts["turns"], counts.get("failed", 0), counts.get("skipped", 0)) == (7372, 0, 0)
    assert oracle.answered == 7372 * (1 if mode == "dst" else 2)
    assert oracle.after_ambiguous < 100  # the few dialogues that open like another one
    assert scores["dst"]["joint_accuracy"] >= 97
    if mode == "e2e":
        assert abs(scores["inform"] - gold_scores.inform) <= 1
        assert abs(scores["success"] - gold_scores.success) <= 1
        assert abs(scores["bleu"] - gold_scores.bleu) <= 1
