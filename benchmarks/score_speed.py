"""How long ``spec-tod score`` takes on the 1000-dialogue MultiWOZ 2.1 test set with every metric (DST included).

Each published prediction file (AuGPT and MinTL carry states; SFN has none, so no DST) is scored by the
real command in a fresh process, as a user runs it, with the corpus cache warm (the references and gold
states were built by an earlier command; ``docs/speed.md``). Goal: under 1.5 s per file. Printed beside
it, measured in the same run, round by round:

* the same command with the cache off (``SPEC_TOD_NO_CACHE=1``: the split read and the references
  rebuilt, as before the cache);
* the reference evaluator (Nekvinda & Dusek's ``mwzeval``, BLEU + Inform/Success + richness + DST) on the
  same file, when ``--reference-evaluator`` names a checkout of github.com/Tomiinek/MultiWOZ_Evaluation
  and ``lexical_diversity`` is installed (with a MultiWOZ 2.2 excerpt only Inform/Success and richness,
  most of its time, so the ratio is a lower bound; its ``goals.json``, not distributed, is written from spec-tod's
  rebuild of it when missing). It downloads MultiWOZ 2.2 on every run to build its
  references; here those downloads are answered from ``DATA/multiwoz22`` (the same files), so what is
  timed is its own work. Goal: spec-tod at least 10x faster. Its time depends on Python's string hash
  seed: on MinTL's file 9.5-9.9 s with ``PYTHONHASHSEED=1`` and 19.3-19.4 s with ``2`` (CPU equal to
  wall), 8-29 s over unseeded runs, so round ``i`` runs it with ``PYTHONHASHSEED=i+1`` and every round's
  time is printed; the ratio is given for the median and for its fastest round.

With ``--baseline-source DIR`` (a checkout of an earlier spec-tod, e.g. ``git worktree add /tmp/base
<commit>``) that version's ``score`` runs in the same rounds, cache warm too.

Wall and CPU seconds are per whole process (children included); the median of ``--rounds`` is shown.
On a shared machine compare CPU seconds: wall time grows with other people's load.

    python benchmarks/score_speed.py [--data-dir DATA] [--rounds 3] [--reference-evaluator DIR] [--baseline-source DIR]
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

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.bytecode import compile_sources  # noqa: E402

SYSTEMS = ("augpt", "mintl", "sfn")
GOAL_SECONDS = 1.5
GOAL_RATIO = 10.0

_REFERENCE_CHILD = """
import io, json, sys, urllib.request
checkout, data_dir, predictions = sys.argv[1:4]
sys.path.insert(0, checkout)
prefix = "https://raw.githubusercontent.com/budzianowski/multiwoz/master/data/MultiWOZ_2.2/"
def local(url, *args, **kwargs):
    assert url.startswith(prefix), url
    return open(f"{data_dir}/multiwoz22/{url[len(prefix):]}", "rb")
urllib.request.urlopen = local
from mwzeval.metrics import Evaluator
with open(predictions) as handle:
    data = json.load(handle)
