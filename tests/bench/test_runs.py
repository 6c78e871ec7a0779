"""Whole bench runs against the scripted model server: accounting, sharding, merging, faults, DST mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spec_tod.bench.runner import BenchOptions, merge_runs, run_bench
from spec_tod.data.dialogue import Dialogue
from spec_tod.data.readers import load_dialogues
from spec_tod.score.references import interchange_id
from tests.bench.scripted_server import Faults, ScriptedServer

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
    options = _options("", tmp_path / "run", data_dir, timeout_s=1.0, max_retries=3)
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
