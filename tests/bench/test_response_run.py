"""``bench --mode response`` against an oracle that knows only build-data's records: bench must send their text."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from spec_tod.bench.response_run import ResponseLayout, run_response_bench
from spec_tod.bench.rundir_lock import RunDirLock
from spec_tod.bench.runner import BenchOptions
from spec_tod.data.readers import LoadResult, load_dialogues
from spec_tod.errors import SpecTodError
from spec_tod.score.references import interchange_id
from spec_tod.tasks.response import one_line
from spec_tod.tasks.response_data import ResponseBuildOptions, build_response_data
from tests.bench.conftest import bench
from tests.bench.scripted_server import Faults, ScriptedServer
from tests.bench.stand_ins import OracleServer

LIMIT = 5
BUDGET = 80


@pytest.fixture(scope="module")
def split(data_dir: Path) -> LoadResult:
    loaded = load_dialogues("multiwoz21", data_dir, "test")
    return dataclasses.replace(loaded, dialogues=loaded.dialogues[:LIMIT])


@pytest.fixture(scope="module")
def oracle_answers(split: LoadResult, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Prompt -> continuation of every record ``build-data --task response --max-context-tokens 80`` writes."""
    out = tmp_path_factory.mktemp("records")
    options = ResponseBuildOptions(
        dataset="multiwoz21", data_dir=data_dir, split="test", out=out, max_context_tokens=BUDGET
    )
    built = build_response_data(options, loaded=split)
    answers = {}
    for line in built.summary.data_file.read_text(encoding="utf-8").splitlines():
        prompt, target = json.loads(line)["segments"]
        assert (prompt["label"], target["label"]) == (False, True)
        answers[prompt["text"]] = target["text"]
    return answers


def _options(url: str, run_dir: Path, data_dir: Path) -> BenchOptions:
    return BenchOptions(endpoints=[url], run_dir=run_dir, data_dir=data_dir, limit_dialogues=LIMIT, concurrency=4)


def test_response_run_reproduces_the_gold_delexicalised_responses(
    tmp_path: Path, data_dir: Path, split: LoadResult, oracle_answers: dict[str, str]
) -> None:
    oracle = OracleServer(answers=oracle_answers)
    with oracle:
        outputs = run_response_bench(_options(oracle.url, tmp_path / "run", data_dir), ResponseLayout(BUDGET))
        assert outputs is not None and oracle.refused == 0
        predictions = json.loads((tmp_path / "run" / "predictions.json").read_text())
        for dialogue in split.dialogues:
            assert [turn["response"] for turn in predictions[interchange_id(dialogue.id)]] == [
                one_line(turn.system_delex) for turn in dialogue.turns
            ]
        assert outputs.report["scores"]["bleu"] == pytest.approx(100.0)
        assert outputs.report["config"]["mode"] == "response"
        assert all(body.body["stop"] == ["\n"] for body in oracle.received)

        # The command line runs the same loop.
        done = bench(
            "--endpoint", oracle.url, "--mode", "response", "--max-context-tokens", str(BUDGET),
            "--data-dir", str(data_dir), "--limit-dialogues", str(LIMIT), "--run-dir", str(tmp_path / "cli"),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "cli" / "predictions.json").read_bytes() == (
            tmp_path / "run" / "predictions.json"
        ).read_bytes()

        # Without the budget the data was built with, the long prompts are not the training text.
        outputs = run_response_bench(_options(oracle.url, tmp_path / "untruncated", data_dir))
        assert outputs is not None and oracle.refused > 0
        assert outputs.report["turns"]["failed"] == oracle.refused


def test_response_runs_wait_out_an_outage_and_retry_malformed_answers(tmp_path: Path, data_dir: Path) -> None:
    # The fault policy lives in the client every mode uses: --mode response gets it as e2e does.
    with ScriptedServer(delay_s=0.002) as server:
        assert run_response_bench(_options(server.url, tmp_path / "unbroken", data_dir)) is not None
    faults = Faults(rate_malformed=0.1, faulty_attempts=2)
    with ScriptedServer(delay_s=0.01, outage_after=20, outage_s=2.0, faults=faults) as server:
        options = dataclasses.replace(_options(server.url, tmp_path / "run", data_dir), outage_budget_s=30.0)
        outputs = run_response_bench(options)
    assert outputs is not None and server.outcomes["outages"] == 1 and server.outcomes["malformed"] >= 1
    counts = outputs.report["turns"]
    assert (counts["done"], counts["failed"], counts["skipped"]) == (counts["turns"], 0, 0)
    assert (tmp_path / "run" / "predictions.json").read_bytes() == (tmp_path / "unbroken" / "predictions.json").read_bytes()


def test_a_response_run_dir_held_by_another_process_is_refused_before_any_request(tmp_path: Path, data_dir: Path) -> None:
    with ScriptedServer() as server, RunDirLock(tmp_path / "run"):  # flock: a second descriptor is refused too
        with pytest.raises(SpecTodError, match=f"in use by another spec-tod process \\(PID {os.getpid()}\\)"):
            run_response_bench(_options(server.url, tmp_path / "run", data_dir))
        sent = sum(server.outcomes.values())
    assert sent == 0 and sorted(path.name for path in (tmp_path / "run").iterdir()) == [".lock"]
