"""Latency and throughput figures from the turn records of a run.

Latency is per call kind (``dst``, ``response``): the seconds from sending a request to its answer,
retries included, as the client measured it. Throughput divides the calls and generated tokens by
the run's wall time, which is the sum over sessions (one per invocation of ``spec-tod bench``) of
the time from the session's first turn start to its last turn end, so the time between an
interruption and the resume does not count.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

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
    wall = sum(end - start for start, end in spans.values())
    return Throughput(
        wall_s=wall,
        sessions=len(spans),
        calls=calls,
        generated_tokens=tokens,
        requests_per_s=calls / wall if wall > 0 else 0.0,
        generated_tokens_per_s=tokens / wall if wall > 0 else 0.0,
    )
