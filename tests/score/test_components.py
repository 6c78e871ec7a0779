"""The metric pieces on small hand-checked inputs."""

from __future__ import annotations

import math

import pytest

from spec_tod.data.fuzzy import partial_ratio
from spec_tod.score.active_domains import estimate_active_domains
from spec_tod.score.dst import dst_scores
from spec_tod.score.references import evaluator_delex, interchange_id, reference_response
from spec_tod.score.richness import msttr, richness, tokenize


def test_richness_tokenizer() -> None:
    assert tokenize("i found NAME. it's at ADDRESS!") == ["i", "found", "name", "its", "at", "address"]
    assert tokenize("") == [""]
    assert tokenize(" a  SYMb ") == ["", "a", "b", ""]  # "SYM" is deleted, case-sensitively
    assert msttr(["a"] * 50 + ["b"] * 50 + ["c"]) == pytest.approx(1 / 50)
    assert msttr(["a", "b", "a"]) == pytest.approx(2 / 3)
    lexical = richness(["a b a", "b a"])
    assert [lexical.avg_length, lexical.num_unigrams, lexical.num_bigrams, lexical.num_trigrams] == [2.5, 2, 2, 1]
    # unigrams a x3, b x2 (N = 5); bigrams (a, b) x1, (b, a) x2
    assert lexical.entropy == pytest.approx(-(0.6 * math.log2(0.6) + 0.4 * math.log2(0.4)))
    assert lexical.cond_entropy == pytest.approx(-(1 / 5) * math.log2(1 / 3) - (2 / 5) * math.log2(2 / 2))


def test_active_domain_estimation() -> None:
    states = [
        {},
        {"hotel": {"area": "north"}},
        {"hotel": {"area": "north"}, "train": {"day": "monday", "leave": "10:00"}},
        {"hotel": {"area": "north"}, "train": {"day": "monday", "leave": "10:00"}},
        {"hotel": {"area": "north", "stars": "4"}, "train": {"day": "monday", "leave": "10:00"}},
    ]
    assert estimate_active_domains(states) == [[], ["hotel"], ["train"], ["train"], ["hotel"]]
    # two domains change at once: the one with more slots wins; next turn switches to the other
    both = [{"hotel": {"area": "north"}, "taxi": {"leave": "1", "arrive": "2"}}] * 2
    assert estimate_active_domains(both) == [["taxi"], ["hotel"]]


def test_dst_counts() -> None:
    gold = {"hotel": {"area": "north", "name": "acorn guest house"}}
    predicted = {"hotel": {"area": "north", "name": "acorn guest houses", "stars": "4"}}
    scores = dst_scores([(predicted, gold), (gold, gold)])
    # turn 1: tp 2 (partial_ratio of the names is 100), fp 1; turn 2: tp 2
    assert scores.joint_accuracy == pytest.approx(50.0)
    assert scores.slot_precision == pytest.approx(80.0)
    assert scores.slot_recall == pytest.approx(100.0)
    assert scores.joint_accuracy_by_domain == {"hotel": 50.0}
    assert partial_ratio("acorn guest house", "acorn guest houses") == 100
    assert partial_ratio("centre", "center") == 83


def test_reference_placeholders() -> None:
    assert evaluator_delex("it has [value_internet] and [value_openhours] , [value_name] .") == "it has [internet] and [openhours] , [value_name] ."
    assert reference_response("it has [value_internet] and [value_parking] , [value_name] .") == "it has INTERNET and PARKING, NAME."
    assert interchange_id("SNG0073.json") == "sng0073"
