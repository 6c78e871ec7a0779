"""spec-tod's Moses retokenisation beside sacremoses (the library it replaces) on the published systems' responses.

For each of the three published MultiWOZ 2.1 test prediction files, the distinct responses as the
scorer passes them to Moses (lower-cased, placeholders replaced; docs/evaluation.md 2.1) are
retokenised by sacremoses itself (``MosesTokenizer(lang="en").tokenize`` then
``MosesDetokenizer(lang="en").detokenize``), by ``spec_tod.data.moses.retokenize`` and, with
``--baseline-source DIR`` (a checkout of an earlier spec-tod), by that checkout's
``retokenize``: each in its own process, best of ``--rounds``, and every text must come out the
same. Then the import of each (with its classes set up), as whole processes, the median of ``--runs``
less a bare interpreter's start.

    python benchmarks/moses_speed.py [--data-dir DIR] [--rounds 5] [--runs 8] [--baseline-source DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from spec_tod.data.normalize import moses_input  # noqa: E402
from spec_tod.settings import default_data_dir  # noqa: E402

SYSTEMS = ("augpt", "mintl", "sfn")
_SACREMOSES = (
    "from sacremoses import MosesDetokenizer, MosesTokenizer\n"
    "_t, _d = MosesTokenizer(lang='en'), MosesDetokenizer(lang='en')\n"
    "def retokenize(text): return _d.detokenize(_t.tokenize(text))\n"
)
_SPEC_TOD = "from spec_tod.data.moses import retokenize\n"
_TIMING = """
import hashlib, json, sys, time
texts = json.load(sys.stdin)
best = float('inf')
for _ in range({rounds}):
    started = time.perf_counter()
    out = [retokenize(text) for text in texts]
    best = min(best, time.perf_counter() - started)
print(json.dumps([best / len(texts), hashlib.sha256('\\n'.join(out).encode()).hexdigest()]))
"""


def moses_inputs(path: Path) -> list[str]:
    """The distinct texts the scorer's normalisation hands to Moses for one predictions file."""
    turns = [turn for turns in json.loads(path.read_text(encoding="utf-8")).values() for turn in turns]
    return list(dict.fromkeys(moses_input(turn["response"]) for turn in turns))


def _run(code: str, source: Path, stdin: str | None = None) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], input=stdin, capture_output=True, text=True, check=True, cwd=source
    ).stdout


def import_seconds(code: str, source: Path, runs: int) -> float:
    def median_run(snippet: str) -> float:
        times = []
        for _ in range(runs + 1):  # the first run warms the page cache and is dropped
            started = time.perf_counter()
            _run(snippet, source)
            times.append(time.perf_counter() - started)
        return statistics.median(times[1:])

    return median_run(code) - median_run("pass")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--baseline-source", type=Path, default=None)
    args = parser.parse_args()
    folder = (args.data_dir or default_data_dir()) / "mwz_predictions"
    here = Path(__file__).resolve().parent.parent
    ways = {"sacremoses": (_SACREMOSES, here), "spec-tod": (_SPEC_TOD, here)}
    if args.baseline_source is not None:
        ways["baseline"] = (_SPEC_TOD, args.baseline_source.resolve())

    print("per distinct response, best of rounds (microseconds); each way in its own process")
    for system in SYSTEMS:
        texts = json.dumps(moses_inputs(folder / f"{system}.json"))
        figures = {
            name: json.loads(_run(setup + _TIMING.format(rounds=args.rounds), source, texts))
            for name, (setup, source) in ways.items()
        }
        same = len({digest for _, digest in figures.values()}) == 1
        line = "  ".join(f"{name} {seconds * 1e6:6.1f}" for name, (seconds, _) in figures.items())
        print(f"  {system:6} {len(json.loads(texts)):5} texts  {line}  ({'same text' if same else 'TEXTS DIFFER'})")
    print("import, set-up included: whole processes less a bare interpreter's start, median of runs")
    for name, (setup, source) in ways.items():
        print(f"  {name:10} {import_seconds(setup, source, args.runs):.3f} s")


if __name__ == "__main__":
    main()
