"""Bench runs against fault-injecting servers, each beside an unbroken run of the same dialogues (the baseline).

The issue's cases at their full size, which the tests run smaller: a server that goes down for
``--outage`` seconds (20) mid-run; 10 % of answers empty, cut short or without ``choices``; a prompt in
40 answered with 10 MB. For each it prints the turns done / failed / skipped, the retried attempts,
whether the predictions equal the unbroken run's, the slowest call (latency counts every attempt and
wait) and the largest file the run wrote.

Run: ``source sh/env.sh && python benchmarks/fault_runs.py [--dialogues 6] [--outage 20]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from spec_tod.bench.runner import BenchOptions, run_bench  # noqa: E402
from spec_tod.settings import default_data_dir  # noqa: E402
from tests.bench.scripted_server import Faults, ScriptedServer  # noqa: E402


def _run(server: ScriptedServer, run_dir: Path, dialogues: int, budget_s: float) -> dict:
    started = time.perf_counter()
    outputs = run_bench(
        BenchOptions(endpoints=[server.url], run_dir=run_dir, data_dir=default_data_dir(), template="llama3",
                     limit_dialogues=dialogues, concurrency=8, outage_budget_s=budget_s)  # fmt: skip
    )
    assert outputs is not None
    biggest = max(path.stat().st_size for path in run_dir.rglob("*") if path.is_file())
    slowest = max(stats["max_s"] for stats in outputs.report["latency_s"].values())
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "turns": outputs.report["turns"], "slowest": slowest, "biggest": biggest}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogues", type=int, default=6)
    parser.add_argument("--outage", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        cases = {
            "unbroken (baseline)": ScriptedServer(delay_s=0.01),
            f"down {args.outage:g} s mid-run": ScriptedServer(delay_s=0.01, outage_after=40, outage_s=args.outage),
            "10 % malformed/empty": ScriptedServer(delay_s=0.01, faults=Faults(rate_malformed=0.1)),
            "10 MB answers": ScriptedServer(delay_s=0.01, faults=Faults(huge_every=40)),
        }
        baseline = None
        print(f"{'case':24} {'s':>6} {'done':>5} {'failed':>6} {'skipped':>7} {'retried':>7} {'same':>5} "
              f"{'slowest s':>9} {'largest file':>12} server")  # fmt: skip
        for number, (name, server) in enumerate(cases.items()):
            run_dir = root / f"case-{number}"
            with server:
                figures = _run(server, run_dir, args.dialogues, budget_s=600.0)
            predictions = (run_dir / "predictions.json")
            same = predictions.is_file() and baseline is not None and predictions.read_bytes() == baseline
            if baseline is None:
                baseline = predictions.read_bytes()
            turns = figures["turns"]
            print(f"{name:24} {figures['seconds']:6.1f} {turns['done']:5} {turns['failed']:6} {turns['skipped']:7} "
                  f"{turns['retried_attempts']:7} {('yes' if same else '-'):>5} {figures['slowest']:9.2f} "
                  f"{figures['biggest']:12,} {dict(server.outcomes)}")  # fmt: skip


if __name__ == "__main__":
    main()
