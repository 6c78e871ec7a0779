"""Where `spec-tod score` spends its time, process by process: timelines of single runs, cache warm.

docs/speed.md ("`spec-tod score`: what runs where") describes which process does what and when; this
prints it. Each run is a whole `spec-tod score` process of a published prediction file, started by
this script with an import hook that wraps a few of spec-tod's functions (by their names, so a
refactoring that renames one fails here loudly) to write a mark when each starts and ends: seconds
since the process's start, the process, and its CPU seconds so far. The marks cost a few
microseconds each; the command's output is thrown away.

    python benchmarks/score_timeline.py [--system augpt] [--runs 5] [--data-dir DIR] [--show 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

EVENTS = {
    "main: predictions read": ("main", "< read_predictions"),
    "worker: responses normalised": ("worker", "< normalise"),
    "main: references read": ("main", "< split_references"),
    "worker: BLEU statistics read": ("worker", "< bleu statistics"),
    "main: scoring started": ("main", "stage check"),
    "worker: BLEU done": ("worker", "< bleu"),
    "main: scores done": ("main", "stage None"),
    "main: tables printed": ("main", "< render"),
}
"""What the summary gives the median of: the process and the mark."""

_WRAPPED = {
    "spec_tod.score.bleu_worker": (("_read", "bleu statistics"), ("_bleu_against", "bleu")),
    "spec_tod.data.normalize": (("_normalise_batch", "normalise"), ("_import_moses", "moses set-up")),
    "spec_tod.score.predictions": (("read_predictions", "read_predictions"),),
    "spec_tod.score.references": (("split_references", "split_references"),),
    "spec_tod.score.report": (("render", "render"),),
}


def _child(arguments: list[str]) -> None:
    """In the timed process: install the hook, then run the console entry as `spec-tod score ARGUMENTS`."""
    import functools
    import importlib.abc
    import importlib.util

    started = time.perf_counter()
    main_pid = os.getpid()

    def mark(label: str) -> None:
        cpu = sum(os.times()[:2])
        role = "main" if os.getpid() == main_pid else "worker"
        os.write(2, f"@@ {time.perf_counter() - started:.4f} {role} {cpu:.3f} {label}\n".encode())

    def wrap(module: Any, name: str, label: str) -> None:
        function = getattr(module, name)

        @functools.wraps(function)
        def marked(*args: Any, **kwargs: Any) -> Any:
            mark(f"> {label}")
            try:
                return function(*args, **kwargs)
            finally:
                mark(f"< {label}")

        setattr(module, name, marked)

    def stages(module: Any) -> None:
        call = module._Stages.__call__

        def marked(self: Any, name: str | None) -> None:
            mark(f"stage {name}")
            call(self, name)

        module._Stages.__call__ = marked

    class Hook(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
            if name not in _WRAPPED and name != "spec_tod.score.evaluate":
                return None
            sys.meta_path.remove(self)
            try:
                spec = importlib.util.find_spec(name)
            finally:
                sys.meta_path.insert(0, self)
            execute = spec.loader.exec_module

            def exec_module(module: Any) -> None:
                execute(module)
                if name == "spec_tod.score.evaluate":
                    stages(module)
                for function, label in _WRAPPED.get(name, ()):
                    wrap(module, function, label)

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, Hook())
    sys.argv = ["spec-tod", "score", *arguments]
    from spec_tod.entry import main

    main()


def _run(arguments: list[str]) -> list[tuple[float, str, float, str]]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *arguments], capture_output=True, text=True, cwd=ROOT, check=False
    )
    if done.returncode != 0:
        sys.exit(f"spec-tod score failed ({done.returncode}): {done.stderr[-2000:]}")
    marks = []
    for line in done.stderr.splitlines():
        if line.startswith("@@ "):
            _, seconds, role, cpu, label = line.split(" ", 4)
            marks.append((float(seconds), role, float(cpu), label))
    return marks


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", default="augpt", help="augpt, mintl or sfn (the published predictions)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--show", type=int, default=1, help="print the whole timeline of this many runs")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from spec_tod.settings import default_data_dir

    data_dir = (args.data_dir or default_data_dir()).resolve()
    arguments = [str(data_dir / "mwz_predictions" / f"{args.system}.json"), "--dataset", "multiwoz21",
                 "--data-dir", str(data_dir), "--subset"]
    _run(arguments)  # warms the cache, not counted
    runs = [_run(arguments) for _ in range(args.runs)]
    for number, marks in enumerate(runs[: args.show], 1):
        print(f"run {number}: seconds since the start, process, its CPU seconds so far, mark")
        for seconds, role, cpu, label in marks:
            print(f"  {seconds:6.3f}  {role:6}  {cpu:5.2f}  {label}")
    print(f"{args.system}: medians of {args.runs} runs (seconds since the process's start)")
    for event, (role, label) in EVENTS.items():
        times = [next((s for s, r, _, lab in marks if r == role and lab == label), None) for marks in runs]
        found = [t for t in times if t is not None]
        print(f"  {event:32} {statistics.median(found):.3f}" if found else f"  {event:32} -")
    main_cpu = [max(c for _, r, c, _ in marks if r == "main") for marks in runs]
    worker_cpu = [max((c for _, r, c, _ in marks if r == "worker"), default=0.0) for marks in runs]
    print(f"  CPU of the main process to its last mark {statistics.median(main_cpu):.2f} s, "
          f"of the worker to its last mark {statistics.median(worker_cpu):.2f} s")


if __name__ == "__main__":
    main()
