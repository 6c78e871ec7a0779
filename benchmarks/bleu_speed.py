"""The scorer's BLEU worker beside sacrebleu (the library it replaces): reading the references' statistics, then BLEU.

For each published MultiWOZ 2.1 test prediction file, the normalised responses and references as
``spec-tod score`` has them are scored by ``sacrebleu.corpus_bleu`` (which counts every pair's
n-grams itself), by spec-tod and, with ``--baseline-source DIR`` (a checkout of an earlier
spec-tod), by that checkout: each in its own process. spec-tod's runs are timed as its BLEU worker
runs, in a forked child with the collector off: the references' statistics read from the on-disk
cache (warmed by a first round that is not counted), then the BLEU of every pair. Medians of
``--rounds``; every way must give the same figure.

    python benchmarks/bleu_speed.py [--data-dir DIR] [--rounds 7] [--baseline-source DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from spec_tod.data.normalize import normalise_responses  # noqa: E402
from spec_tod.score.references import split_references  # noqa: E402
from spec_tod.settings import default_data_dir  # noqa: E402

SYSTEMS = ("augpt", "mintl", "sfn")

_SACREBLEU = """
import json, sys, time
from sacrebleu import corpus_bleu
hypotheses, references, rounds = json.load(sys.stdin)
times = []
for _ in range(rounds):
    started = time.perf_counter()
    score = corpus_bleu(hypotheses, [references]).score
    times.append(time.perf_counter() - started)
print(json.dumps([None, times, score]))
"""

# Either spec-tod's statistics API: the reference index (tenth stop on), or per-sentence counts before it.
_SPEC_TOD = """
import gc, json, os, sys, time
from types import SimpleNamespace
import spec_tod.score.bleu as bleu
import spec_tod.score.references as references_module
hypotheses, references, rounds = json.load(sys.stdin)
split = {"all": SimpleNamespace(responses=references)}

def once():
    started = time.perf_counter()
    if hasattr(references_module, "reference_index"):
        index = references_module.reference_index(split)
        read = time.perf_counter()
        score = bleu.bleu(hypotheses, references, index)
    else:
        bleu._COUNTS.clear()
        bleu.remember_ngrams(references_module.reference_ngrams(split))
        read = time.perf_counter()
        score = bleu.bleu(hypotheses, references)
    return read - started, time.perf_counter() - read, score

gc.disable()
figures = []
for _ in range(rounds + 1):  # the first round writes the cache entry if it is missing
    pipe_out, pipe_in = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(pipe_in, json.dumps(once()).encode())
        os._exit(0)
    os.close(pipe_in)
    with os.fdopen(pipe_out, "rb") as answer:
        figures.append(json.loads(answer.read()))
    os.waitpid(child, 0)
reads, times, scores = zip(*figures[1:])
print(json.dumps([reads, times, scores[0]]))
"""


def _run(code: str, source: Path, stdin: str) -> list:
    return json.loads(
        subprocess.run(
            [sys.executable, "-c", code], input=stdin, capture_output=True, text=True, check=True, cwd=source
        ).stdout
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--baseline-source", type=Path, default=None)
    args = parser.parse_args()
    data_dir = args.data_dir or default_data_dir()
    here = Path(__file__).resolve().parent.parent
    ways = {"sacrebleu": (_SACREBLEU, here), "spec-tod": (_SPEC_TOD, here)}
    if args.baseline_source is not None:
        ways["baseline"] = (_SPEC_TOD, args.baseline_source.resolve())
    references = split_references("multiwoz21", data_dir, "test")

    print("seconds, median of rounds; each way in its own process (spec-tod's: a forked child per round)")
    for system in SYSTEMS:
        predictions = json.loads((data_dir / "mwz_predictions" / f"{system}.json").read_text(encoding="utf-8"))
        ids = [dialogue_id for dialogue_id in references if dialogue_id in predictions]
        hypotheses = normalise_responses(turn["response"] for i in ids for turn in predictions[i])
        used = [text for i in ids for text in references[i].responses[: len(predictions[i])]]
        stdin = json.dumps([hypotheses, used, args.rounds])
        figures = {name: _run(code, source, stdin) for name, (code, source) in ways.items()}
        same = len({score for _, _, score in figures.values()}) == 1
        parts = []
        for name, (reads, times, _) in figures.items():
            read = f"read {statistics.median(reads):.3f} + " if reads is not None else ""
            parts.append(f"{name} {read}BLEU {statistics.median(times):.3f}")
        print(f"  {system:6} {len(hypotheses)} pairs  {'  |  '.join(parts)}  ({'same figure' if same else 'FIGURES DIFFER'})")


if __name__ == "__main__":
    main()
