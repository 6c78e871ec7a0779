"""Does the completion client keep a batching server full? Wall time for N requests against a 100 ms server.

For each number of requests in flight (64, 128, 256) the same ``--requests`` independent
completions go, in the same run, through:

- **spec-tod**: ``spec_tod.bench.client.CompletionClient`` (concurrency = in flight): completions go
  through ``spec_tod.http.client.LeanClient`` on spec-tod's own connections, without httpx's objects;
- **httpx**: one ``httpx.AsyncClient`` on httpx's own transport, its pool raised to the in-flight
  count (the naive way, which falls off a cliff above ~50 in flight; see docs/http-client.md for why);
- **aiohttp**: one ``aiohttp.ClientSession`` (connector limit = in flight), the reference;
- **release**: the release's way, N processes each sending its share sequentially with a
  blocking client (``requests.Session``); the release used 100 processes, here
  N = min(in flight, ``--max-processes``) (64 by default, for a 2-core machine).

Each is reported as wall seconds and as a ratio to the ideal (requests x delay / in flight); the
release's way also as a ratio to spec-tod. A second table gives each client's cost per request
against a zero-delay server: wall time per request and the client process's CPU time per request,
with one more row, httpx's request and response objects on spec-tod's connections (the bench
client's path before it went below httpx), as the baseline of that change, and, where uvloop is
installed, spec-tod and aiohttp again on uvloop's event loop (the one ``spec-tod bench`` runs on).

The servers (``delay_server.py``) run in their own processes so they do not take the client's
event loop or GIL; everything is on 127.0.0.1, every run is bounded (``--cap-s``), and the server
processes are ended by PID.

Run: ``python -m benchmarks.client_throughput`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402  (dev dependency: benchmarks and tests only)
import httpx  # noqa: E402
import requests  # noqa: E402  (imported before the release's processes fork, so they start at once)

from benchmarks.delay_server import DelayServer  # noqa: E402
from spec_tod.bench.client import CompletionClient, GenerationParams  # noqa: E402
from spec_tod.http.transport import PooledTransport  # noqa: E402

PARAMS = GenerationParams(max_new_tokens=16)


def _prompt(i: int) -> str:
    return f"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nrequest number {i}<|eot_id|>"


def _body(i: int) -> bytes:
    return json.dumps({"prompt": _prompt(i), "max_tokens": PARAMS.max_new_tokens, "temperature": 0.0}).encode()


@dataclass(frozen=True)
class Timing:
    wall_s: float
    cpu_s: float
    done: int  # requests finished (fewer than asked when the run hit the cap)


async def _timed(total: int, cap_s: float, run: Callable[[int], Awaitable[None]], in_flight: int) -> Timing:
    """Run ``total`` requests, ``in_flight`` at a time, each through ``run(i)``; stop at ``cap_s``."""
    done = 0
    next_i = 0

    async def worker() -> None:
        nonlocal done, next_i
        while next_i < total:
            i = next_i
            next_i += 1
            await run(i)
            done += 1

    cpu0, t0 = time.process_time(), time.perf_counter()
    try:
        async with asyncio.timeout(cap_s):
            await asyncio.gather(*(worker() for _ in range(in_flight)))
    except TimeoutError:
        pass
    return Timing(time.perf_counter() - t0, time.process_time() - cpu0, done)


async def run_spec_tod(url: str, in_flight: int, total: int, cap_s: float) -> Timing:
    async with CompletionClient([url], concurrency=in_flight, max_retries=0) as client:

        async def one(i: int) -> None:
            await client.complete(_prompt(i), PARAMS)

        return await _timed(total, cap_s, one, in_flight)


async def run_aiohttp(url: str, in_flight: int, total: int, cap_s: float) -> Timing:
    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> None:
            async with session.post(url + "/v1/completions", data=_body(i), headers={"content-type": "application/json"}) as r:
                r.raise_for_status()
                json.loads(await r.read())["choices"][0]["text"]

        return await _timed(total, cap_s, one, in_flight)


async def run_httpx(url: str, in_flight: int, total: int, cap_s: float) -> Timing:
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    async with httpx.AsyncClient(limits=limits, timeout=cap_s, trust_env=False) as client:

        async def one(i: int) -> None:
            r = await client.post(url + "/v1/completions", content=_body(i), headers={"content-type": "application/json"})
            r.raise_for_status()
            json.loads(r.content)["choices"][0]["text"]

        return await _timed(total, cap_s, one, in_flight)


async def run_httpx_pooled(url: str, in_flight: int, total: int, cap_s: float) -> Timing:
    """httpx's objects on spec-tod's connections: the bench client's path before it went below httpx."""
    transport = PooledTransport(max_connections=in_flight)
    async with httpx.AsyncClient(transport=transport, timeout=cap_s, trust_env=False) as client:
        headers = httpx.Headers({"content-type": "application/json"})

        async def one(i: int) -> None:
            r = await client.send(httpx.Request("POST", url + "/v1/completions", content=_body(i), headers=headers))
            r.raise_for_status()
            json.loads(r.content)["choices"][0]["text"]

        return await _timed(total, cap_s, one, in_flight)


def _release_worker(url: str, indices: list[int], start: multiprocessing.Barrier, cap_s: float) -> None:
    start.wait()
    deadline = time.monotonic() + cap_s
    with requests.Session() as session:
        for i in indices:
            if time.monotonic() > deadline:
                break
            r = session.post(url + "/v1/completions", data=_body(i), headers={"content-type": "application/json"})
            r.raise_for_status()
            json.loads(r.content)["choices"][0]["text"]


