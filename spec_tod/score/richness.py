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


_BREAK = " "
"""Between two responses' tokens: no token holds a space (they are split on spaces), so an n-gram
that holds this one crosses responses."""


def _within_responses(grams: Counter[tuple[str, ...]]) -> Counter[tuple[str, ...]]:
    for crossing in [gram for gram in grams if _BREAK in gram]:
        del grams[crossing]
    return grams


def _distinct_within_responses(grams: set[tuple[str, ...]]) -> int:
    return len(grams) - sum(_BREAK in gram for gram in grams)


def richness(responses: Iterable[str]) -> RichnessResult:
    """Richness of normalised responses; n-grams never cross responses."""
    words: dict[str, list[str]] = {}  # a test set repeats many responses: each is tokenised once
    all_tokens: list[str] = []
    stream: list[str] = []  # every response's tokens, each followed by a break
    turns = 0
    for response in responses:
        tokens = words.get(response) or words.setdefault(response, tokenize(response))
        all_tokens += tokens
        stream += tokens
        stream.append(_BREAK)
        turns += 1
    # Counted over the whole stream at once (Counter's C loop), then the crossing n-grams dropped:
    # the rest keep the order of their first occurrence, so the sums below add in the same order.
    unigrams = Counter(all_tokens)
    bigrams = _within_responses(Counter(zip(stream, stream[1:], strict=False)))
    # Only the number of distinct trigrams is reported: a set, without counting them.
    trigrams = _distinct_within_responses(set(zip(stream, stream[1:], stream[2:], strict=False)))
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
        num_trigrams=trigrams,
    )
