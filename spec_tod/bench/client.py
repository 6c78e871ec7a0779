"""The async completion client that keeps one or more inference servers full.

:class:`CompletionClient` sends raw prompts (rendered by :mod:`spec_tod.bench.chat_template`) to
OpenAI-compatible ``/v1/completions`` or TGI's ``/generate`` (:mod:`spec_tod.bench.protocols`),
bounded by one global ``concurrency`` limit, spread over the endpoints by least requests in flight.

Faults: a server that is down (refused or dropped connections, or an error after which its
``/health`` fails) or busy (429, 503) is waited for, up to an outage budget of minutes per request
(:mod:`spec_tod.bench.availability`); other failures of a server that is up (other 5xx, timeouts,
a 200 whose body is empty or not the protocol's shape) are retried ``max_retries`` times
(exponential backoff, full jitter, ``Retry-After`` honoured). An answer larger than the request's
``max_new_tokens`` can explain is rejected at once and never parsed or stored. A request that still
fails raises :class:`RequestFailed`; the caller records the turn as failed and goes on.

Also: chat messages for ``/v1/chat/completions``; streamed answers (``stream=True``), whose events
are timed as they arrive (time to first token, gaps between tokens); an API key sent as
``Authorization: Bearer`` (read from the environment by the command, never stored in outputs);
and an arrival schedule (:mod:`spec_tod.bench.arrivals`) that decides when requests start.

HTTP: one ``httpx.AsyncClient`` on :class:`spec_tod.http.PooledTransport` (spec-tod's own HTTP/1.1
connections), because httpcore's connection pool falls off a cliff above about 50 requests in flight;
why, and what each layer costs, measured: ``docs/http-client.md`` and ``benchmarks/client_throughput.py``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx

from spec_tod.bench.arrivals import ArrivalSchedule
from spec_tod.bench.availability import DEFAULT_OUTAGE_BUDGET_S, EndpointHealth, OutageClock, OutagePolicy
from spec_tod.bench.json_body import BodyEncoder
from spec_tod.bench.protocols import (
    PROTOCOLS,
    Generated,
    GenerationParams,
    ProtocolError,
    WirePrompt,
    continuation_refusal_hint,
    error_message,
    loads_answer,
)
from spec_tod.bench.sse import is_event_stream, read_events
from spec_tod.errors import SpecTodError
from spec_tod.http.client import LeanClient
from spec_tod.http.transport import PooledTransport

__all__ = ["ClientStats", "Completion", "CompletionClient", "GenerationParams", "RequestFailed"]

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_INFO_TIMEOUT_S = 10.0
_OUTAGE_REASONS = frozenset({"connection", "429", "503"})
"""Failures that say the server is down or busy: waited for within the outage budget, not retried by count."""
MAX_ANSWER_BYTES_PER_TOKEN = 256
MAX_ANSWER_OVERHEAD_BYTES = 64 * 1024
"""An answer may hold at most this many bytes per requested token plus this much JSON around them: a token's
text is rarely over 16 bytes, escaped JSON, stream events and per-token details at most a few times that."""
_HEADERS = {"User-Agent": "spec-tod-bench", "Accept": "application/json"}


@dataclass(frozen=True)
class Completion:
    """One successful generation.

    ``latency_s`` is the time from sending the first attempt to the parsed answer: every attempt,
    and the waits between them, count (waiting for the first concurrency slot does not);
    ``attempts`` counts every try, retries included.
    """

    text: str
    generated_tokens: int | None
    prompt_tokens: int | None
    finish_reason: str | None
    latency_s: float
    attempts: int
    endpoint: str
    ttft_s: float | None = None
    """Streamed answers: from sending the successful attempt to the first piece of text."""
    gaps_s: tuple[float, ...] = ()
    """Streamed answers: the time between each piece of text and the one before it (inter-token latency)."""


class RequestFailed(Exception):
    """A request that failed for good: retries spent, or an answer that retrying cannot fix."""

    def __init__(self, message: str, *, attempts: int, last_status: int | None, last_error: str) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.last_status = last_status
        self.last_error = last_error


@dataclass
class ClientStats:
    """Counters since the client was made.

    ``requests`` counts attempts sent; ``retries`` counts retried attempts by reason (``"429"``,
    ``"503"``, ``"5xx"``, ``"connection"``, ``"timeout"``, ``"malformed"``); ``completed`` and
    ``failures`` count calls of :meth:`CompletionClient.complete` that returned or raised
    :class:`RequestFailed`; ``outage_wait_s`` is the time requests spent waiting for servers.
    """

    requests: int = 0
    completed: int = 0
    failures: int = 0
    retries: Counter[str] = field(default_factory=Counter)
    outage_wait_s: float = 0.0


class _Retryable(Exception):
    """One failed attempt that may be retried; ``reason`` names it in the stats."""

    def __init__(self, reason: str, status: int | None, error: str, retry_after_s: float | None = None) -> None:
        super().__init__(error)
        self.reason = reason
        self.status = status
        self.error = error
        self.retry_after_s = retry_after_s


class _Fatal(Exception):
    """One failed attempt that retrying cannot fix (a 4xx other than 429, an answer too large)."""

    def __init__(self, status: int | None, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


@dataclass
class _Tries:
    """One request's failures so far: its outage clock, retries of a server that was up, busy answers."""

    clock: OutageClock
    retries: int = 0
    busy: int = 0


