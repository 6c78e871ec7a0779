"""The evaluator's fuzzy string match: fuzzywuzzy's ``partial_ratio``, memoised.

The standardized evaluator's Inform rate and DST scores depend on this exact algorithm
(docs/evaluation.md, section 4): ``rapidfuzz`` searches all alignments and gives different
numbers, so fuzzywuzzy (with python-Levenshtein) is used as is. Scoring asks the same few
thousand pairs over and over, hence the cache.
"""

from __future__ import annotations

from collections import Counter
from functools import cache, lru_cache
from types import ModuleType

from spec_tod.errors import SpecTodError


@cache
def _fuzz() -> ModuleType:
    # Without python-Levenshtein, fuzzywuzzy silently falls back to difflib's SequenceMatcher, whose
    # matching blocks differ: the scores would change. That is an installation error, not a fallback.
    try:
        import Levenshtein  # noqa: F401
    except ImportError:
        raise SpecTodError(
            "python-Levenshtein is not installed: the evaluator's fuzzy match needs it (fuzzywuzzy's difflib "
            "fallback gives other scores); install spec-tod's pinned version: pip install python-Levenshtein==0.27.5"
        ) from None
    from fuzzywuzzy import fuzz

    return fuzz


@lru_cache(maxsize=1 << 18)
def partial_ratio(first: str, second: str) -> int:
    """fuzzywuzzy 0.18 ``fuzz.partial_ratio(first, second)`` (0-100; argument order matters on ties)."""
    return int(_fuzz().partial_ratio(first, second))


@lru_cache(maxsize=1 << 14)
def _letters(text: str) -> Counter[str]:
    return Counter(text)


_BITS: dict[str, int] = {}
"""A bit for each character seen, for :func:`_letter_set`."""


@lru_cache(maxsize=1 << 14)
def _letter_set(text: str) -> int:
    """The distinct characters of ``text`` as a bitmask."""
    mask = 0
    for character in set(text):
        bit = _BITS.get(character)
        if bit is None:
            bit = _BITS[character] = 1 << len(_BITS)
        mask |= bit
    return mask


def _cannot_reach(shared: int, shorter: int, score: int) -> bool:
    return 400 * shared < (2 * score - 1) * (shorter + shared)  # 200 * shared / (m + shared) < score - 0.5


def partial_ratio_reaches(first: str, second: str, score: int) -> bool:
    """``partial_ratio(first, second) >= score``, without running it for pairs that cannot get there.

    A venue-name query compares one value with every name in a table and nearly all pairs are far
    apart. ``partial_ratio`` is the best ``round(100 * 2 * LCS / (m + L))`` over windows of length
    ``L <= m`` of the longer string (``m``: length of the shorter), and the common subsequence is at
    most the letters the two strings share (counted with multiplicity), so
    ``200 * shared / (m + shared)`` bounds the score. Below ``score - 0.5`` it cannot round up to
    ``score``: such pairs (nine in ten of the database's) are rejected by counting letters. Two in three
    are rejected sooner, by a looser bound from the distinct letters alone: each distinct letter of the
    shorter string that the longer lacks is at least one letter not shared (docs/speed.md has the figures).
    """
    short, long = (first, second) if len(first) <= len(second) else (second, first)
    shorter = len(short)
    if _cannot_reach(shorter - (_letter_set(short) & ~_letter_set(long)).bit_count(), shorter, score):
        return False
    few, many = _letters(first), _letters(second)
    if len(few) > len(many):
        few, many = many, few
    shared = sum(min(count, many.get(letter, 0)) for letter, count in few.items())
    if _cannot_reach(shared, shorter, score):
        return False
    return partial_ratio(first, second) >= score
