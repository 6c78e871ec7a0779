"""Corpus BLEU of normalised responses against one normalised reference each (docs/evaluation.md, section 3)."""

from __future__ import annotations

from collections.abc import Sequence


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """sacrebleu's default corpus BLEU (13a, case-sensitive, exp smoothing) on the 0-100 scale."""
    # Imported here: the scorer runs this in a forked worker, so sacrebleu's 0.15 s import runs beside
    # the rest of the scoring instead of before it.
    from sacrebleu import corpus_bleu

    return corpus_bleu(list(hypotheses), [list(references)]).score