def run_release(url: str, processes: int, total: int, cap_s: float) -> Timing:
    """N forked processes, each with its share of the requests, sent one after another; timed from the start signal."""
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(processes + 1)
    workers = [
        ctx.Process(target=_release_worker, args=(url, list(range(k, total, processes)), start, cap_s))
        for k in range(processes)
    ]
    for w in workers:
        w.start()
    start.wait(timeout=120)  # every process at the start line: process start-up is not what is measured
    t0 = time.perf_counter()
    for w in workers:
        w.join(cap_s + 30)
    wall = time.perf_counter() - t0
    for w in workers:
        if w.is_alive():
            os.kill(w.pid, 9)
            w.join()
    return Timing(wall, float("nan"), total if all(w.exitcode == 0 for w in workers) else 0)


def _fmt(t: Timing, ideal: float, total: int) -> tuple[str, str]:
    if t.done == total:
        return f"{t.wall_s:7.2f}", f"{t.wall_s / ideal:6.2f}x"
    if t.done == 0:
        return "   fail", "     -"
    est = t.wall_s * total / t.done  # capped: extrapolated from the rate reached
    return f"~{est:6.1f}", f"~{est / ideal:5.1f}x"


def _median(runs: list[Timing]) -> Timing:
    return sorted(runs, key=lambda t: t.wall_s)[len(runs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per measurement (default 2000)")
    parser.add_argument("--delay", type=float, default=0.1, help="server answer delay in seconds (default 0.1)")
    parser.add_argument("--in-flight", default="64,128,256", help="comma-separated in-flight counts (default 64,128,256)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of spec-tod and aiohttp per level, median kept (default 3)")
    parser.add_argument("--max-processes", type=int, default=64, help="cap on the release's processes (default 64)")
    parser.add_argument("--cap-s", type=float, default=60.0, help="time cap per measurement; capped runs are extrapolated")
    parser.add_argument("--skip-httpx", action="store_true", help="skip the naive httpx client (slow past the cliff)")
    parser.add_argument("--skip-release", action="store_true", help="skip the release's multi-process way")
    parser.add_argument("--cost-only", action="store_true", help="only the client cost per request (zero-delay server)")
    args = parser.parse_args()
    levels = [int(n) for n in args.in_flight.split(",")]
    total = args.requests

    print(f"{total} requests, server delay {args.delay * 1000:.0f} ms, {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    with DelayServer(args.delay) as slow, DelayServer(0.0) as fast:
        header = (
            f"{'in flight':>9} | {'ideal s':>7} | {'httpx s':>7} {'ratio':>7} | {'spec-tod s':>10} {'ratio':>7} | "
            f"{'aiohttp s':>9} {'ratio':>7} | {'release s':>9} {'procs':>5} {'vs spec-tod':>11}"
        )
        print(header)
        print("-" * len(header))
        for n in [] if args.cost_only else levels:
            ideal = total * args.delay / n
            ours, aio = [], []
            for _ in range(args.repeats):  # interleaved, so both see the same machine load
                aio.append(asyncio.run(run_aiohttp(slow.url, n, total, args.cap_s)))
                ours.append(asyncio.run(run_spec_tod(slow.url, n, total, args.cap_s)))
            ours_t, aio_t = _median(ours), _median(aio)
            naive = None if args.skip_httpx else asyncio.run(run_httpx(slow.url, n, total, args.cap_s))
            procs = min(n, args.max_processes)
            release = None if args.skip_release else run_release(slow.url, procs, total, args.cap_s)
            h = _fmt(naive, ideal, total) if naive else ("      -", "      -")
            o, a = _fmt(ours_t, ideal, total), _fmt(aio_t, ideal, total)
            r = (
                f"{release.wall_s:9.2f} {procs:5d} {release.wall_s / ours_t.wall_s:10.2f}x"
                if release
                else f"{'-':>9} {'-':>5} {'-':>11}"
            )
            print(f"{n:9d} | {ideal:7.2f} | {h[0]:>7} {h[1]:>7} | {o[0]:>10} {o[1]:>7} | {a[0]:>9} {a[1]:>7} | {r}", flush=True)

        overhead_in_flight = 16
        print(f"\nclient cost per request, zero-delay server, {overhead_in_flight} in flight, {total} requests")
        print(f"{'client':>32} | {'wall us/req':>11} | {'client CPU us/req':>17}")
        clients = {"spec-tod": (run_spec_tod, asyncio.run), "aiohttp": (run_aiohttp, asyncio.run),
                   "httpx on spec-tod's connections": (run_httpx_pooled, asyncio.run),
                   "httpx": (run_httpx, asyncio.run)}  # fmt: skip
        try:  # the event loop `spec-tod bench` runs on where installed (spec_tod/interrupts.py), for both fast clients
            import uvloop

            clients |= {"spec-tod, uvloop": (run_spec_tod, uvloop.run), "aiohttp, uvloop": (run_aiohttp, uvloop.run)}
        except ImportError:
            pass
        runs: dict[str, list[Timing]] = {name: [] for name in clients}
        for _ in range(args.repeats):  # interleaved, so every client sees the same machine load
            for name, (run, loop) in clients.items():
                runs[name].append(loop(run(fast.url, overhead_in_flight, total, args.cap_s)))
        for name, timings in runs.items():
            t = _median(timings)
            print(f"{name:>32} | {1e6 * t.wall_s / t.done:11.0f} | {1e6 * t.cpu_s / t.done:17.0f}", flush=True)


if __name__ == "__main__":
    main()
