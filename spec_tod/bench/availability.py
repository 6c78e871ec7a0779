"""Waiting out a server outage: one health poller per endpoint, and the per-request budget for it.

A benchmark of a real model runs for hours against servers that restart and overload. When an
attempt finds a server unreachable (refused or dropped connection) or unhealthy (an error answer,
a timeout or a malformed answer, and its ``/health`` then does not answer below 500), the endpoint is
marked down and one task polls its ``GET /health`` with exponential backoff until it answers; the
requests of that endpoint wait for it (or go to another endpoint that is up) instead of spending
their retries. A request gives up only when it has waited ``budget_s`` in all for servers that were
down or busy (429/503): minutes, so that a restart is waited out. A server without ``/health``
answers 404 there, which counts as up: it answers.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx

HEALTH_PATH = "/health"
DEFAULT_OUTAGE_BUDGET_S = 600.0


@dataclass(frozen=True)
class OutagePolicy:
    """How long one request may wait for the servers, and how often a down server is asked."""

    budget_s: float = DEFAULT_OUTAGE_BUDGET_S
    poll_first_s: float = 0.25
    poll_max_s: float = 5.0
    probe_timeout_s: float = 10.0


class EndpointHealth:
    """Whether one endpoint is up; while it is down a single task polls its health until it answers."""

    def __init__(self, http: httpx.AsyncClient, base: str, policy: OutagePolicy) -> None:
        self._http = http
        self._url = httpx.URL(base + HEALTH_PATH)
        self._policy = policy
        self.up = asyncio.Event()
        self.up.set()
        self._poller: asyncio.Task[None] | None = None

    async def probe(self) -> bool:
        """True when ``/health`` answers with a status below 500 (404 included: the server is there)."""
        try:
            response = await self._http.get(self._url, timeout=self._policy.probe_timeout_s)
        except httpx.HTTPError:
            return False
        return response.status_code < 500

    def mark_down(self) -> None:
        """Record that the endpoint failed; start polling it unless that is already under way."""
        if self.up.is_set():
            self.up.clear()
            self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def _poll(self) -> None:
        delay = self._policy.poll_first_s
        while not await self.probe():
            await asyncio.sleep(delay)
            delay = min(self._policy.poll_max_s, delay * 2)
        self.up.set()

    async def close(self) -> None:
        if self._poller is not None and not self._poller.done():
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)


class OutageClock:
    """The time one request has spent waiting for unavailable servers, against the policy's budget."""

    def __init__(self, budget_s: float) -> None:
        self.budget_s = budget_s
        self.waited_s = 0.0

    def left_s(self) -> float:
        return self.budget_s - self.waited_s

    async def wait_for_any(self, endpoints: list[EndpointHealth]) -> bool:
        """Wait until one of ``endpoints`` is up, within the budget left; False when the budget ran out."""
        if any(ep.up.is_set() for ep in endpoints):
            return True
        start = time.monotonic()
        waiters = [asyncio.ensure_future(ep.up.wait()) for ep in endpoints]
        try:
            done, _ = await asyncio.wait(waiters, timeout=max(0.0, self.left_s()), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            self.waited_s += time.monotonic() - start
        return bool(done)

    async def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds`` (at most the budget left) as part of the wait; False when the budget ran out."""
        seconds = min(seconds, max(0.0, self.left_s()))
        await asyncio.sleep(seconds)
        self.waited_s += seconds
        return self.left_s() > 0
