"""--request-rate: requests reach the server at the arrival process's rate (measured at the server)."""

from __future__ import annotations

import asyncio
import statistics

import pytest

from spec_tod.bench.arrivals import ArrivalSchedule
from spec_tod.bench.client import CompletionClient
from tests.bench.servers import FakeServer

RATE = 100.0
REQUESTS = 300


def _arrival_times(process: str) -> tuple[list[float], ArrivalSchedule]:
    schedule = ArrivalSchedule(RATE, process, seed=1)  # type: ignore[arg-type]

    async def go() -> None:
        async with CompletionClient([server.url], concurrency=64, arrivals=schedule) as client:
            await asyncio.gather(*(client.complete(f"request {i}") for i in range(REQUESTS)))

    with FakeServer() as server:
        asyncio.run(go())
    return sorted(r.at for r in server.received), schedule


@pytest.mark.parametrize("process", ["constant", "poisson"])
def test_measured_inter_arrival_times_match_the_rate(process: str) -> None:
    times, schedule = _arrival_times(process)
    assert len(times) == REQUESTS
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # the mean gap over 299 arrivals is within 10 % of 1/rate (seed 1's Poisson draws average 0.997/rate)
    assert abs(statistics.mean(gaps) * RATE - 1) < 0.10
    # count-based: the requests that arrived in the first second
    first_second = sum(t - times[0] < 1.0 for t in times)
    assert abs(first_second - RATE) <= 0.10 * RATE
    measured = schedule.measured_rate()
    assert measured is not None and abs(measured / RATE - 1) < 0.10
    if process == "poisson":  # exponential gaps: their spread is about their mean; constant ones would be near 0
        assert statistics.pstdev(gaps) / statistics.mean(gaps) > 0.7


def test_poisson_gaps_repeat_with_the_seed() -> None:
    first, second = ArrivalSchedule(5.0, "poisson", seed=3), ArrivalSchedule(5.0, "poisson", seed=3)
    assert [first.gap_s() for _ in range(5)] == [second.gap_s() for _ in range(5)]
    assert ArrivalSchedule(4.0, "constant").gap_s() == 0.25
    with pytest.raises(ValueError, match="positive"):
        ArrivalSchedule(0.0)
