"""How long ``spec-tod`` commands take to start and end: ``--version`` and each subcommand's ``--help``.

Whole processes, the median of ``--runs`` interleaved runs. Goal: ``spec-tod --version`` under 0.15 s.
With ``--baseline-source DIR`` (a checkout of an earlier spec-tod, e.g. ``git worktree add /tmp/base
<commit>``) the same commands run from that source in the same interpreter and venv, interleaved, as
the baseline; without it the figure stands alone. Both go through the same entry point a console
script uses (``spec_tod.entry.main`` where it exists, else ``spec_tod.cli.main``).

    python benchmarks/startup.py [--runs 10] [--baseline-source DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bytecode import compile_sources  # noqa: E402

GOAL_SECONDS = 0.15
COMMANDS = (["--version"], ["--help"], ["score", "--help"], ["bench", "--help"], ["build-data", "--help"])
_ENTRY = (  # the console script's entry point, or main() in a version without one
    "import importlib, os, sys; sys.argv[0] = 'spec-tod'; "
    "importlib.import_module('spec_tod.entry' if os.path.exists('spec_tod/entry.py') else 'spec_tod.cli').main()"
)


def timed(command: list[str], source: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    # run in the source folder (``python -c`` puts the working folder first on sys.path) and with it on PYTHONPATH
    env = {**os.environ, "PYTHONPATH": str(source)}
    quiet = subprocess.DEVNULL
    subprocess.run(command, cwd=source, env=env, stdout=quiet, stderr=quiet, check=True, timeout=120)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--baseline-source", type=Path, default=None)
    args = parser.parse_args()
    sources = {"spec-tod": Path(__file__).resolve().parent.parent}
    if args.baseline_source is not None:
        sources["baseline"] = args.baseline_source.resolve()
    compile_sources(*(source / "spec_tod" for source in sources.values()))
    for arguments in COMMANDS:
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in sources}
        for _ in range(args.runs + 1):  # the first round warms the page cache and is dropped
            for name, source in sources.items():
                runs[name].append(timed([sys.executable, "-c", _ENTRY, *arguments], source))
        line = f"spec-tod {' '.join(arguments):<18}"
        for name, figures in runs.items():
            wall = statistics.median(w for w, _ in figures[1:])
            cpu = statistics.median(c for _, c in figures[1:])
            line += f"  {name}: wall {wall:5.3f} s CPU {cpu:5.3f} s"
        if arguments == ["--version"]:
            ours = statistics.median(w for w, _ in runs["spec-tod"][1:])
            cpu = statistics.median(c for _, c in runs["spec-tod"][1:])
            verdicts = {name: "met" if v < GOAL_SECONDS else "MISSED" for name, v in (("wall", ours), ("CPU", cpu))}
            line += f"  (goal < {GOAL_SECONDS} s: wall {verdicts['wall']}, CPU {verdicts['CPU']})"
        print(line)
    print("wall grows with other people's load on a shared machine; CPU seconds are what to compare there")


if __name__ == "__main__":
    main()
