"""Corpus BLEU of normalised responses against one normalised reference each (evaluation.md, section 3)."""

from __future__ import annotations

from collections.abc import Sequence

from sacrebleu import corpus_bleu


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """sacrebleu's default corpus BLEU (13a, case-sensitive, exp smoothing) on the 0-100 scale."""
    return corpus_bleu(list(hypotheses), [list(references)]).score
