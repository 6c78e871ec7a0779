"""Corpus BLEU of normalised responses against one normalised reference each (docs/evaluation.md, section 3).

The figure is sacrebleu 2.6.0's default corpus BLEU (13a tokenizer, case-sensitive, exponential
smoothing), computed here, faster and to the same numbers (docs/speed.md has the measurements;
``tests/score/test_bleu.py`` compares it with sacrebleu, pinned in the ``dev`` extra, on every
reference and published prediction):

* the n-grams are counted once per distinct sentence rather than once per pair (a test set repeats
  many responses and references);
* each sentence's n-grams are a set of integer codes (:class:`ReferenceIndex`), so that the clipped
  matches of a pair are the size of a set intersection, computed in C, and the references' codes
  are arrays that the on-disk cache gives back without building an object per n-gram;
* the 13a tokenizer's first rule, a space on each side of every character of a class that includes
  the space itself, is a ``str.translate`` instead of a regular expression whose replacement
  template Python 3.11 expands per match; the rules for periods, commas and dashes run only when
  the sentence has one;
* the score formula is sacrebleu's ``BLEU.compute_bleu``, operation for operation, so that importing
  sacrebleu (0.14 s, in the scoring's longest path) is not needed.
"""

from __future__ import annotations

import math
import re
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain

MAX_ORDER = 4

# sacrebleu 2.6.0, tokenizers/tokenizer_re.py: r"([\{-\~\[-\` -\&\(-\+\:-\@\/])" -> r" \1 ".
_SPACED = {
    code: f" {chr(code)} "
    for code in (*range(0x7B, 0x7F), *range(0x5B, 0x61), *range(0x20, 0x27), *range(0x28, 0x2C), *range(0x3A, 0x41), 0x2F)
}
_AFTER_NON_DIGIT = re.compile(r"([^0-9])([\.,])")  # -> r"\1 \2 "
_BEFORE_NON_DIGIT = re.compile(r"([\.,])([^0-9])")  # -> r" \1 \2"
_DASH_AFTER_DIGIT = re.compile(r"([0-9])(-)")  # -> r"\1 \2 "


def _pad_after(match: re.Match[str]) -> str:
    return f"{match[1]} {match[2]} "


def _pad_before(match: re.Match[str]) -> str:
    return f" {match[1]} {match[2]}"


def tokenize_13a(line: str) -> str:
    """sacrebleu's ``Tokenizer13a()(line)``, the same string."""
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    line = f" {line} ".translate(_SPACED)
    if "." in line or "," in line:
        line = _BEFORE_NON_DIGIT.sub(_pad_before, _AFTER_NON_DIGIT.sub(_pad_after, line))
    if "-" in line:
        line = _DASH_AFTER_DIGIT.sub(_pad_after, line)
    return " ".join(line.split())


_ORDER_BITS = 2
_ORDER_MASK = (1 << _ORDER_BITS) - 1
_REPEAT_SHIFT = 32
"""A code is ``id << 2 | (order - 1)`` (``id`` from 1: below 2**30 for fewer distinct n-grams than that);
the ``k``-th repetition (from 0) of an n-gram in one sentence adds ``k << 32``. A sentence's codes then
form a set, and two sentences' sets have in common exactly sacrebleu's clipped matches (the sum over
n-grams of the smaller of the two counts), order by order."""


def _ngrams(tokens: list[str]) -> Iterator[object]:
    # Orders 1 to 4 in turn (unigrams are tokens, longer n-grams tuples); each shifted copy is one token
    # shorter, so zip stops at the last whole n-gram.
    return chain(
        tokens,
        zip(tokens, tokens[1:], strict=False),
        zip(tokens, tokens[1:], tokens[2:], strict=False),
        zip(tokens, tokens[1:], tokens[2:], tokens[3:], strict=False),
    )


def _tokens(sentence: str) -> list[str]:
    # sacrebleu strips trailing whitespace before tokenising, and splits on whitespace after.
    return tokenize_13a(sentence.rstrip()).split()


def _with_repeats(codes: list[int]) -> set[int]:
    found = set(codes)
    repeats = _repeats(codes) if len(found) != len(codes) else []
    k = 1
    while repeats:  # the k-th repetitions, then the repeats among them
        found.update([code + (k << _REPEAT_SHIFT) for code in repeats])
        repeats = _repeats(repeats)
        k += 1
    return found


def _repeats(codes: list[int]) -> list[int]:
    """``codes`` less the first occurrence of each (a membership test and a set insertion per code, in C
    but for the comprehension: a third faster than counting them)."""
    seen: set[int] = set()
    return [code for code in codes if code in seen or seen.add(code)]  # type: ignore[func-returns-value]


