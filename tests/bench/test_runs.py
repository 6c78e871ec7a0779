"""Whole bench runs against the scripted model server: accounting, sharding, merging, faults, DST mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spec_tod.bench.runner import BenchOptions, merge_runs, run_bench
from spec_tod.bench.store import load_records
from spec_tod.data.dialogue import Dialogue
from spec_tod.data.readers import load_dialogues
from spec_tod.score.references import interchange_id
from tests.bench.scripted_server import Faults, ScriptedServer
from tests.bench.servers import FakeServer

LIMIT = 6


@pytest.fixture(scope="module")
def dialogues(data_dir: Path) -> list[Dialogue]:
    return load_dialogues("multiwoz21", data_dir, "test").dialogues[:LIMIT]


def _options(url: str, run_dir: Path, data_dir: Path, **overrides: object) -> BenchOptions:
    settings: dict = {"template": "llama3", "limit_dialogues": LIMIT, "concurrency": 8, **overrides}
    return BenchOptions(endpoints=[url], run_dir=run_dir, data_dir=data_dir, **settings)


def _turns(dialogues: list[Dialogue]) -> dict[str, int]:
    return {interchange_id(d.id): len(d.turns) for d in dialogues}


def test_e2e_run_writes_every_turn_scores_and_report(
    scripted_server: ScriptedServer, tmp_path: Path, data_dir: Path, dialogues: list[Dialogue]
) -> None:
    outputs = run_bench(_options(scripted_server.url, tmp_path / "run", data_dir))
    assert outputs is not None
    predictions = json.loads((tmp_path / "run" / "predictions.json").read_text())
    assert {name: len(turns) for name, turns in predictions.items()} == _turns(dialogues)
    total = sum(_turns(dialogues).values())
    counts = outputs.report["turns"]
    assert (counts["done"], counts["failed"], counts["skipped"], counts["calls"]) == (total, 0, 0, 2 * total)
    assert scripted_server.outcomes["ok"] == 2 * total
    # The scripted model answers one prompt in 11 with text that is no call and no action.
    assert 0 < counts["parse_failed"] < total
    scores = json.loads((tmp_path / "run" / "scores.json").read_text())
    assert all(isinstance(scores[name], float) for name in ("inform", "success", "bleu", "combined"))
    assert set(outputs.report["latency_s"]) == {"dst", "response"}
    for name in ("report.json", "report.md", "plots/latency.svg", "plots/domains.svg"):
        assert (tmp_path / "run" / name).stat().st_size > 0
    # Rerunning a finished run sends nothing and rewrites the same predictions.
    before = (tmp_path / "run" / "predictions.json").read_bytes()
    run_bench(_options(scripted_server.url, tmp_path / "run", data_dir))
    assert scripted_server.outcomes["ok"] == 2 * total
    assert (tmp_path / "run" / "predictions.json").read_bytes() == before


def test_shard_counts_and_merged_shard_runs_give_identical_predictions(
    scripted_server: ScriptedServer, tmp_path: Path, data_dir: Path
) -> None:
    run_bench(_options(scripted_server.url, tmp_path / "one", data_dir, shards=1))
    run_bench(_options(scripted_server.url, tmp_path / "four", data_dir, shards=4))
    expected = (tmp_path / "one" / "predictions.json").read_bytes()
    assert (tmp_path / "four" / "predictions.json").read_bytes() == expected
    assert len(list((tmp_path / "four" / "shards").iterdir())) == 4

    for shard, machine in [(0, "a"), (1, "b"), (2, "a"), (3, "b")]:
        partial = run_bench(_options(scripted_server.url, tmp_path / machine, data_dir, shards=4, shard=shard))
        assert partial is None  # each machine holds two of the four shards
    assert not (tmp_path / "a" / "predictions.json").exists()
    assert merge_runs([tmp_path / "a", tmp_path / "b"], tmp_path / "merged", data_dir) is not None
    assert (tmp_path / "merged" / "predictions.json").read_bytes() == expected


def test_faults_are_retried_and_failed_turns_are_reported_then_retried_on_rerun(
    tmp_path: Path, data_dir: Path, dialogues: list[Dialogue]
) -> None:
    faults = Faults(rate_429=0.15, rate_503=0.15, rate_drop=0.1, rate_slow=0.1, slow_s=1.5, always_fail_every=23)
    total = sum(_turns(dialogues).values())
    options = _options("", tmp_path / "run", data_dir, timeout_s=1.0, max_retries=3, outage_budget_s=4.0)
    with ScriptedServer(delay_s=0.002, faults=faults) as server:
        options.endpoints = [server.url]
        outputs = run_bench(options)
    assert outputs is not None
    counts = outputs.report["turns"]
    assert counts["done"] + counts["failed"] + counts["skipped"] == total
    assert counts["failed"] > 0 and counts["retried_attempts"] > 0
    assert {"429", "503", "drop", "slow", "always_503"} <= set(server.outcomes)
    generations = json.loads((tmp_path / "run" / "generations.json").read_text())
    failed = [turn for turns in generations.values() for turn in turns if turn["status"] == "failed"]
    assert len(failed) == counts["failed"] and all("503" in turn["error"] for turn in failed)
    assert "Rerun the same command" in (tmp_path / "run" / "report.md").read_text()

    with ScriptedServer(delay_s=0.002) as healthy:
        options.endpoints = [healthy.url]
        outputs = run_bench(options)
        run_bench(_options(healthy.url, tmp_path / "clean", data_dir))
    counts = outputs.report["turns"]
    assert (counts["done"], counts["failed"], counts["skipped"]) == (total, 0, 0)
    assert (tmp_path / "run" / "predictions.json").read_bytes() == (tmp_path / "clean" / "predictions.json").read_bytes()


def test_dst_mode_predicts_states_for_every_turn_from_gold_history(
    scripted_server: ScriptedServer, tmp_path: Path, data_dir: Path, dialogues: list[Dialogue]
) -> None:
    outputs = run_bench(_options(scripted_server.url, tmp_path / "dst", data_dir, mode="dst"))
    assert outputs is not None
    total = sum(_turns(dialogues).values())
    assert outputs.report["turns"]["calls"] == total
    assert set(outputs.report["latency_s"]) == {"dst"}
    predictions = json.loads((tmp_path / "dst" / "predictions.json").read_text())
    assert {name: len(turns) for name, turns in predictions.items()} == _turns(dialogues)
    assert all(turn["response"] == "" and isinstance(turn["state"], dict) for turns in predictions.values() for turn in turns)
    assert any(turn["state"] for turns in predictions.values() for turn in turns)
    assert outputs.report["scores"]["dst"] is not None
    # Responses are empty by design in DST mode: no Inform, Success or BLEU of them.
    scores = json.loads((tmp_path / "dst" / "scores.json").read_text())
    assert set(scores) - {"provenance"} == {"dst", "coverage", "inputs"}


def test_requests_are_spread_over_several_endpoints(tmp_path: Path, data_dir: Path, dialogues: list[Dialogue]) -> None:
    with ScriptedServer(delay_s=0.01) as first, ScriptedServer(delay_s=0.01) as second:
        outputs = run_bench(_options(first.url, tmp_path / "run", data_dir))
        assert outputs is not None
        options = _options(first.url, tmp_path / "two", data_dir)
        options.endpoints = [first.url, second.url]
        run_bench(options)
    calls = 2 * sum(_turns(dialogues).values())
    assert first.outcomes["ok"] + second.outcomes["ok"] == 2 * calls
    assert second.outcomes["ok"] > calls // 4
    assert (tmp_path / "two" / "predictions.json").read_bytes() == (tmp_path / "run" / "predictions.json").read_bytes()


def _predictions(run_dir: Path) -> bytes:
    return (run_dir / "predictions.json").read_bytes()


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """A run against a fault-free server: the predictions every faulty run must reproduce."""
    run_dir = tmp_path_factory.mktemp("unbroken") / "run"
    with ScriptedServer(delay_s=0.002) as server:
        run_bench(_options(server.url, run_dir, data_dir))
    return run_dir


@pytest.mark.parametrize("outage_s", [3.0, pytest.param(20.0, marks=pytest.mark.slow)])
def test_a_server_down_mid_run_is_waited_out(
    tmp_path: Path, data_dir: Path, dialogues: list[Dialogue], unbroken: Path, outage_s: float
) -> None:
    # The check takes the server down for 20 s (slow); 3 s exercise the same path (refused connections,
    # dropped requests, health polling) in the quick suite. The outage budget, not a clock, bounds the wait.
    total = sum(_turns(dialogues).values())
    with ScriptedServer(delay_s=0.01, outage_after=40, outage_s=outage_s) as server:
        outputs = run_bench(_options(server.url, tmp_path / "run", data_dir, outage_budget_s=10 * outage_s))
    assert outputs is not None and server.outcomes["outages"] == 1
    counts = outputs.report["turns"]
    assert (counts["done"], counts["failed"], counts["skipped"]) == (total, 0, 0)
    assert counts["retried_attempts"] >= 1  # the requests in flight when it went down were sent again
    assert _predictions(tmp_path / "run") == _predictions(unbroken)
    # Latency counts every attempt and the waits between them: a call that was cut off by the outage
    # cannot have finished before the server listened again (a lower bound, so no race).
    assert max(stats["max_s"] for stats in outputs.report["latency_s"].values()) >= 0.8 * outage_s


def test_an_outage_longer_than_the_budget_fails_turns_and_leaves_no_scores(
    tmp_path: Path, data_dir: Path, dialogues: list[Dialogue]
) -> None:
    with ScriptedServer(delay_s=0.01, outage_after=40, outage_s=4.0) as server:
        outputs = run_bench(_options(server.url, tmp_path / "run", data_dir, outage_budget_s=0.5))
    assert outputs is not None
    counts = outputs.report["turns"]
    assert counts["failed"] > 0
    assert counts["done"] + counts["failed"] + counts["skipped"] == sum(_turns(dialogues).values())
    assert outputs.report["complete"] is False and outputs.report["scores"] is None
    assert not (tmp_path / "run" / "predictions.json").exists() and not (tmp_path / "run" / "scores.json").exists()
    incomplete = json.loads((tmp_path / "run" / "predictions.incomplete.json").read_text())
    assert set(incomplete) == set(_turns(dialogues))
    assert "Incomplete run: no scores" in (tmp_path / "run" / "report.md").read_text()


def test_malformed_and_empty_answers_are_retried(
    tmp_path: Path, data_dir: Path, dialogues: list[Dialogue], unbroken: Path
) -> None:
    total = sum(_turns(dialogues).values())
    with ScriptedServer(delay_s=0.002, faults=Faults(rate_malformed=0.1, faulty_attempts=2)) as server:
        outputs = run_bench(_options(server.url, tmp_path / "run", data_dir))
    assert outputs is not None
    counts = outputs.report["turns"]
    assert (counts["done"], counts["failed"], counts["skipped"]) == (total, 0, 0)
    assert server.outcomes["malformed"] >= 0.05 * 2 * total  # about 10 % of the first attempts, some second ones
    assert counts["retried_attempts"] == server.outcomes["malformed"]
    assert _predictions(tmp_path / "run") == _predictions(unbroken)


def test_a_huge_answer_fails_its_turn_and_is_never_stored(
    tmp_path: Path, data_dir: Path, dialogues: list[Dialogue]
) -> None:
    with ScriptedServer(delay_s=0.002, faults=Faults(huge_every=40)) as server:
        outputs = run_bench(_options(server.url, tmp_path / "run", data_dir))
    assert outputs is not None and server.outcomes["huge"] >= 1
    counts = outputs.report["turns"]
    assert counts["failed"] == server.outcomes["huge"]  # rejected at once, not retried
    generations = json.loads((tmp_path / "run" / "generations.json").read_text())
    errors = [turn["error"] for turns in generations.values() for turn in turns if turn["status"] == "failed"]
    assert len(errors) == counts["failed"] and all("answer of 10,485,8" in error for error in errors)
    biggest = max(path.stat().st_size for path in (tmp_path / "run").rglob("*") if path.is_file())
    assert biggest < 1_000_000  # the 10 MB answers went nowhere


def test_multiwoz22_runs_end_to_end_with_the_multiwoz21_goals(
    scripted_server: ScriptedServer, tmp_path: Path, data_dir: Path
) -> None:
    outputs = run_bench(_options(scripted_server.url, tmp_path / "run", data_dir, dataset="multiwoz22"))
    assert outputs is not None
    dialogues = load_dialogues("multiwoz22", data_dir, "test").dialogues[:LIMIT]
    turns = sum(len(d.turns) for d in dialogues)
    assert outputs.report["turns"]["done"] == turns and outputs.report["turns"]["dialogues"] == len(dialogues)
    scores = json.loads((tmp_path / "run" / "scores.json").read_text())
    assert scores["coverage"]["dialogues"] == len(dialogues) and isinstance(scores["inform"], float)


def test_answers_with_half_a_character_are_stored_with_a_replacement_character(tmp_path: Path, data_dir: Path) -> None:
    # json.dumps writes the lone surrogate as the escape \ud83d: valid JSON, no valid UTF-8
    with FakeServer(answer=lambda prompt: "cut \ud83d here") as server:
        outputs = run_bench(_options(server.url, tmp_path / "run", data_dir, limit_dialogues=2))
    assert outputs is not None and outputs.report["turns"]["failed"] == 0
    records = load_records((tmp_path / "run" / "shards").glob("*.jsonl"))
    texts = {call.text for record in records.values() for call in record.calls}
    assert texts == {"cut \ufffd here"}
