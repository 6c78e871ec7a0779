"""Corpus BLEU of normalised responses against one normalised reference each (docs/evaluation.md, section 3).

The figure is sacrebleu 2.6.0's default corpus BLEU (13a tokenizer, case-sensitive, exponential
smoothing), computed here, faster and to the same numbers (docs/speed.md has the measurements;
``tests/score/test_bleu.py`` compares it with sacrebleu, pinned in the ``dev`` extra, on every
reference and published prediction):

* the n-grams are counted once per distinct sentence rather than once per pair (a test set repeats
  many responses and references);
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
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

MAX_ORDER = 4

NgramCounts = tuple[int, tuple[dict[object, int], ...]]
"""A tokenised sentence's length and its n-gram counts for orders 1 to 4 (an n-gram is a tuple of tokens)."""

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


def _counts(tokens: list[str]) -> tuple[dict[object, int], ...]:
    # Each shifted copy is one token shorter: zip stops at the last whole n-gram.
    return (
        Counter(tokens),
        Counter(zip(tokens, tokens[1:], strict=False)),
        Counter(zip(tokens, tokens[1:], tokens[2:], strict=False)),
        Counter(zip(tokens, tokens[1:], tokens[2:], tokens[3:], strict=False)),
    )


_COUNTS: dict[str, NgramCounts] = {}
"""Each sentence's :data:`NgramCounts`, computed once per process (a forked BLEU worker inherits them)."""


def _ngram_counts(sentence: str) -> NgramCounts:
    found = _COUNTS.get(sentence)
    if found is None:
        # sacrebleu strips trailing whitespace before tokenising, and splits on whitespace after.
        tokens = tokenize_13a(sentence.rstrip()).split()
        found = _COUNTS[sentence] = (len(tokens), _counts(tokens))
    return found


def counted(sentences: Iterable[str]) -> bool:
    """Whether every one of ``sentences`` has its counts in this process already."""
    return all(sentence in _COUNTS for sentence in sentences)


def ngram_table(sentences: Iterable[str]) -> dict[str, NgramCounts]:
    """The counts of each distinct sentence, as plain dicts: a table for the on-disk cache (plain dicts
    unpickle in about 0.6 of the time of Counters)."""
    table = {}
    for sentence in dict.fromkeys(sentences):
        length, counts = _ngram_counts(sentence)
        table[sentence] = (length, tuple(dict(ngrams) for ngrams in counts))
    return table


def remember_ngrams(table: Mapping[str, NgramCounts]) -> None:
    """Take the counts of an :func:`ngram_table` (read back from the cache) as counted in this process."""
    _COUNTS.update(table)


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """sacrebleu's default corpus BLEU (13a, case-sensitive, exp smoothing) on the 0-100 scale."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    correct = [0] * MAX_ORDER
    total = [0] * MAX_ORDER
    hypothesis_length = reference_length = 0
    for hypothesis, reference in zip(hypotheses, references, strict=True):
        length, hypothesis_ngrams = _ngram_counts(hypothesis)
        its_length, reference_ngrams = _ngram_counts(reference)
        hypothesis_length += length
        reference_length += its_length
        for order, (ngrams, matchable) in enumerate(zip(hypothesis_ngrams, reference_ngrams, strict=True)):
            total[order] += max(0, length - order)
            for ngram, count in ngrams.items():
                available = matchable.get(ngram)
                if available:
                    correct[order] += min(count, available)
    return bleu_from_statistics(correct, total, hypothesis_length, reference_length)


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