@dataclass(frozen=True)
class ReferenceIndex:
    """The BLEU statistics of reference sentences: their lengths and n-gram codes (see ``_REPEAT_SHIFT``).

    Arrays of integers rather than a dictionary of counts per sentence: read from the cache they are
    copied, not rebuilt object by object (docs/speed.md has the figures). Only the n-gram table is a
    dictionary, one entry per distinct n-gram of all the references.
    """

    codes: dict[object, int]
    """n-gram (a token for unigrams, else a tuple of tokens) -> its code, without repetition."""
    slots: dict[str, int]
    """Sentence -> its position in ``lengths`` and ``bounds``."""
    lengths: array[int]
    """Tokens of each sentence."""
    occurrences: array[int]
    """Every sentence's codes with their repetitions, sentence after sentence."""
    bounds: array[int]
    """Sentence ``i``'s codes are ``occurrences[bounds[i]:bounds[i + 1]]``."""

    @classmethod
    def of(cls, sentences: Iterable[str]) -> ReferenceIndex:
        """Tokenise and count each distinct sentence once."""
        codes: dict[object, int] = {}
        slots: dict[str, int] = {}
        lengths, occurrences, bounds = array("q"), array("q"), array("q", [0])
        for sentence in dict.fromkeys(sentences):
            tokens = _tokens(sentence)
            slots[sentence] = len(lengths)
            lengths.append(len(tokens))
            sentence_codes = []
            for ngram in _ngrams(tokens):
                code = codes.get(ngram)
                if code is None:
                    order = len(ngram) if isinstance(ngram, tuple) else 1
                    code = codes[ngram] = (len(codes) + 1) << _ORDER_BITS | (order - 1)
                sentence_codes.append(code)
            occurrences.extend(_with_repeats(sentence_codes))
            bounds.append(len(occurrences))
        return cls(codes, slots, lengths, occurrences, bounds)


def bleu(hypotheses: Sequence[str], references: Sequence[str], index: ReferenceIndex | None = None) -> float:
    """sacrebleu's default corpus BLEU (13a, case-sensitive, exp smoothing) on the 0-100 scale.

    ``index``: the references' statistics when they are at hand (:meth:`ReferenceIndex.of` of a set of
    sentences holding every one of ``references``); counted here otherwise."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if index is None or not all(reference in index.slots for reference in references):
        index = ReferenceIndex.of(references)
    lookup = index.codes.get
    counted: dict[str, tuple[int, set[int]]] = {}
    for hypothesis in dict.fromkeys(hypotheses):
        tokens = _tokens(hypothesis)
        # n-grams no reference has cannot match: only the others are coded
        counted[hypothesis] = len(tokens), _with_repeats(list(filter(None, map(lookup, _ngrams(tokens)))))
    matched = memoryview(index.occurrences)
    slots, lengths, bounds = index.slots, index.lengths, index.bounds
    correct = [0] * MAX_ORDER
    hypothesis_lengths = []
    reference_length = 0
    for hypothesis, reference in zip(hypotheses, references, strict=True):
        length, found = counted[hypothesis]
        slot = slots[reference]
        hypothesis_lengths.append(length)
        reference_length += lengths[slot]
        if found:
            for code in found.intersection(matched[bounds[slot] : bounds[slot + 1]]):
                correct[code & _ORDER_MASK] += 1
    by_length = Counter(hypothesis_lengths)
    total = [sum(max(0, length - order) * times for length, times in by_length.items()) for order in range(MAX_ORDER)]
    return bleu_from_statistics(correct, total, sum(hypothesis_lengths), reference_length)


def _floored_log(number: float) -> float:
    return -9999999999 if number == 0.0 else math.log(number)  # sacrebleu's utils.my_log


def bleu_from_statistics(correct: Sequence[int], total: Sequence[int], hypothesis_length: int, reference_length: int) -> float:
    """``BLEU.compute_bleu(correct, total, hypothesis_length, reference_length, smooth_method="exp").score``
    of sacrebleu 2.6.0 (``metrics/bleu.py``), the same operations in the same order."""
    brevity = 1.0
    if hypothesis_length < reference_length:
        brevity = math.exp(1 - reference_length / hypothesis_length) if hypothesis_length > 0 else 0.0
    if not any(correct):
        return 0.0
    precisions = [0.0] * MAX_ORDER
    smoothing = 1.0
    for order in range(MAX_ORDER):
        if total[order] == 0:
            break
        if correct[order] == 0:
            smoothing *= 2
            precisions[order] = 100.0 / (smoothing * total[order])
        else:
            precisions[order] = 100.0 * correct[order] / total[order]
    return brevity * math.exp(sum([_floored_log(precision) for precision in precisions]) / MAX_ORDER)
