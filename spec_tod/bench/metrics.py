"""Latency and throughput figures from the turn records of a run.

Latency is per call kind (``dst``, ``response``): the seconds from sending a call's first attempt
to its answer, every retry and every wait for a server that was down included, as the client
measured it. Throughput divides the calls and generated tokens by the run's wall time: the union of
the sessions' spans (one session per invocation of ``spec-tod bench``, from its first turn start
to its last turn end), so the time between an interruption and the resume does not count, and
sessions that ran at the same time (shards on several machines, merged) count once.

Streamed calls (``--stream``) add time to first token, time per output token and inter-token
latency, at the percentiles asked for (``--percentiles``; :func:`stream_stats`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel

from spec_tod.bench.store import TurnRecord

PERCENTILES = (50, 95, 99)


class LatencyStats(BaseModel):
    calls: int
    mean_s: float
    p50_s: float
    p95_s: float
    p99_s: float
    max_s: float


class Throughput(BaseModel):
    wall_s: float
    sessions: int
    calls: int
    generated_tokens: int
    requests_per_s: float
    generated_tokens_per_s: float


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile of ``values`` (nearest rank, as latency reports usually give it)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latencies(records: Iterable[TurnRecord]) -> dict[str, list[float]]:
    """``{call kind: [latency_s, ...]}`` over every call of ``records``."""
    by_kind: dict[str, list[float]] = defaultdict(list)
    for record in records:
        for call in record.calls:
            by_kind[call.kind].append(call.latency_s)
    return dict(sorted(by_kind.items()))


def latency_stats(records: Iterable[TurnRecord]) -> dict[str, LatencyStats]:
    """Mean, p50, p95, p99 and max latency per call kind."""
    return {
        kind: LatencyStats(
            calls=len(values),
            mean_s=sum(values) / len(values),
            p50_s=percentile(values, 50),
            p95_s=percentile(values, 95),
            p99_s=percentile(values, 99),
            max_s=max(values),
        )
        for kind, values in latencies(records).items()
    }


def _union_length(spans: Iterable[list[float]]) -> float:
    """The length of the union of the intervals ``[start, end]``."""
    total = 0.0
    reach = -math.inf
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def throughput(records: Iterable[TurnRecord]) -> Throughput:
    """Requests and generated tokens per second of wall time, over all sessions of the run."""
    spans: dict[str, list[float]] = {}
    calls = tokens = 0
    for record in records:
        calls += len(record.calls)
        tokens += sum(call.generated_tokens or 0 for call in record.calls)
        span = spans.setdefault(record.session, [record.started_at, record.finished_at])
        span[0] = min(span[0], record.started_at)
        span[1] = max(span[1], record.finished_at)
    wall = _union_length(spans.values())
    return Throughput(
        wall_s=wall,
        sessions=len(spans),
        calls=calls,
        generated_tokens=tokens,
        requests_per_s=calls / wall if wall > 0 else 0.0,
        generated_tokens_per_s=tokens / wall if wall > 0 else 0.0,
    )


DEFAULT_STREAM_PERCENTILES = (50.0, 90.0, 99.0)


def percentile_key(q: float) -> str:
    """``p50``, ``p99.9``: the name of a percentile in the report."""
    return f"p{q:g}"


def parse_percentiles(text: str) -> tuple[float, ...]:
    """``"50,90,99"`` -> ``(50.0, 90.0, 99.0)``; ``ValueError`` naming the bad part."""
    values = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise ValueError(f"{part.strip()!r} is not a number") from None
        if not 0 < value <= 100:
            raise ValueError(f"{value:g} is not a percentile in (0, 100]")
        values.append(value)
    return tuple(dict.fromkeys(values))


def _summary_ms(values: Sequence[float], percentiles: Sequence[float]) -> dict[str, float]:
    summary = {"mean": 1000 * sum(values) / len(values)}
    summary.update({percentile_key(q): 1000 * percentile(values, q) for q in percentiles})
    return summary


def stream_stats(
    records: Iterable[TurnRecord], percentiles: Sequence[float] = DEFAULT_STREAM_PERCENTILES
) -> dict[str, dict[str, Any]]:
    """Per call kind, over the streamed calls: time to first token (TTFT), time per output token
    after the first (TPOT: from the first piece of text to the last, over the other tokens, as
    vLLM's ``bench serve`` defines it; calls of one token have none), and the gaps between streamed
    pieces (ITL), in milliseconds: mean and the given percentiles. Empty when no call streamed.
    (Retries do not enter: all three are times of the attempt that answered.)"""
    ttft: dict[str, list[float]] = defaultdict(list)
    tpot: dict[str, list[float]] = defaultdict(list)
    itl: dict[str, list[float]] = defaultdict(list)
    for record in records:
        for call in record.calls:
            if call.ttft_s is None:
                continue
            ttft[call.kind].append(call.ttft_s)
            itl[call.kind].extend(call.itl_s)
            tokens = call.generated_tokens if call.generated_tokens is not None else len(call.itl_s) + 1
            if tokens > 1:
                tpot[call.kind].append(sum(call.itl_s) / (tokens - 1))
    stats: dict[str, dict[str, Any]] = {}
    for kind in sorted(ttft):
        entry: dict[str, Any] = {"calls": len(ttft[kind]), "ttft_ms": _summary_ms(ttft[kind], percentiles)}
        entry["tpot_ms"] = _summary_ms(tpot[kind], percentiles) if tpot[kind] else None
        entry["itl_ms"] = _summary_ms(itl[kind], percentiles) if itl[kind] else None
        stats[kind] = entry
    return stats
