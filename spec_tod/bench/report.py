"""The run report: one JSON document (``report.json``) and its Markdown rendering (``report.md``).

The JSON holds the configuration (generation parameters included), the turn accounting, whether
the run is complete, the scores (none for an incomplete run; the DST metrics only for a DST run),
latency percentiles per call kind (per call, from sending its first attempt to the answer: retries
and waits for a server that was down count), throughput, streaming metrics (TTFT, TPOT, ITL at the
percentiles asked for; empty unless the run streamed), the session that wrote it (endpoints,
protocol, concurrency, request rate, the server's ``/info``) and its provenance (label, model,
tool version, git revision, date, command line; :mod:`spec_tod.provenance`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spec_tod.bench.config import RunConfig
from spec_tod.bench.metrics import LatencyStats, Throughput
from spec_tod.fileio import AtomicGroup

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
LATENCY_NOTE = "from sending a call's first attempt to its answer; retries and waits for the server included"


def build_report(
    *,
    config: RunConfig,
    counts: dict[str, int],
    scores: dict[str, Any] | None,
    latency: dict[str, LatencyStats],
    throughput: Throughput,
    session: dict[str, Any],
    streaming: dict[str, Any] | None = None,
    percentiles: list[float] | None = None,
    provenance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The report document."""
    return {
        "label": provenance.get("label") if provenance else None,
        "provenance": provenance,
        "config": config.model_dump(mode="json"),
        "turns": counts,
        "complete": counts["failed"] == counts["skipped"] == counts["missing"] == 0,
        "scores": scores,
        "latency_note": LATENCY_NOTE,
        "latency_s": {kind: stats.model_dump() for kind, stats in latency.items()},
        "throughput": throughput.model_dump(),
        "streaming": {"percentiles": percentiles or [], "by_call": streaming or {}},
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
        lines += [
            "",
            "**Incomplete run: no scores.** The predictions are in `predictions.incomplete.json`. "
            "Rerun the same command to retry the failed turns and continue their dialogues.",
        ]
    scores = report["scores"]
    if scores is not None:
        lines += ["", "## Scores (percent; BLEU 0-100)", ""]
        rows = [[name, f"{scores[name]:.2f}"] for name in ("inform", "success", "bleu", "combined") if name in scores]
        if scores.get("dst"):
            dst = scores["dst"]
            names = ("joint_accuracy", "slot_f1", "slot_precision", "slot_recall")
            rows += [[name.replace("_", " "), f"{dst[name]:.2f}"] for name in names]
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
    lines += ["", "## Latency (seconds per call)", "", f"Per call, {report['latency_note']}.", ""]
    lines += _table(
        ["call", "calls", "mean", "p50", "p95", "p99", "max"],
        [
            [kind, str(stats["calls"])] + [f"{stats[key]:.3f}" for key in ("mean_s", "p50_s", "p95_s", "p99_s", "max_s")]
            for kind, stats in report["latency_s"].items()
        ],
    )
    lines += _streaming_lines(report.get("streaming") or {})
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
    if session.get("request_rate") is not None:
        measured = session.get("measured_request_rate")
        lines += [
            "",
            f"Requests started at {session['request_rate']:g}/s ({session.get('arrival')} arrivals); measured "
            + (f"{measured:.2f}/s." if measured is not None else "n/a."),
        ]
    provenance = report.get("provenance")
    if provenance:
        model = provenance.get("model") or {}
        lines += [
            "",
            "## Provenance",
            "",
            *_table(
                ["what", "value"],
                [
                    ["label", str(provenance.get("label"))],
                    ["model", str(model.get("id"))],
                    ["model dir sha256", str(model.get("dir_sha256"))],
                    ["spec-tod", f"{provenance.get('version')} (git {provenance.get('git_revision')})"],
                    ["date", str(provenance.get("date"))],
                    ["command", "`" + str(provenance.get("command")).replace("|", "\\|") + "`"],
                ],
            ),
        ]
    if session.get("server_info"):
        info = session["server_info"]
        scalars = [f"{key}={info[key]}" for key in sorted(info) if not isinstance(info[key], (dict, list))]
        lines += ["", "Server /info: " + ", ".join(scalars)]
    return "\n".join(lines) + "\n"


def _streaming_lines(streaming: dict[str, Any]) -> list[str]:
    by_call = streaming.get("by_call") or {}
    if not by_call:
        return []
    keys = ["mean", *(f"p{q:g}" for q in streaming.get("percentiles") or [])]
    rows = []
    for kind, stats in by_call.items():
        for metric, name in (("ttft_ms", "TTFT"), ("tpot_ms", "TPOT"), ("itl_ms", "ITL")):
            values = stats.get(metric)
            rows.append([kind, name] + ([f"{values[key]:.1f}" for key in keys] if values else ["n/a"] * len(keys)))
    return [
        "",
        "## Streaming (milliseconds)",
        "",
        "Time to first token (TTFT), time per output token after the first (TPOT), inter-token latency (ITL).",
        "",
        *_table(["call", "metric", *keys], rows),
    ]


def write_report(group: AtomicGroup, run_dir: Path, report: dict[str, Any]) -> list[Path]:
    """Write ``report.md`` and ``report.json`` into ``group`` (the outputs that belong together); their paths."""
    group.write_text(run_dir / REPORT_MD, render_markdown(report))
    group.write_json(run_dir / REPORT_JSON, report)
    return [run_dir / REPORT_JSON, run_dir / REPORT_MD]
