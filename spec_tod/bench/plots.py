"""SVG plots of a run, written directly (no plotting library to import and run at the end of a run;
docs/speed.md):

* ``plots/latency.svg``: the latency distribution of each call kind (histogram, p50/p95/p99 marked);
* ``plots/domains.svg``: Inform and Success per domain (only when the run was scored).

Any browser or image viewer shows them; they are plain text, so runs can be diffed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from spec_tod.bench.metrics import PERCENTILES, latencies, percentile
from spec_tod.bench.store import TurnRecord
from spec_tod.fileio import atomic_open

PLOTS_DIR = "plots"

_WIDTH, _HEIGHT = 500, 350
_LEFT, _RIGHT, _TOP, _BOTTOM = 60, 20, 40, 50
_BLUE, _ORANGE, _RED = "#1f77b4", "#ff7f0e", "#d62728"
_DASHES = {50: "2,3", 95: "6,3", 99: ""}


def _text(x: float, y: float, content: str, *, anchor: str = "middle", size: int = 12, rotate: bool = False) -> str:
    turn = f' transform="rotate(-90 {x:.1f} {y:.1f})"' if rotate else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" font-family="sans-serif" text-anchor="{anchor}"{turn}>'
        f"{escape(content)}</text>"
    )


def _ticks(top: float, count: int = 5) -> list[float]:
    if top <= 0:
        return [0.0]
    raw = top / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [i * step for i in range(int(top / step) + 1)]


def _label(value: float) -> str:
    return f"{value:.3g}"


class _Panel:
    """One plot area at ``(x0, 0)``: data coordinates to SVG, axes, ticks, labels."""

    def __init__(self, x0: float, x_range: tuple[float, float], y_top: float) -> None:
        self.x0 = x0
        self.low, self.high = x_range
        if self.high <= self.low:
            self.high = self.low + 1.0
        self.y_top = y_top if y_top > 0 else 1.0
        self.width = _WIDTH - _LEFT - _RIGHT
        self.height = _HEIGHT - _TOP - _BOTTOM

    def x(self, value: float) -> float:
        return self.x0 + _LEFT + (value - self.low) / (self.high - self.low) * self.width

    def y(self, value: float) -> float:
        return _TOP + self.height - value / self.y_top * self.height

    def axes(self, title: str, x_label: str, y_label: str, x_ticks: bool = True) -> list[str]:
        left, bottom = self.x0 + _LEFT, _TOP + self.height
        parts = [
            f'<rect x="{left}" y="{_TOP}" width="{self.width}" height="{self.height}" fill="none" stroke="black"/>',
            _text(left + self.width / 2, _TOP - 12, title, size=13),
            _text(left + self.width / 2, _HEIGHT - 10, x_label),
            _text(self.x0 + 15, _TOP + self.height / 2, y_label, rotate=True),
        ]
        for tick in _ticks(self.y_top):
            y = self.y(tick)
            parts += [f'<line x1="{left - 4}" y1="{y:.1f}" x2="{left}" y2="{y:.1f}" stroke="black"/>',
                      _text(left - 6, y + 4, _label(tick), anchor="end", size=10)]  # fmt: skip
        if x_ticks:
            for tick in _ticks(self.high - self.low):
                x = self.x(self.low + tick)
                parts += [f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" stroke="black"/>',
                          _text(x, bottom + 16, _label(self.low + tick), size=10)]  # fmt: skip
        return parts

    def legend(self, entries: Sequence[tuple[str, str, str]]) -> list[str]:
        """``(label, colour, dash pattern)`` lines in the top right corner."""
        parts = []
        right = self.x0 + _LEFT + self.width - 8
        for index, (label, colour, dashes) in enumerate(entries):
            y = _TOP + 14 + 16 * index
            dash = f' stroke-dasharray="{dashes}"' if dashes else ""
            parts += [f'<line x1="{right - 70}" y1="{y - 4}" x2="{right - 50}" y2="{y - 4}" stroke="{colour}" '
                      f'stroke-width="3"{dash}/>', _text(right - 45, y, label, anchor="start", size=11)]  # fmt: skip
        return parts


def _svg(width: float, parts: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{_HEIGHT}" '
        f'viewBox="0 0 {width:.0f} {_HEIGHT}">\n<rect width="100%" height="100%" fill="white"/>\n'
        + "\n".join(parts)
        + "\n</svg>\n"
    )


def _save(svg: str, path: Path) -> Path:
    with atomic_open(path, "wb") as handle:
        handle.write(svg.encode("utf-8"))
    return path


def histogram(values: Sequence[float], bins: int) -> tuple[float, float, list[int]]:
    """``(low, bin width, counts)`` of ``bins`` equal bins from the least to the greatest value."""
    low, high = min(values), max(values)
    width = (high - low) / bins if high > low else 1.0
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, int((value - low) / width))] += 1
    return low, width, counts


def latency_plot(records: Sequence[TurnRecord], path: Path) -> Path | None:
    """One histogram per call kind; ``None`` when no call was made."""
    by_kind = latencies(records)
    if not by_kind:
        return None
    parts: list[str] = []
    for index, (kind, values) in enumerate(by_kind.items()):
        low, width, counts = histogram(values, min(50, max(5, len(values) // 5)))
        panel = _Panel(index * _WIDTH, (low, low + width * len(counts)), max(counts) * 1.05)
        parts += panel.axes(f"{kind} calls ({len(values)})", "latency (s)", "calls")
        for position, count in enumerate(counts):
            if count:
                x0, x1 = panel.x(low + position * width), panel.x(low + (position + 1) * width)
                y = panel.y(count)
                parts.append(f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0, 0.5):.1f}" '
                             f'height="{panel.y(0) - y:.1f}" fill="{_BLUE}"/>')  # fmt: skip
        for q in PERCENTILES:
            x = panel.x(percentile(values, q))
            dash = f' stroke-dasharray="{_DASHES[q]}"' if _DASHES[q] else ""
            parts.append(f'<line x1="{x:.1f}" y1="{_TOP}" x2="{x:.1f}" y2="{panel.y(0):.1f}" stroke="{_RED}"{dash}/>')
        parts += panel.legend([(f"p{q}", _RED, _DASHES[q]) for q in PERCENTILES])
    return _save(_svg(_WIDTH * len(by_kind), parts), path)


def domain_plot(scores: dict[str, Any], path: Path) -> Path | None:
    """Inform and Success bars per domain; ``None`` when the scores have no domains."""
    domains = sorted(scores.get("inform_by_domain") or {})
    if not domains:
        return None
    panel = _Panel(0, (-0.6, len(domains) - 0.4), 100.0)
    parts = panel.axes("Inform and Success by domain", "", "%", x_ticks=False)
    bar = 0.4
    for position, domain in enumerate(domains):
        values = (scores["inform_by_domain"][domain], scores["success_by_domain"].get(domain, 0.0))
        for offset, value, colour in zip((-bar, 0.0), values, (_BLUE, _ORANGE), strict=True):
            x0, x1 = panel.x(position + offset), panel.x(position + offset + bar)
            y = panel.y(max(0.0, min(100.0, value)))
            parts.append(f'<rect x="{x0:.1f}" y="{y:.1f}" width="{x1 - x0:.1f}" height="{panel.y(0) - y:.1f}" fill="{colour}"/>')
        parts.append(_text(panel.x(position), panel.y(0) + 16, domain, size=10))
    parts += panel.legend([("Inform", _BLUE, ""), ("Success", _ORANGE, "")])
    return _save(_svg(_WIDTH, parts), path)


def write_plots(run_dir: Path, records: Sequence[TurnRecord], scores: dict[str, Any] | None) -> list[Path]:
    """Write the plots that apply; their paths."""
    folder = run_dir / PLOTS_DIR
    written = [latency_plot(records, folder / "latency.svg")]
    if scores is not None:
        written.append(domain_plot(scores, folder / "domains.svg"))
    return [path for path in written if path is not None]
