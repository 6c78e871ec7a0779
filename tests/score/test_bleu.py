"""spec-tod's BLEU gives sacrebleu's numbers: the 13a tokenizer string for string, corpus BLEU float for float."""

from __future__ import annotations

import random
from typing import Any

import pytest
from sacrebleu import corpus_bleu
from sacrebleu.metrics.bleu import BLEU
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from spec_tod.data.normalize import normalise_responses
from spec_tod.score import Scorer
from spec_tod.score.bleu import MAX_ORDER, ReferenceIndex, bleu, bleu_from_statistics, tokenize_13a

# Every rule of the tokenizer and its edges: the spaced class (which holds the space itself), periods and
# commas beside digits or not, dashes after digits, entities, <skipped>, line breaks, non-ASCII text.
_ALPHABET = [*"ab9 0.,-'&;:/\\{}[]~`^_|!\"#$%()*+<=>?@\n\t\u00e9\u4e2d", "&quot;", "&amp;", "&lt;", "&gt;", "<skipped>", "-\n"]


def _random_lines(count: int) -> list[str]:
    rng = random.Random(7)
    return ["".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 24))) for _ in range(count)]


def _corpus_texts(scorer: Scorer, published: dict[str, dict[str, Any]]) -> list[str]:
    references = [text for reference in scorer.references.values() for text in reference.responses]
    responses = [turn["response"] for data in published.values() for turns in data.values() for turn in turns]
    return references + normalise_responses(responses) + responses


def test_the_tokenizer_is_sacrebleus_on_the_corpus_and_on_edge_cases(
    scorer: Scorer, published: dict[str, dict[str, Any]]
) -> None:
    texts = list(dict.fromkeys(_corpus_texts(scorer, published) + _random_lines(20_000)))
    assert len(texts) > 30_000
    theirs = Tokenizer13a()
    different = [text for text in texts if tokenize_13a(text) != theirs(text)]
    assert different == []


def test_corpus_bleu_is_sacrebleus_float_for_float(scorer: Scorer, published: dict[str, dict[str, Any]]) -> None:
    references = [text for reference in scorer.references.values() for text in reference.responses]
    rng = random.Random(3)
    hypotheses = normalise_responses(turn["response"] for data in published.values() for turns in data.values() for turn in turns)
    cases = [
        (rng.sample(hypotheses, 500), rng.sample(references, 500)),
        (references[:300], references[:300]),  # identical: 100
        (["a b c d"], ["e f g h"]),  # no match at any order: smoothing
        (["the train leaves", ""], ["the train leaves at 5", "yes ."]),  # an empty hypothesis
        (_random_lines(400), _random_lines(800)[400:]),
        # repeated n-grams are clipped to the other side's count, beyond any fixed number of repeats
        (["the " * 70 + ".", "a a a b a a a b", "a b"], ["the the the .", "a a b a a a b b", "a b " * 40]),
    ]
    index = ReferenceIndex.of(references + [line for _, used in cases for line in used])
    for hypotheses_used, references_used in cases:
        expected = corpus_bleu(hypotheses_used, [references_used]).score
        assert bleu(hypotheses_used, references_used) == expected
        assert bleu(hypotheses_used, references_used, index) == expected  # statistics of more sentences than used


def test_the_score_formula_is_sacrebleus_float_for_float() -> None:
    rng = random.Random(11)
    cases = [([0, 0, 0, 0], [5, 4, 3, 2], 5, 7), ([3, 0, 0, 0], [3, 2, 1, 0], 3, 3), ([1, 1, 0, 0], [0, 0, 0, 0], 0, 4)]
    for _ in range(20_000):
        total = [rng.choice([0, 1, 2, rng.randint(0, 10**6)]) for _ in range(MAX_ORDER)]
        correct = [rng.choice([0, rng.randint(0, count)]) for count in total]
        cases.append((correct, total, rng.randint(0, 10**6), rng.choice([0, rng.randint(0, 10**6)])))
    for correct, total, hypothesis_length, reference_length in cases:
        theirs = BLEU.compute_bleu(list(correct), list(total), hypothesis_length, reference_length, smooth_method="exp")
        assert bleu_from_statistics(correct, total, hypothesis_length, reference_length) == theirs.score


def test_unequal_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        bleu(["a", "b"], ["a"])
