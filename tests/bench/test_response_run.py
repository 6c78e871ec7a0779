"""``bench --mode response`` against an oracle that knows only the training records: bench must send their text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spec_tod.bench.response_run import ResponseLayout, run_response_bench
from spec_tod.bench.runner import BenchOptions
from spec_tod.data.dialogue import Dialogue
from spec_tod.data.readers import load_dialogues
from spec_tod.score.references import interchange_id
from spec_tod.tasks.length import TokenCounter
from spec_tod.tasks.response import ContextBudget, one_line, turn_records
from tests.bench.stand_ins import OracleServer

LIMIT = 5


@pytest.fixture(scope="module")
def dialogues(data_dir: Path) -> list[Dialogue]:
    return load_dialogues("multiwoz21", data_dir, "test").dialogues[:LIMIT]


def _oracle_answers(dialogues: list[Dialogue], budget: ContextBudget) -> dict[str, str]:
    """The training records' prompts and continuations, as ``build-data --task response`` writes them."""
    return {
        record.segments[0][1]: record.segments[1][1]
        for dialogue in dialogues
        for record in turn_records(dialogue, budget)
    }


def _options(url: str, run_dir: Path, data_dir: Path) -> BenchOptions:
    return BenchOptions(endpoints=[url], run_dir=run_dir, data_dir=data_dir, limit_dialogues=LIMIT, concurrency=4)


def test_response_run_reproduces_the_gold_delexicalised_responses(
    tmp_path: Path, data_dir: Path, dialogues: list[Dialogue]
) -> None:
    budget = ContextBudget(80, TokenCounter().count_texts)
    oracle = OracleServer(answers=_oracle_answers(dialogues, budget))
    with oracle:
        outputs = run_response_bench(_options(oracle.url, tmp_path / "run", data_dir), ResponseLayout(80))
        assert outputs is not None and oracle.refused == 0
        predictions = json.loads((tmp_path / "run" / "predictions.json").read_text())
        for dialogue in dialogues:
            assert [turn["response"] for turn in predictions[interchange_id(dialogue.id)]] == [
                one_line(turn.system_delex) for turn in dialogue.turns
            ]
        assert outputs.report["scores"]["bleu"] == pytest.approx(100.0)
        assert outputs.report["config"]["mode"] == "response"
        assert all(body.body["stop"] == ["\n"] for body in oracle.received)

        # Without the budget the training data was built with, the long prompts are not the training text.
        outputs = run_response_bench(_options(oracle.url, tmp_path / "untruncated", data_dir))
        assert outputs is not None and oracle.refused > 0
        assert outputs.report["turns"]["failed"] == oracle.refused
