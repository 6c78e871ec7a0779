"""When requests start under ``--request-rate``: a constant or Poisson arrival process.

``--concurrency`` alone keeps the server full: a request starts as soon as one ends (a closed
loop). With ``--request-rate R`` requests start at the arrival times of a process of rate ``R``
per second instead (an open loop, as vLLM's ``bench serve`` does), and ``--concurrency`` stays a
cap on the requests in flight. ``constant`` spaces the arrivals ``1/R`` apart; ``poisson`` draws
exponential gaps of mean ``1/R`` from a generator seeded by ``--seed``, so a rerun repeats them.

The times are fixed in advance from the first request on: the ``n``-th request (counted over the
whole session, retries excluded) starts at ``t0 + gap_1 + ... + gap_n``, or as soon as it is ready
when that time has passed (an end-to-end turn cannot be sent before the turn before it has ended,
and the cap may hold it back). The report gives the rate measured, so a run whose work could not
keep up with the arrivals shows it.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Literal

ArrivalProcess = Literal["poisson", "constant"]


@dataclass
class ArrivalSchedule:
    """Hands out arrival times in order; ``await schedule.wait()`` before starting each request."""

    rate: float
    process: ArrivalProcess = "poisson"
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)
    _next: float | None = field(default=None, init=False, repr=False)
    started: list[float] = field(default_factory=list, init=False, repr=False)
    """When each request was let go (``time.perf_counter()``)."""

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ValueError(f"request rate must be positive, not {self.rate}")
        if self.process not in ("poisson", "constant"):
            raise ValueError(f"arrival process {self.process!r}: expected poisson or constant")
        self._rng = random.Random(self.seed)

    def gap_s(self) -> float:
        """The next gap between arrivals."""
        return self._rng.expovariate(self.rate) if self.process == "poisson" else 1.0 / self.rate

    async def wait(self) -> None:
        """Return at the next arrival time (at once if it has passed)."""
        now = time.perf_counter()
        if self._next is None:
            self._next = now
        due = self._next
        self._next += self.gap_s()
        if due > now:
            await asyncio.sleep(due - now)
        self.started.append(time.perf_counter())

    def measured_rate(self) -> float | None:
        """Requests per second between the first and the last start; ``None`` under two starts."""
        if len(self.started) < 2 or self.started[-1] <= self.started[0]:
            return None
        return (len(self.started) - 1) / (self.started[-1] - self.started[0])