@dataclass
class _Endpoint:
    base: str
    completions: str
    info: httpx.URL
    health: EndpointHealth
    in_flight: int = 0


class CompletionClient:
    """Async client for one or more completion servers; use as ``async with CompletionClient(...) as c``.

    Args:
        endpoints: base URLs (``http://host:port``; a trailing ``/v1`` or API path is dropped);
            each request goes to the endpoint with the fewest requests in flight.
        protocol: ``"openai"`` (``POST /v1/completions``), ``"chat"`` (``POST /v1/chat/completions``, the
            prompt is a list of messages) or ``"tgi"`` (``POST /generate``).
        model: the ``model`` field for OpenAI-style servers; left out when ``None``.
        concurrency: requests in flight at most, over all endpoints together.
        timeout_s: limit on each attempt's connecting, and on its wait for the whole answer.
        max_retries: retries of failures of a server that is up before :class:`RequestFailed`.
        outage_budget_s: seconds one request may wait in all for servers that are down or busy.
        backoff_base_s, backoff_max_s: retry ``n`` waits a uniform time in
            ``[0, min(backoff_max_s, backoff_base_s * 2**(n-1))]`` ("full jitter"), and at least the
            server's ``Retry-After`` (capped at ``backoff_max_s``) when it sends one.
        rng_seed: seeds the jitter, for repeatable retry timing.
        stream: ask for a streamed answer (server-sent events) and time its pieces.
        api_key: sent as ``Authorization: Bearer`` on every request when given.
        arrivals: when given, each request (not each retry) waits for its arrival time first.
    """

    def __init__(
        self,
        endpoints: Sequence[str],
        *,
        protocol: Literal["openai", "chat", "tgi"] = "openai",
        model: str | None = None,
        concurrency: int = 64,
        timeout_s: float = 120.0,
        max_retries: int = 5,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 20.0,
        rng_seed: int | None = None,
        stream: bool = False,
        api_key: str | None = None,
        arrivals: ArrivalSchedule | None = None,
        outage_budget_s: float = DEFAULT_OUTAGE_BUDGET_S,
    ) -> None:
        if isinstance(endpoints, str):
            endpoints = [endpoints]
        if not endpoints:
            raise SpecTodError("no endpoint given: pass at least one server URL such as http://127.0.0.1:8080")
        if protocol not in PROTOCOLS:
            raise SpecTodError(f"unknown protocol {protocol!r}: expected one of {sorted(PROTOCOLS)}")
        if (
            concurrency < 1 or timeout_s <= 0 or max_retries < 0 or backoff_base_s < 0 or backoff_max_s < 0
            or outage_budget_s < 0
        ):
            raise SpecTodError(
                f"concurrency={concurrency}, timeout_s={timeout_s}, max_retries={max_retries}, "
                f"backoff_base_s={backoff_base_s}, backoff_max_s={backoff_max_s}, outage_budget_s={outage_budget_s}: "
                "expected concurrency >= 1, timeout_s > 0 and the others >= 0"
            )
        self._protocol = PROTOCOLS[protocol]
        if stream and not self._protocol.streams:
            raise SpecTodError(
                f"protocol {protocol!r} does not stream: use --protocol openai or chat (TGI serves /v1/completions too)"
            )
        self.stream = stream
        self.arrivals = arrivals
        headers = {**_HEADERS, "Authorization": f"Bearer {api_key}"} if api_key else _HEADERS
        self.protocol = protocol
        self.model = model
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.outage = OutagePolicy(budget_s=outage_budget_s, probe_timeout_s=min(timeout_s, _INFO_TIMEOUT_S))
        self.stats = ClientStats()
        self._rng = random.Random(rng_seed)
        self._slots = asyncio.Semaphore(concurrency)
        self._bodies = BodyEncoder()
        # trust_env=False: proxy variables would route requests past the transport
        self._http = httpx.AsyncClient(
            transport=PooledTransport(max_connections=concurrency),
            timeout=timeout_s,
            headers=headers,
            trust_env=False,
        )
        # Completions skip httpx's request and response objects, most of the client's CPU per request
        # (docs/http-client.md); httpx stays for the rare GET /info.
        self._lean = LeanClient({**headers, "Content-Type": "application/json", "Accept-Encoding": "identity"})
        self._endpoints = [
            _Endpoint(
                base,
                base + self._protocol.path,
                httpx.URL(base + "/info"),
                EndpointHealth(self._http, base, self.outage),
            )
            for base in map(_normalise_endpoint, endpoints)
        ]
        self._next = 0  # rotates the tie-break between equally loaded endpoints

    @property
    def endpoints(self) -> list[str]:
        """The endpoints' base URLs, normalised."""
        return [ep.base for ep in self._endpoints]

    async def __aenter__(self) -> CompletionClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every connection; requests still in flight fail."""
        self._lean.close()
        for ep in self._endpoints:
            await ep.health.close()
        await self._http.aclose()

    async def complete(self, prompt: WirePrompt, params: GenerationParams = GenerationParams()) -> Completion:
        """Generate a continuation of the raw ``prompt`` (chat: of its last message), waiting out outages and
        retrying other failures.

        At most ``concurrency`` attempts are on the wire at once (waits between attempts do not
        hold a slot). Raises :class:`RequestFailed` once the outage budget or ``max_retries`` is
        spent (see the module docstring), or at once on an answer that retrying cannot fix: a 4xx
        other than 429 (with the server's message), or an answer too large for ``max_new_tokens``.
        """
        body = self._bodies.encode(self._protocol.payload(prompt, params, self.model, self.stream))
        if self.arrivals is not None:
            await self.arrivals.wait()
        max_bytes = params.max_new_tokens * MAX_ANSWER_BYTES_PER_TOKEN + MAX_ANSWER_OVERHEAD_BYTES
        tries = _Tries(OutageClock(self.outage.budget_s))
        attempt = 0
        first_start: float | None = None
        while True:
            attempt += 1
            try:
                await self._slots.acquire()
                slot = _Slot(self._slots)
                try:
                    ep = self._pick_endpoint()
                    start = time.perf_counter()
                    first_start = start if first_start is None else first_start
                    answer = await self._attempt(ep, body, max_bytes, slot.release)
                finally:
                    slot.release()
                try:
                    generated = self._parse(answer, params)
                except ProtocolError as error:
                    raise _Retryable("malformed", 200, str(error)) from None
                latency = time.perf_counter() - first_start
            except _Retryable as failure:
                why = await self._recover(ep, failure, tries)
                if why is None:
                    self.stats.retries[failure.reason] += 1
                    continue
                self.stats.failures += 1
                raise RequestFailed(
                    f"{ep.base}{self._protocol.path}: gave up after {attempt} attempts ({why}); last: {failure.error}",
                    attempts=attempt,
                    last_status=failure.status,
                    last_error=failure.error,
                ) from None
            except _Fatal as failure:
                self.stats.failures += 1
                raise RequestFailed(
                    f"{ep.base}{self._protocol.path}: {failure}",
                    attempts=attempt,
                    last_status=failure.status,
                    last_error=str(failure),
                ) from None
            self.stats.completed += 1
            return Completion(
                text=generated.text,
                generated_tokens=generated.generated_tokens,
                prompt_tokens=generated.prompt_tokens,
                finish_reason=generated.finish_reason,
                latency_s=latency,
                attempts=attempt,
                endpoint=ep.base,
                **_stream_timings(generated, start),
            )

    async def _recover(self, ep: _Endpoint, failure: _Retryable, tries: _Tries) -> str | None:
        """Wait as ``failure`` calls for before the next attempt; ``None`` to go on, else why the request gives up."""
        clock = tries.clock
        waited = clock.waited_s
        try:
            if failure.reason == "connection" or (
                failure.reason not in _OUTAGE_REASONS and not await ep.health.probe()
            ):
                ep.health.mark_down()
                if await clock.wait_for_any([e.health for e in self._endpoints]):
                    return None
                return f"the server was unavailable for {clock.waited_s:.0f} s, the outage budget"
            if failure.reason in _OUTAGE_REASONS:
                tries.busy += 1
                if await clock.sleep(self._backoff_s(tries.busy, failure.retry_after_s)):
                    return None
                return f"the server was busy for {clock.waited_s:.0f} s, the outage budget"
        finally:
            self.stats.outage_wait_s += clock.waited_s - waited
        tries.retries += 1
        if tries.retries > self.max_retries:
            return f"{tries.retries} attempts failed while the server was up"
        await asyncio.sleep(self._backoff_s(tries.retries, failure.retry_after_s))
        return None

    async def server_info(self) -> dict[str, Any] | None:
        """The first endpoint's ``GET /info`` (TGI) as a dict, or ``None`` when it has none."""
        return await self._info(self._endpoints[0])

    async def advertised_concurrency(self) -> int | None:
        """Requests the servers say they take at once (sum of TGI's ``max_concurrent_requests``); ``None`` if none says."""
        infos = await asyncio.gather(*(self._info(ep) for ep in self._endpoints))
        advertised = [info.get("max_concurrent_requests") for info in infos if info is not None]
        limits = [n for n in advertised if isinstance(n, int) and not isinstance(n, bool) and n > 0]
        return sum(limits) if limits else None

    def _pick_endpoint(self) -> _Endpoint:
        n = len(self._endpoints)
        best = self._endpoints[self._next % n]
        for k in range(1, n):
            ep = self._endpoints[(self._next + k) % n]
            # an endpoint that is up beats one that is down; among equals, the fewest in flight
            if (ep.health.up.is_set(), -ep.in_flight) > (best.health.up.is_set(), -best.in_flight):
                best = ep
        self._next += 1
        return best

    async def _attempt(self, ep: _Endpoint, body: bytes, max_bytes: int, on_settled: Callable[[], None]) -> Any:
        """One POST to ``ep``: the decoded JSON answer, or ``_Retryable`` / ``_Fatal`` saying what failed.
        ``on_settled`` is called as soon as the answer is read or the request failed."""
        ep.in_flight += 1
        self.stats.requests += 1
        try:
            response = await self._lean.post(ep.completions, body, timeout_s=self.timeout_s, on_settled=on_settled)
        except httpx.TimeoutException as exc:
            raise _Retryable("timeout", None, f"{type(exc).__name__}: {exc}") from None
        except httpx.TransportError as exc:  # refused, dropped, truncated or not HTTP/1.1
            raise _Retryable("connection", None, f"{type(exc).__name__}: {exc}") from None
        finally:
            ep.in_flight -= 1
        status = response.status
        if 200 <= status < 300 and len(response.body) > max_bytes:
            raise _Fatal(
                status,
                f"answer of {len(response.body):,} bytes rejected: "
                f"more than the {max_bytes:,} bytes its max tokens allow",
            )
        if 200 <= status < 300 and self.stream and is_event_stream(response.header("content-type")):
            try:
                return _Streamed(read_events(response.body, response.marks))
            except ProtocolError as error:  # a torn or failed stream is retried like a 5xx
                raise _Retryable("malformed", status, str(error)) from None
        if 200 <= status < 300:
            try:
                return loads_answer(response.body)
            except ValueError:
                raise _Retryable("malformed", status, f"answer is not JSON: {response.body[:200]!r}") from None
        message = f"HTTP {status}: {error_message(response.body)}"
        if status in _RETRY_STATUSES or status >= 500:
            reason = str(status) if status in (429, 503) else "5xx"
            raise _Retryable(reason, status, message, _retry_after_s(response.header("retry-after")))
        if status == 422 and "unexpected field" in message.lower():
            message += " (this server takes only OpenAI completion fields: leave top_k and repetition_penalty unset)"
        if status in (400, 422) and (hint := continuation_refusal_hint(message)):
            message += f" ({hint})"
        raise _Fatal(status, message)

    def _parse(self, answer: Any, params: GenerationParams) -> Generated:
        if isinstance(answer, _Streamed):
            return self._protocol.parse_stream(answer.events, params)
        return self._protocol.parse(answer, params)

    def _backoff_s(self, attempt: int, retry_after_s: float | None) -> float:
        delay = self._rng.uniform(0.0, min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1)))
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.backoff_max_s))
        return delay

    async def _info(self, ep: _Endpoint) -> dict[str, Any] | None:
        try:
            response = await self._http.get(ep.info, timeout=min(self.timeout_s, _INFO_TIMEOUT_S))
        except httpx.TransportError:
            return None
        if response.status_code != 200:
            return None
        try:
            info = loads_answer(response.content)
        except ValueError:
            return None
        return info if isinstance(info, dict) else None


