"""PNG plots of a run (matplotlib, Agg backend: no display needed).

* ``plots/latency.png``: the latency distribution of each call kind (histogram, p50/p95/p99 marked);
* ``plots/domains.png``: Inform and Success per domain (only when the run was scored).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spec_tod.bench.metrics import PERCENTILES, latencies, percentile
from spec_tod.bench.store import TurnRecord
from spec_tod.fileio import atomic_open

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PLOTS_DIR = "plots"


def _pyplot():  # noqa: ANN202 (the matplotlib.pyplot module)
    """matplotlib.pyplot on the Agg backend, imported when a plot is drawn: its 0.4 s import is paid
    only by a run that has finished, never by one that starts, resumes or is interrupted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure: Figure, path: Path) -> Path:
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100)
    _pyplot().close(figure)
    return path


def latency_plot(records: Sequence[TurnRecord], path: Path) -> Path | None:
    """One histogram per call kind; ``None`` when no call was made."""
    by_kind = latencies(records)
    if not by_kind:
        return None
    figure, axes = _pyplot().subplots(1, len(by_kind), figsize=(5 * len(by_kind), 3.5), squeeze=False)
    for axis, (kind, values) in zip(axes[0], by_kind.items(), strict=True):
        axis.hist(values, bins=min(50, max(5, len(values) // 5)), color="tab:blue")
        for q, style in zip(PERCENTILES, (":", "--", "-"), strict=True):
            axis.axvline(percentile(values, q), color="tab:red", linestyle=style, label=f"p{q}")
        axis.set_title(f"{kind} calls ({len(values)})")
        axis.set_xlabel("latency (s)")
        axis.set_ylabel("calls")
        axis.legend()
    figure.tight_layout()
    return _save(figure, path)


def domain_plot(scores: dict[str, Any], path: Path) -> Path | None:
    """Inform and Success bars per domain; ``None`` when the scores have no domains."""
    domains = sorted(scores.get("inform_by_domain") or {})
    if not domains:
        return None
    figure, axis = _pyplot().subplots(figsize=(max(4, 1.2 * len(domains) + 1), 3.5))
    positions = range(len(domains))
    width = 0.4
    axis.bar([p - width / 2 for p in positions], [scores["inform_by_domain"][d] for d in domains], width, label="Inform")
    axis.bar(
        [p + width / 2 for p in positions],
        [scores["success_by_domain"].get(d, 0.0) for d in domains],
        width,
        label="Success",
    )
    axis.set_xticks(list(positions), domains)
    axis.set_ylim(0, 100)
    axis.set_ylabel("%")
    axis.legend()
    figure.tight_layout()
    return _save(figure, path)


def write_plots(run_dir: Path, records: Sequence[TurnRecord], scores: dict[str, Any] | None) -> list[Path]:
    """Write the plots that apply; their paths."""
    folder = run_dir / PLOTS_DIR
    written = [latency_plot(records, folder / "latency.png")]
    if scores is not None:
        written.append(domain_plot(scores, folder / "domains.png"))
    return [path for path in written if path is not None]
