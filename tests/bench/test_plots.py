"""The run's SVG plots: well-formed, one panel per call kind, bars and percentile marks where the data puts them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from spec_tod.bench.plots import domain_plot, histogram, latency_plot
from spec_tod.bench.store import CallRecord, TurnRecord

_SVG = "{http://www.w3.org/2000/svg}"


def _record(turn: int, latency: float) -> TurnRecord:
    calls = [
        CallRecord(kind=kind, text="", finish_reason="stop", prompt_tokens=1, generated_tokens=1, latency_s=latency * scale,
                   attempts=1, endpoint="http://127.0.0.1:1")
        for kind, scale in (("dst", 1.0), ("response", 2.0))
    ]  # fmt: skip
    return TurnRecord(dialogue_id="d", turn=turn, status="done", session="s", started_at=0.0, finished_at=1.0, calls=calls)


def test_histogram_counts_every_value_once() -> None:
    low, width, counts = histogram([0.1, 0.2, 0.2, 0.35, 0.5], 4)
    assert (low, sum(counts), counts[0], counts[-1]) == (0.1, 5, 1, 1)
    assert abs(width - 0.1) < 1e-12
    assert histogram([1.0, 1.0], 5)[2] == [2, 0, 0, 0, 0]


def test_latency_plot_has_a_panel_per_call_kind(tmp_path: Path) -> None:
    path = latency_plot([_record(turn, 0.1 + 0.01 * turn) for turn in range(40)], tmp_path / "plots" / "latency.svg")
    assert path is not None
    root = ET.parse(path).getroot()
    titles = [t.text for t in root.iter(f"{_SVG}text") if t.text and "calls (" in t.text]
    assert titles == ["dst calls (40)", "response calls (40)"]
    assert len([line for line in root.iter(f"{_SVG}line") if line.get("stroke") == "#d62728"]) >= 6  # p50/p95/p99 x 2
    assert latency_plot([], tmp_path / "none.svg") is None


def test_domain_plot_draws_two_bars_per_domain(tmp_path: Path) -> None:
    scores = {"inform_by_domain": {"hotel": 80.0, "train": 50.0}, "success_by_domain": {"hotel": 60.0}}
    path = domain_plot(scores, tmp_path / "domains.svg")
    assert path is not None
    root = ET.parse(path).getroot()
    bars = [r for r in root.iter(f"{_SVG}rect") if r.get("fill") in ("#1f77b4", "#ff7f0e")]
    assert len(bars) == 4  # two bars per domain (the legend keys are lines)
    heights = sorted(float(r.get("height", "0")) for r in bars[:4])
    assert heights[0] == 0.0 and heights[-1] > heights[-2] > heights[1]
    assert domain_plot({}, tmp_path / "none.svg") is None
