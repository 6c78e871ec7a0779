"""How fast does ``spec-tod synth simulate`` turn a server's answers into turns? Turns/s at 64 in flight, 100 ms.

A graph whose walks all run to the 40-node cap (one silent start, then 39 turns alternating a
variants user turn and a text system turn) is simulated for ``--dialogues`` dialogues against
``delay_server.py`` (its own process, answers every request after ``--delay-s``), with the client's
concurrency at ``--in-flight``. Printed beside it, from the same run:

- **ideal**: in flight / delay, the rate of a simulator that costs nothing;
- **client only**: the same number of completions sent straight through the bench client at the same
  concurrency (no walks, prompts, parsing or turn records), the ceiling the simulator sits on.

Run: ``python -m benchmarks.synth_simulate`` (``--help`` for options). Everything is on 127.0.0.1;
the run folder is a temporary directory; the server process is ended by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.delay_server import DelayServer  # noqa: E402
from spec_tod.bench.client import CompletionClient, GenerationParams  # noqa: E402
from spec_tod.synth.graph import load_graph  # noqa: E402
from spec_tod.synth.retrieve import load_corpus  # noqa: E402
from spec_tod.synth.simulate import SimulateOptions, simulate  # noqa: E402

GRAPH = {
    "name": "bench",
    "max_length": 40,
    "corpus": {"id": "id", "text": ["topic"]},
    "nodes": {
        "start": {"role": "system", "edges": {"ask": 1.0}},
        "ask": {
            "role": "user",
            "output": "variants",
            "max_tokens": 16,
            "prompt": "You are a user asking about {{ item.topic }}. Write 3 questions, one per line.",
            "edges": {"answer": 1.0},
        },
        # never chosen (the guard is false): walks stop at the length cap
        "bye": {"role": "user", "guard": "false", "prompt": "Say bye.", "edges": {"end": 1.0}},
        "answer": {
            "role": "system",
            "max_tokens": 16,
            "prompt": "Answer the user about {{ item.topic }} in one line.\nuser: {{ last_user }}",
            "edges": {"ask": 1.0, "bye": 1.0},
        },
    },
}


async def client_only(url: str, requests: int, in_flight: int) -> float:
    async with CompletionClient([url], concurrency=in_flight) as client:
        start = time.perf_counter()
        await asyncio.gather(
            *(client.complete(f"prompt {i}", GenerationParams(max_new_tokens=16)) for i in range(requests))
        )
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogues", type=int, default=256)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--delay-s", type=float, default=0.1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="synth-bench-") as tmp:
        folder = Path(tmp)
        (folder / "graph.yaml").write_text(yaml.safe_dump(GRAPH, sort_keys=False))
        (folder / "corpus.jsonl").write_text(
            "".join(json.dumps({"id": i, "topic": f"topic {i}"}) + "\n" for i in range(64))
        )
        graph = load_graph(folder / "graph.yaml")
        assert graph.spec.corpus is not None
        options_args = dict(
            graph=graph,
            corpus=load_corpus(folder / "corpus.jsonl", graph.spec.corpus),
            count=args.dialogues,
            concurrency=args.in_flight,
        )
        with DelayServer(args.delay_s) as server:
            summary = simulate(SimulateOptions(run_dir=folder / "run", endpoints=[server.url], **options_args))  # type: ignore[arg-type]
            raw_s = asyncio.run(client_only(server.url, summary.calls, args.in_flight))
    ideal = args.in_flight / args.delay_s
    print(
        f"{args.dialogues} dialogues, {summary.turns_run} turns ({summary.calls} calls), {args.in_flight} in flight, "
        f"{args.delay_s * 1000:.0f} ms server; failed dialogues: {summary.failed}"
    )
    print(f"{'':14}{'turns/s':>10}{'of ideal':>10}")
    print(f"{'synth':14}{summary.calls / summary.seconds:>10.1f}{summary.calls / summary.seconds / ideal:>10.2f}")
    print(f"{'client only':14}{summary.calls / raw_s:>10.1f}{summary.calls / raw_s / ideal:>10.2f}")
    print(f"{'ideal':14}{ideal:>10.1f}{1:>10.2f}")


if __name__ == "__main__":
    main()
