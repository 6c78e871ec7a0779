"""How long reading MultiWOZ 2.1 dev + test takes, against the bare JSON parse of the same files.

The build stage reads both splits (2,000 dialogues) and should spend a small part of its 10 s
budget here. Printed: the baseline (unzip + ``json.load`` of both files), the same parse with
the garbage collector paused (as the readers parse; the floor for any reader of these files),
the readers without a venue database, and with it (``db_count`` on every turn, a fresh database
and an empty fuzzy-match cache each time), each as the best of ``--repeat`` runs, and the ratios
to the baseline.

    python benchmarks/readers.py [--data-dir ../shared/data] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from spec_tod.data.database import VenueDatabase
from spec_tod.data.fuzzy import partial_ratio
from spec_tod.data.gc_pause import gc_paused
from spec_tod.data.readers import multiwoz21
from spec_tod.settings import default_data_dir


def best_of(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = args.data_dir / "multiwoz21"

    def baseline() -> None:
        for name in ("val", "test"):
            with zipfile.ZipFile(folder / f"{name}.json.zip") as archive:
                json.loads(archive.read(f"{name}.json"))

    @gc_paused()
    def baseline_paused() -> None:
        baseline()

    def without_db() -> None:
        for split in ("dev", "test"):
            multiwoz21.read(folder, split, db=None, skip_invalid=False, progress=None)

    def with_db() -> None:
        db = VenueDatabase.load(args.data_dir / "multiwoz_db")
        partial_ratio.cache_clear()
        for split in ("dev", "test"):
            multiwoz21.read(folder, split, db=db, skip_invalid=False, progress=None)

    base = best_of(args.repeat, baseline)
    paused = best_of(args.repeat, baseline_paused)
    plain = best_of(args.repeat, without_db)
    full = best_of(args.repeat, with_db)
    print(f"json parse of val+test (baseline): {base:6.2f} s")
    print(f"json parse, collector paused:      {paused:6.2f} s  ({paused / base:.2f}x baseline)")
    print(f"readers, no database:              {plain:6.2f} s  ({plain / base:.2f}x baseline)")
    print(f"readers, with db_count:            {full:6.2f} s  ({full / base:.2f}x baseline)")


if __name__ == "__main__":
    main()
