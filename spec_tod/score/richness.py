"""Lexical richness of the normalised responses (docs/evaluation.md, section 6).

Tokenisation is that of ``lexical-diversity`` 0.1.1 (``lex_div.tokenize``), which the evaluator
calls: punctuation strings deleted, whitespace runs collapsed, lower-cased, split on single spaces
(so an empty response is one empty token, and it counts).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from itertools import pairwise

from spec_tod.data.mwz_tables import load_table
from spec_tod.score.result import RichnessResult

_CONSTANTS = load_table("metric_constants")
_PUNCTUATION = tuple(_CONSTANTS["richness_punctuation_removed"])
_WINDOW: int = _CONSTANTS["msttr_window"]
_WHITESPACE = re.compile(r"\s+")


def tokenize(text: str) -> list[str]:
    """``lex_div.tokenize``: the richness metrics' word list of one response."""
    for mark in _PUNCTUATION:
        text = text.replace(mark, "")
    return _WHITESPACE.sub(" ", text).lower().split(" ")


def msttr(tokens: list[str], window: int = _WINDOW) -> float:
    """Mean segmental type-token ratio over consecutive windows (the remainder is dropped)."""
    if len(tokens) <= window:
        return len(set(tokens)) / len(tokens) if tokens else 0.0
    total = 0.0
    segments = len(tokens) // window
    for start in range(0, segments * window, window):
        total += len(set(tokens[start : start + window])) / window
    return total / segments


def richness(responses: Iterable[str]) -> RichnessResult:
    """Richness of normalised responses; n-grams never cross responses."""
    unigrams: Counter[str] = Counter()
    bigrams: Counter[tuple[str, str]] = Counter()
    trigrams: Counter[tuple[str, str, str]] = Counter()
    all_tokens: list[str] = []
    turns = 0
    for response in responses:
        tokens = tokenize(response)
        all_tokens.extend(tokens)
        turns += 1
        unigrams.update(tokens)
        bigrams.update(pairwise(tokens))
        trigrams.update(zip(tokens, tokens[1:], tokens[2:], strict=False))  # windows: shorter by design
    if not turns:
        return RichnessResult(
            avg_length=0.0, entropy=0.0, cond_entropy=0.0, msttr=0.0, num_unigrams=0, num_bigrams=0, num_trigrams=0
        )
    total = sum(unigrams.values())
    entropy = -sum(count / total * math.log(count / total, 2) for count in unigrams.values())
    cond_entropy = -sum(
        (count / total) * math.log(count / unigrams[head], 2) for (head, _word), count in bigrams.items()
    )
    return RichnessResult(
        avg_length=len(all_tokens) / turns,
        entropy=entropy,
        cond_entropy=cond_entropy,
        msttr=msttr(all_tokens),
        num_unigrams=len(unigrams),
        num_bigrams=len(bigrams),
        num_trigrams=len(trigrams),
    )