class _Slot:
    """One of the ``concurrency`` places on the wire, held by one attempt; :meth:`release` frees it once.

    The connection frees it in the callback that reads the answer's last byte, so a request waiting
    for a place is on its way an event-loop round sooner than if the attempt's task freed it when it
    next ran: at 256 requests in flight a busy loop's rounds last milliseconds, and every one of them
    is a place left empty.
    """

    __slots__ = ("_semaphore",)

    def __init__(self, semaphore: asyncio.Semaphore) -> None:
        self._semaphore: asyncio.Semaphore | None = semaphore

    def release(self) -> None:
        if self._semaphore is not None:
            self._semaphore.release()
            self._semaphore = None


@dataclass(frozen=True)
class _Streamed:
    """The events of a streamed answer with their arrival times (a server may also answer a stream request whole)."""

    events: list[tuple[Any, float]]


def _stream_timings(generated: Generated, sent_at: float) -> dict[str, Any]:
    times = generated.piece_times
    if not times:
        return {}
    return {"ttft_s": times[0] - sent_at, "gaps_s": tuple(b - a for a, b in zip(times, times[1:], strict=False))}


def _normalise_endpoint(endpoint: str) -> str:
    """The base URL: no trailing slash, and no API path (``/v1``, ``/v1/completions``, ``/generate``)."""
    url = endpoint.strip().rstrip("/")
    for suffix in ("/v1/chat/completions", "/v1/completions", "/generate", "/v1"):
        url = url.removesuffix(suffix)
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    valid_port = parsed is not None and 0 < (parsed.port or 80) < 65536
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host or not valid_port:
        raise SpecTodError(
            f"endpoint {endpoint!r} is not a server URL: expected http(s)://host:port "
            "(the client adds /v1/completions or /generate itself)"
        )
    return url


def _retry_after_s(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the header holds seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
