"""How fast ``build-data`` builds DST and end-to-end data for MultiWOZ 2.1 dev + test (1,999 dialogues).

Goal: under 10 s on the project's 2-core machines for all four files (dst and e2e, dev and test),
reading each split once. The release generated one task per process, re-reading the data each
time, and took about an hour for comparable work (its prompting scripts plus UBAR preprocessing);
that figure is quoted, not measured. Measured here in the same run as a baseline: the same four
builds with one read per build, as separate ``spec-tod build-data`` commands would do.

Run: ``source sh/env.sh && python benchmarks/build_data_speed.py [--data-dir DIR]``
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

from spec_tod.settings import default_data_dir
from spec_tod.tasks.build import BuildOptions, build_data, read_split

GOAL_SECONDS = 10.0
RELEASE_SECONDS = 3600.0
SPLITS = ("dev", "test")
TASKS = ("dst", "e2e")


def build_all(data_dir: Path, out: Path, *, share_reads: bool) -> tuple[float, float, int, int]:
    """Build the four files; return (wall seconds, CPU seconds, records, turns)."""
    started, cpu_started = time.perf_counter(), time.process_time()
    records = turns = 0
    for split in SPLITS:
        base = BuildOptions(dataset="multiwoz21", data_dir=data_dir, split=split, task="dst", out=out)
        loaded = read_split(base) if share_reads else None
        for task in TASKS:
            summary = build_data(dataclasses.replace(base, task=task), loaded=loaded)
            records += summary.counts.records_written
            turns += summary.counts.turns
    return time.perf_counter() - started, time.process_time() - cpu_started, records, turns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        # One untimed build first: imports and the venue database's caches are not what is measured.
        build_data(BuildOptions("multiwoz21", args.data_dir, "dev", "dst", Path(folder) / "warm", fraction=0.01))
        shared, shared_cpu, records, turns = build_all(args.data_dir, Path(folder) / "shared", share_reads=True)
        separate, separate_cpu, _, _ = build_all(args.data_dir, Path(folder) / "separate", share_reads=False)
    print(f"multiwoz21 dev+test, dst+e2e: {records} records, {turns} turns")
    print("                                          wall s   CPU s   vs goal (wall)")
    print(f"one read per split (build-data's way)   {shared:7.2f} {shared_cpu:7.2f}   {shared / GOAL_SECONDS:.2f} of {GOAL_SECONDS:.0f} s")
    print(f"one read per build (baseline, same run) {separate:7.2f} {separate_cpu:7.2f}   {separate / shared:.2f}x the time")
    print(f"release (quoted, about 1 hour)          {RELEASE_SECONDS:7.0f}       -   {RELEASE_SECONDS / shared:.0f}x the time")
    print("CPU time is what to compare when the machine is shared: wall time grows with other load.")

if __name__ == "__main__":
    main()
