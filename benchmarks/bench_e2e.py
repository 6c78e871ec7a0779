"""How close ``spec-tod bench`` comes to keeping a server saturated: 300 MultiWOZ test dialogues end to end
against a server that answers every request after exactly 100 ms, with unlimited parallelism.

Ideal wall time: every call costs 0.1 s and 64 run at once, so ``total calls x 0.1 / 64``, unless the
longest dialogue's chain of calls (2 per turn, strictly in order) is longer. The run time is the
report's wall time (first turn started to last turn finished); the command time adds loading the
data and writing the outputs. Goal: run time / ideal under 1.25 (issue 16: at 1000 dialogues x 256 in flight, under 1.15).

Baseline, measured in the same run against the same server: the bare client sending the same
number of independent requests with the same concurrency and as many workers as the harness (no
dialogues, no ordering, no prompts to build). It shows how much of the gap to the ideal is the
machine and the HTTP client rather than the harness.

The server (``benchmarks/delay_server.py``) runs in its own process. Its answers do not parse as
calls or actions, which costs the harness nothing extra: every turn still makes both calls.

Fixed cost: ``spec-tod bench`` run as a fresh process (as a user runs it) against the same server; its
wall time minus the loop's (the report's wall time) is what every bench command pays beside the
loop: imports, data, scoring, report, plots, exit. Goal: under 1 s at 300 dialogues. With
``--baseline-source DIR`` (a checkout of an earlier spec-tod) that version's figure is measured in the
same rounds.

Run: ``python benchmarks/bench_e2e.py [--dialogues 300] [--concurrency 64] [--delay 0.1] [--baseline-source DIR]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bytecode import compile_sources  # noqa: E402
from benchmarks.delay_server import DelayServer  # noqa: E402
from spec_tod.bench.client import CompletionClient, GenerationParams  # noqa: E402
from spec_tod.bench.runner import BenchOptions, run_bench  # noqa: E402
from spec_tod.bench.scheduler import worker_count  # noqa: E402
from spec_tod.settings import default_data_dir  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogues", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--delay", type=float, default=0.1, help="seconds per request")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the fixed-cost measurement")
    parser.add_argument(
        "--baseline-source",
        type=Path,
        default=None,
        help="a checkout of an earlier spec-tod whose `bench` command's fixed cost is measured alongside",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch, DelayServer(delay_s=args.delay) as server:
        options = BenchOptions(
            endpoints=[server.url],
            run_dir=Path(scratch) / "run",
            data_dir=default_data_dir(),
            template="llama3",
            limit_dialogues=args.dialogues,
            concurrency=args.concurrency,
        )
        started = time.perf_counter()
        outputs = run_bench(options)
        command_s = time.perf_counter() - started
        assert outputs is not None
        baseline_s = asyncio.run(bare_client(server.url, outputs.report["turns"]["calls"], args.concurrency))
        sources = {"spec-tod": Path(__file__).resolve().parent.parent}
        if args.baseline_source is not None:
            sources["baseline"] = args.baseline_source.resolve()
        compile_sources(*(source / "spec_tod" for source in sources.values()))
        fixed: dict[str, list[tuple[float, float, float]]] = {name: [] for name in sources}
        for round_ in range(args.rounds):
            for name, source in sources.items():
                run_dir = Path(scratch) / f"command-{name}-{round_}"
                fixed[name].append(command_fixed_cost(source, server.url, run_dir, args.dialogues, args.concurrency))
    report = outputs.report
    calls = report["turns"]["calls"]
    longest_chain = 2 * max_turns(options)
    ideal = max(calls * args.delay / args.concurrency, longest_chain * args.delay)
    run_s = report["throughput"]["wall_s"]
    print(f"dialogues {report['turns']['dialogues']}, turns {report['turns']['turns']}, calls {calls}")
    print(f"concurrency {args.concurrency}, delay {args.delay * 1000:.0f} ms, longest chain {longest_chain} calls")
    print(f"ideal {ideal:.2f} s")
    print(f"run wall time {run_s:.2f} s  -> {run_s / ideal:.3f}x ideal (goal < 1.25x)")
    print(f"baseline: bare client, {calls} independent requests: {baseline_s:.2f} s -> {baseline_s / ideal:.3f}x ideal; "
          f"harness / baseline {run_s / baseline_s:.3f}x")  # fmt: skip
    print(f"command wall time {command_s:.2f} s (data loading, scoring and report included)")
    for name, figures in fixed.items():
        process = statistics.median(total for total, _, _ in figures)
        cost = statistics.median(total - loop for total, loop, _ in figures)
        cpu = statistics.median(cpu for _, _, cpu in figures)
        loop = statistics.median(loop for _, loop, _ in figures)
        print(
            f"`spec-tod bench` as a process ({name}): {process:.2f} s, of which fixed cost (all but the loop) "
            f"{cost:.2f} s, median of {len(figures)}{' (goal < 1 s)' if name == 'spec-tod' else ''}; "
            f"CPU of the whole process {cpu:.2f} s; its loop {loop:.2f} s -> {loop / ideal:.3f}x ideal"
        )
        print(f"  every round's fixed cost ({name}): {', '.join(f'{total - loop:.2f}' for total, loop, _ in figures)} s")
    print(f"latency p50 dst {report['latency_s']['dst']['p50_s'] * 1000:.1f} ms, "
          f"response {report['latency_s']['response']['p50_s'] * 1000:.1f} ms; "
          f"{report['throughput']['requests_per_s']:.0f} requests/s")  # fmt: skip


def command_fixed_cost(source: Path, url: str, run_dir: Path, dialogues: int, concurrency: int) -> tuple[float, float, float]:
    """(process wall s, loop wall s, process CPU s) of `spec-tod bench` run from ``source`` as a fresh process:
    imports, data, the loop, scoring, report, plots and exit (CPU: its children included)."""
    command = [
        sys.executable, "-c", _ENTRY, "bench", "--endpoint", url, "--template", "llama3", "--limit-dialogues",
        str(dialogues), "--concurrency", str(concurrency), "--data-dir", str(default_data_dir()), "--run-dir", str(run_dir),
    ]  # fmt: skip
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**os.environ, "PYTHONPATH": str(source)}  # and run in it: `python -c` puts the working folder first
    subprocess.run(command, cwd=source, env=env, check=True, capture_output=True, timeout=600)
    process = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return process, json.loads((run_dir / "report.json").read_text())["throughput"]["wall_s"], cpu


_ENTRY = (  # the console script's entry point, or main() in a version without one
    "import importlib, os, sys; sys.argv[0] = 'spec-tod'; "
    "importlib.import_module('spec_tod.entry' if os.path.exists('spec_tod/entry.py') else 'spec_tod.cli').main()"
)


async def bare_client(url: str, calls: int, concurrency: int) -> float:
    """Seconds for the client alone to complete ``calls`` requests with a dialogue-sized prompt.

    The requests are sent by as many workers as the harness has (``worker_count``), each sending its
    next request when the last is answered. Gathering all the requests at once instead would have
    every one of them encode its body before the first answer is read: on 14,744 requests that alone
    put the bare client at 1.24x of the ideal against 1.07x with bounded workers.
    """
    prompt = "<|begin_of_text|>" + "word " * 3000
    params = GenerationParams(max_new_tokens=128, stop=("<|eot_id|>",))
    left = calls

    async def worker(client: CompletionClient) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await client.complete(prompt, params)

    async with CompletionClient([url], concurrency=concurrency) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(worker_count(concurrency, calls))))
        return time.perf_counter() - started


def max_turns(options: BenchOptions) -> int:
    from spec_tod.data.readers import load_dialogues

    dialogues = load_dialogues("multiwoz21", options.data_dir, "test").dialogues[: options.limit_dialogues]
    return max(len(dialogue.turns) for dialogue in dialogues)


if __name__ == "__main__":
    main()
