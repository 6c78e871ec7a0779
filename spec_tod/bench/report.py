"""The run report: one JSON document (``report.json``) and its Markdown rendering (``report.md``).

The JSON holds the configuration (generation parameters included), the turn accounting, the
scores, latency percentiles per call kind, throughput, and the session that wrote it (endpoints,
concurrency, the server's ``/info``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spec_tod.bench.config import RunConfig
from spec_tod.bench.metrics import LatencyStats, Throughput
from spec_tod.fileio import write_json, write_text

REPORT_JSON = "report.json"
REPORT_MD = "report.md"


def build_report(
    *,
    config: RunConfig,
    counts: dict[str, int],
    scores: dict[str, Any] | None,
    latency: dict[str, LatencyStats],
    throughput: Throughput,
    session: dict[str, Any],
) -> dict[str, Any]:
    """The report document."""
    return {
        "config": config.model_dump(mode="json"),
        "turns": counts,
        "scores": scores,
        "latency_s": {kind: stats.model_dump() for kind, stats in latency.items()},
        "throughput": throughput.model_dump(),
        "session": session,
    }


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(" --- " for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def render_markdown(report: dict[str, Any]) -> str:
    """``report.md``: the same facts as ``report.json`` for reading."""
    config = report["config"]
    turns = report["turns"]
    lines = [
        f"# spec-tod bench: {config['dataset']} {config['split']}, {config['mode']}",
        "",
        f"{turns['dialogues']} dialogues, {turns['turns']} turns: {turns['done']} done "
        f"({turns['parse_failed']} with an unreadable output, {turns['with_problems']} with problems), "
        f"{turns['failed']} failed, {turns['skipped']} skipped after a failure. "
        f"{turns['calls']} calls, {turns['retried_attempts']} retried attempts.",
    ]
    if turns["failed"] or turns["skipped"]:
        lines += ["", "Rerun the same command to retry the failed turns and continue their dialogues."]
    scores = report["scores"]
    if scores is not None:
        lines += ["", "## Scores", ""]
        rows = [[name, f"{scores[name]:.2f}"] for name in ("inform", "success", "bleu", "combined")]
        if scores.get("dst"):
            rows.append(["joint goal accuracy", f"{scores['dst']['joint_accuracy']:.2f}"])
        lines += _table(["metric", "value"], rows)
        domains = sorted(scores.get("inform_by_domain", {}))
        if domains:
            lines += ["", *_table(
                ["domain", "dialogues", "inform", "success"],
                [
                    [
                        domain,
                        str(scores["dialogues_by_domain"].get(domain, "")),
                        f"{scores['inform_by_domain'][domain]:.1f}",
                        f"{scores['success_by_domain'].get(domain, 0.0):.1f}",
                    ]
                    for domain in domains
                ],
            )]
    lines += ["", "## Latency (seconds per call)", ""]
    lines += _table(
        ["call", "calls", "mean", "p50", "p95", "p99", "max"],
        [
            [kind, str(stats["calls"])] + [f"{stats[key]:.3f}" for key in ("mean_s", "p50_s", "p95_s", "p99_s", "max_s")]
            for kind, stats in report["latency_s"].items()
        ],
    )
    speed = report["throughput"]
    lines += [
        "",
        "## Throughput",
        "",
        f"{speed['requests_per_s']:.2f} requests/s, {speed['generated_tokens_per_s']:.1f} generated tokens/s "
        f"over {speed['wall_s']:.1f} s of wall time in {speed['sessions']} session(s).",
        "",
        "## Generation",
        "",
    ]
    lines += _table(
        ["call", "max_new_tokens", "temperature", "top_p", "top_k", "repetition_penalty"],
        [
            [kind] + [str(config[kind][key]) for key in ("max_new_tokens", "temperature", "top_p", "top_k", "repetition_penalty")]
            for kind in ("dst", "response")
        ],
    )
    session = report["session"]
    lines += [
        "",
        f"Template: {config['template']}; seed {config['seed']}; {config['shards']} shard(s); "
        f"endpoints {', '.join(session.get('endpoints') or [])} ({session.get('protocol')}, concurrency "
        f"{session.get('concurrency')}).",
    ]
    if session.get("server_info"):
        info = session["server_info"]
        lines += ["", "Server /info: " + ", ".join(f"{key}={info[key]}" for key in sorted(info) if not isinstance(info[key], (dict, list)))]
    return "\n".join(lines) + "\n"


def write_report(run_dir: Path, report: dict[str, Any]) -> list[Path]:
    """Write ``report.json`` and ``report.md``; their paths."""
    write_json(run_dir / REPORT_JSON, report)
    write_text(run_dir / REPORT_MD, render_markdown(report))
    return [run_dir / REPORT_JSON, run_dir / REPORT_MD]
