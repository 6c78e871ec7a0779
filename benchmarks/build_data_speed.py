"""How fast ``build-data`` builds DST and end-to-end data for MultiWOZ 2.1 dev + test (1,999 dialogues).

Timed as whole processes, as a user runs them, the median of ``--rounds`` interleaved rounds:

* ``spec-tod build-data --split dev,test --task dst,e2e``: one command, one read per split, with the
  corpus cache warm (``docs/speed.md``) and with it off (``SPEC_TOD_NO_CACHE=1``);
* the baseline of the goal, measured in the same run: a bare Python process that unzips and
  ``json.loads`` the same two corpus files and nothing else. Goal: the one command under 1.5x of it;
* the old way, one command per split and task (four commands, four reads), for comparison.

Every command's outputs are checked to be byte-identical, so the ways compared do the same work.
On a shared machine compare CPU seconds: wall time grows with other people's load.

Run: ``source sh/env.sh && python benchmarks/build_data_speed.py [--data-dir DIR] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bytecode import compile_sources  # noqa: E402

GOAL_RATIO = 1.5
SPLITS = ("dev", "test")
TASKS = ("dst", "e2e")
_BARE_PARSE = """
import json, sys, zipfile
for path in sys.argv[1:]:
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            json.loads(archive.read(name))
"""


def timed(commands: list[list[str]], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall s, CPU s of the processes) of running ``commands`` one after the other."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.data_dir is None:
        from spec_tod.settings import default_data_dir

        args.data_dir = default_data_dir()
    spec_tod = shutil.which("spec-tod") or str(Path(sys.executable).parent / "spec-tod")
    data_dir = str(args.data_dir.resolve())
    corpus = [str(args.data_dir / "multiwoz21" / f"{'val' if split == 'dev' else split}.json.zip") for split in SPLITS]
    no_cache = {**os.environ, "SPEC_TOD_NO_CACHE": "1"}
    compile_sources(Path(__file__).resolve().parent.parent / "spec_tod")

    with tempfile.TemporaryDirectory() as scratch:
        outs = {name: Path(scratch) / name for name in ("one", "one-cold", "separate")}
        base = [spec_tod, "build-data", "--dataset", "multiwoz21", "--data-dir", data_dir]
        one = [[*base, "--split", ",".join(SPLITS), "--task", ",".join(TASKS), "--out", str(outs["one"])]]
        one_cold = [[*base, "--split", ",".join(SPLITS), "--task", ",".join(TASKS), "--out", str(outs["one-cold"])]]
        separate = [[*base, "--split", s, "--task", t, "--out", str(outs["separate"])] for s in SPLITS for t in TASKS]
        bare = [[sys.executable, "-c", _BARE_PARSE, *corpus]]
        timed(one)  # fills the cache (and the page cache) once, untimed
        rows: dict[str, list[tuple[float, float]]] = {
            "bare json parse (baseline)": [], "one command, cache warm": [], "one command, cache off": [],
            "four commands (one per file)": [],
        }
        for _ in range(max(1, args.rounds)):
            rows["bare json parse (baseline)"].append(timed(bare))
            rows["one command, cache warm"].append(timed(one))
            rows["one command, cache off"].append(timed(one_cold, no_cache))
            rows["four commands (one per file)"].append(timed(separate))
        for name in sorted(path.name for path in outs["one"].glob("*.jsonl")):
            contents = {(out / name).read_bytes() for out in outs.values()}
            if len(contents) != 1:
                raise SystemExit(f"{name}: the ways compared wrote different bytes")

    print(f"multiwoz21 {'+'.join(SPLITS)} x {'+'.join(TASKS)}: median of {args.rounds} rounds, whole processes")
    bare_wall = statistics.median(wall for wall, _ in rows["bare json parse (baseline)"])
    bare_cpu = statistics.median(cpu for _, cpu in rows["bare json parse (baseline)"])
    for name, runs in rows.items():
        wall, cpu = statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)
        ratios = f"{wall / bare_wall:5.2f}x / {cpu / bare_cpu:5.2f}x the bare parse"
        print(f"  {name:<30} wall {wall:6.2f} s  CPU {cpu:6.2f} s   {ratios}")
    ours = statistics.median(w for w, _ in rows["one command, cache warm"]) / bare_wall
    verdict = "met" if ours < GOAL_RATIO else "MISSED"
    print(f"  goal: one command < {GOAL_RATIO}x the bare parse (wall): {verdict} ({ours:.2f}x)")


if __name__ == "__main__":
    main()
