"""Bench runs with the ecosystem options: chat endpoints, streaming metrics, request rate, label and provenance."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from spec_tod.bench.runner import BenchOptions, run_bench
from spec_tod.settings import REPO_ROOT
from tests.bench.conftest import bench
from tests.bench.scripted_server import ScriptedServer
from tests.bench.servers import FakeServer
from tests.fixtures.hub_server import HubStandIn

LIMIT = 2
TURNS = 14  # turns of the first two MultiWOZ 2.1 test dialogues (6 + 8)


def _options(url: str, run_dir: Path, data_dir: Path, **overrides: object) -> BenchOptions:
    settings: dict = {"template": "llama3", "limit_dialogues": LIMIT, "concurrency": 4, **overrides}
    return BenchOptions(endpoints=[url], run_dir=run_dir, data_dir=data_dir, **settings)


def test_chat_protocol_runs_end_to_end_with_the_spec_tod_roles(tmp_path: Path, data_dir: Path) -> None:
    with ScriptedServer() as server:
        options = _options(server.url, tmp_path / "run", data_dir, protocol="chat", template=None, label="chat")
        outputs = run_bench(options)
    assert outputs is not None
    turns = outputs.report["turns"]
    assert (turns["turns"], turns["done"], turns["calls"]) == (TURNS, TURNS, 2 * TURNS)
    assert server.outcomes["ok"] == 2 * TURNS
    assert outputs.report["config"]["template"] == "server-chat:auto"
    assert outputs.report["session"]["protocol"] == "chat" and outputs.report["label"] == "chat"
    # the scripted model read where each prompt ends (an empty function message, or the reply's generation prompt)
    assert turns["parse_failed"] < TURNS // 2


def _streamed_dst_run(server: FakeServer, run_dir: Path, data_dir: Path) -> dict:
    options = _options(server.url, run_dir, data_dir, mode="dst", stream=True, percentiles=(50.0, 90.0, 99.0))
    outputs = run_bench(options)
    assert outputs is not None and outputs.report["turns"]["done"] == TURNS
    return outputs.report


def test_streamed_run_reports_ttft_tpot_and_itl_at_the_chosen_percentiles(tmp_path: Path, data_dir: Path) -> None:
    with FakeServer(stream_gap_s=0.02) as server:
        report = _streamed_dst_run(server, tmp_path / "run", data_dir)
    streaming = report["streaming"]
    assert streaming["percentiles"] == [50.0, 90.0, 99.0]
    dst = streaming["by_call"]["dst"]
    assert dst["calls"] == TURNS
    assert set(dst["ttft_ms"]) == set(dst["tpot_ms"]) == set(dst["itl_ms"]) == {"mean", "p50", "p90", "p99"}
    # the stand-in streams two pieces 20 ms apart: one gap per call, and TPOT = that gap over one more token
    assert dst["itl_ms"]["p50"] >= 19 and dst["tpot_ms"]["p50"] == dst["itl_ms"]["p50"]
    assert 0 < dst["ttft_ms"]["mean"] < dst["itl_ms"]["p50"] + 1000
    markdown = (tmp_path / "run" / "report.md").read_text()
    assert "## Streaming (milliseconds)" in markdown and "| dst | TTFT |" in markdown


def test_a_server_that_answers_whole_gives_no_streaming_metrics(tmp_path: Path, data_dir: Path) -> None:
    with FakeServer(streams=False) as server:
        report = _streamed_dst_run(server, tmp_path / "run", data_dir)
    assert report["streaming"]["by_call"] == {}
    assert "## Streaming" not in (tmp_path / "run" / "report.md").read_text()


def test_request_rate_and_provenance_are_in_the_report(tmp_path: Path, data_dir: Path) -> None:
    with FakeServer() as server:
        options = _options(server.url, tmp_path / "run", data_dir, mode="dst", request_rate=50.0, arrival="constant")
        outputs = run_bench(options)
    assert outputs is not None
    session = outputs.report["session"]
    assert (session["request_rate"], session["arrival"]) == (50.0, "constant")
    gaps = [b.at - a.at for a, b in zip(server.received, server.received[1:], strict=False)]
    assert abs(sum(gaps) / len(gaps) * 50.0 - 1) < 0.10  # 13 constant gaps of 20 ms
    provenance = outputs.report["provenance"]
    git = ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"]
    head = subprocess.run(git, capture_output=True, text=True).stdout.strip()
    assert provenance["git_revision"] == head
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", provenance["date"])
    assert provenance["tool"] == "spec-tod" and provenance["model"] is None
    scores = json.loads((tmp_path / "run" / "scores.json").read_text())
    assert scores["provenance"] == provenance


def test_cli_reads_the_api_key_from_the_environment_and_never_stores_it(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "sk-spec-tod-test-0123456789"
    monkeypatch.setenv("SPEC_TOD_API_KEY", key)
    with FakeServer(api_key=key, stream_gap_s=0.001) as server, HubStandIn(token="hf_results") as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_TOKEN", "hf_results")
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        args = ["--endpoint", server.url, "--protocol", "chat", "--chat-roles", "openai", "--stream", "--mode", "dst",
                "--limit-dialogues", str(LIMIT), "--data-dir", str(data_dir), "--run-dir", str(tmp_path / "run"),
                "--label", "hosted", "--percentiles", "50,99.9", "--push-to-hub", "me/results"]  # fmt: skip
        result = bench(*args)
    assert result.returncode == 0, result.stderr
    assert {r.authorization for r in server.received} == {f"Bearer {key}"}
    assert {r.body["messages"][1]["role"] for r in server.received} == {"user"}
    for path in (tmp_path / "run").rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["label"] == "hosted" and "--label hosted" in report["provenance"]["command"]
    assert set(report["streaming"]["by_call"]["dst"]["ttft_ms"]) == {"mean", "p50", "p99.9"}
    # the results went to the Hub under the run's folder name, without the checkpoints
    pushed = hub.repos["me/results"]
    assert pushed["run/report.json"] == (tmp_path / "run" / "report.json").read_bytes()
    assert {"run/predictions.json", "run/scores.json", "run/config.json", "run/report.md"} <= set(pushed)
    assert not any(path.startswith("run/shards/") for path in pushed)


def test_bad_percentiles_are_one_line(tmp_path: Path, data_dir: Path) -> None:
    result = bench("--endpoint", "http://127.0.0.1:1", "--template", "llama3", "--run-dir", str(tmp_path / "r"),
                   "--percentiles", "50,150")  # fmt: skip
    assert result.returncode == 1
    assert "--percentiles '50,150': 150 is not a percentile in (0, 100]" in result.stderr