quiet, sys.stdout = sys.stdout, io.StringIO()
full = sys.argv[4] == "full"
results = Evaluator(bleu=full, success=True, richness=True, dst=full).evaluate(data)
sys.stdout = quiet
print(json.dumps({"inform": results["success"]["inform"]["total"]}))
"""


_ENTRY = (  # the console script's entry point, or main() in a version without one
    "import importlib, os, sys; sys.argv[0] = 'spec-tod'; "
    "importlib.import_module('spec_tod.entry' if os.path.exists('spec_tod/entry.py') else 'spec_tod.cli').main()"
)


def timed(
    command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[float, float, str]:
    """(wall s, CPU s of the process and its children, stdout) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=600)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def write_goals(path: Path, data_dir: Path) -> None:
    """The evaluator's undistributed goals.json, from spec-tod's rebuild of it (docs/evaluation.md, section 5.1)."""
    import json

    from spec_tod.score.references import split_references

    references = split_references("multiwoz21", data_dir, "test")
    goals = {
        key: {
            domain: {"informable": goal.informable, "requestable": sorted(goal.requestable)}
            for domain, goal in reference.goal.items()
        }
        for key, reference in references.items()
    }
    path.write_text(json.dumps(goals))
    print(f"reference evaluator: {path.name} written from spec-tod's goals (the evaluator does not ship it)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reference-evaluator", type=Path, default=None, help="a MultiWOZ_Evaluation checkout")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="published files to score (default: all three)")
    parser.add_argument("--baseline-source", type=Path, default=None, help="a checkout of an earlier spec-tod")
    args = parser.parse_args()
    if args.data_dir is None:
        from spec_tod.settings import default_data_dir

        args.data_dir = default_data_dir()
    spec_tod = shutil.which("spec-tod") or str(Path(sys.executable).parent / "spec-tod")
    data_dir = str(args.data_dir.resolve())
    reference = None
    if args.reference_evaluator is not None:
        # a private copy: the evaluator's folder is only read, but compiled files land beside it
        reference = Path(tempfile.mkdtemp()) / "mwzeval"
        shutil.copytree(args.reference_evaluator, reference, ignore=shutil.ignore_patterns(".git"))
        goals = reference / "mwzeval" / "data" / "goals.json"
        if not goals.is_file():
            write_goals(goals, args.data_dir)
    baseline_package = args.baseline_source.resolve() / "spec_tod" if args.baseline_source is not None else None
    compile_sources(*(path for path in (REPO_ROOT / "spec_tod", baseline_package, reference) if path is not None))

    # Its BLEU and DST need the whole MultiWOZ 2.2 test split; with an excerpt it runs Inform/Success and
    # richness only (most of its time, docs/evaluation.md section 11), which makes the ratio a lower bound.
    full_mwz22 = sum(path.stat().st_size for path in (args.data_dir / "multiwoz22" / "test").glob("*.json")) > 1_000_000
    metrics = "full" if full_mwz22 else "inform-success-richness"
    if reference is not None:
        print(f"reference evaluator metrics: {metrics}")
    for system in args.systems.split(","):
        predictions = str(args.data_dir / "mwz_predictions" / f"{system}.json")
        command = [spec_tod, "score", predictions, "--dataset", "multiwoz21", "--data-dir", data_dir]
        command += ["--subset"] if system == "mintl" else []  # MinTL predicts 999 of the 1000 dialogues
        timed(command)  # builds the cache entries (and warms the page cache) once, untimed
        rows: dict[str, list[tuple[float, float]]] = {
            "spec-tod score (cache warm)": [], "spec-tod score, cache off": []
        }
        baseline = None
        if args.baseline_source is not None:
            source = args.baseline_source.resolve()
            # run in the checkout (``python -c`` puts the working folder first on sys.path) and with it on PYTHONPATH
            baseline = ([sys.executable, "-c", _ENTRY, *command[1:]], {**os.environ, "PYTHONPATH": str(source)}, source)
            timed(*baseline)
            rows["baseline score (cache warm)"] = []
        if reference is not None:
            rows["reference evaluator"] = []
        for round_ in range(max(1, args.rounds)):
            rows["spec-tod score (cache warm)"].append(timed(command)[:2])
            rows["spec-tod score, cache off"].append(timed(command, {**os.environ, "SPEC_TOD_NO_CACHE": "1"})[:2])
            if baseline is not None:
                rows["baseline score (cache warm)"].append(timed(*baseline)[:2])
            if reference is not None and "reference evaluator" in rows:
                child = [sys.executable, "-c", _REFERENCE_CHILD, str(reference), data_dir, predictions, metrics]
                seeded = {**os.environ, "PYTHONHASHSEED": str(round_ + 1)}  # its time depends on the hash seed
                try:
                    rows["reference evaluator"].append(timed(child, seeded)[:2])
                except SystemExit as failed:
                    # e.g. SFN's file has no states: the evaluator then needs MultiWOZ 2.2's, absent from an excerpt
                    del rows["reference evaluator"]
                    print(f"  reference evaluator failed on {system}: {str(failed).splitlines()[-1]}")
        print(f"{system}: median of {args.rounds} rounds, whole processes")
        ours_wall = statistics.median(wall for wall, _ in rows["spec-tod score (cache warm)"])
        ours_cpu = statistics.median(cpu for _, cpu in rows["spec-tod score (cache warm)"])
        for name, runs in rows.items():
            wall = statistics.median(w for w, _ in runs)
            cpu = statistics.median(c for _, c in runs)
            ratios = f"({wall / ours_wall:5.1f}x / {cpu / ours_cpu:5.1f}x spec-tod)"
            print(f"  {name:<30} wall {wall:6.2f} s  CPU {cpu:6.2f} s  {ratios}")
        verdict = "met" if ours_wall < GOAL_SECONDS else "MISSED (on a shared machine see CPU)"
        print(f"  goal < {GOAL_SECONDS} s wall: {verdict}; CPU {ours_cpu:.2f} s")
        if reference is None:
            print("  reference evaluator: not run (--reference-evaluator DIR); docs/evaluation.md section 11 documents 9-45 s")
        elif "reference evaluator" in rows:
            walls = [w for w, _ in rows["reference evaluator"]]
            ratio, fastest = statistics.median(walls) / ours_wall, min(walls) / ours_wall
            print(f"  reference evaluator, round by round (PYTHONHASHSEED 1, 2, ...): {', '.join(f'{w:.1f}' for w in walls)} s")
            print(f"  reference / spec-tod wall: {ratio:.1f}x, its fastest round {fastest:.1f}x (goal >= {GOAL_RATIO:.0f}x)")


if __name__ == "__main__":
    main()
