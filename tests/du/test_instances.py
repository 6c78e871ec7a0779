"""Training strategies: the RAG suffix rule, KNN pairs, binary prompts, slots; counts on SGD dev."""

from __future__ import annotations

import json

from spec_tod.du import prompts
from spec_tod.du.exemplars import ExemplarSet
from spec_tod.du.index import Retriever
from spec_tod.du.instances import embedding_pairs, item_instances, views


def test_rag_instances_follow_the_suffix_rule(sgd_dev: ExemplarSet, retriever: Retriever) -> None:
    total = 0
    for item in sgd_dev.exemplars:
        positive, negative = views(item, retriever)
        n, m = len(positive.retrieval.exemplars), len(negative.retrieval.exemplars)
        # the two views coincide only when retrieval found nothing of the owner
        same = positive.retrieval == negative.retrieval
        found = item_instances("du-rag", item, retriever)
        assert len(found) == (n + 1 if same else (n + 1) + (m + 1))
        listed = item.owner in {s.name for s in positive.retrieval.skills}
        assert [i.answer for i in found[: n + 1]] == [prompts.rag_answer(item.owner if listed else None)] * (n + 1)
        assert {i.answer for i in found[n + 1 :]} <= {"[]"}
        # suffixes: the exemplar block shrinks from the least relevant end, the last instance has none
        blocks = [i.prompt.count("\nPrediction: ") for i in found[: n + 1]]
        assert blocks == list(range(n, -1, -1))
        total += len(found)
    assert total == 4181


def test_rag_lists_most_relevant_last(sgd_dev: ExemplarSet, retriever: Retriever) -> None:
    item = sgd_dev.exemplars[3]
    positive, _ = views(item, retriever)
    prompt = item_instances("du-rag", item, retriever)[0].prompt
    best = positive.retrieval.exemplars[0].exemplar.template
    assert prompt.index(f"Input: {best}\n") > max(
        prompt.index(f"Input: {h.exemplar.template}\n") for h in positive.retrieval.exemplars[1:]
    )
    assert prompt.endswith(f"Input: {item.utterance}\nPrediction:")


def test_knn_pairs_label_same_owner_true(sgd_dev: ExemplarSet, retriever: Retriever) -> None:
    total = 0
    for item in sgd_dev.exemplars:
        found = item_instances("du-knn", item, retriever)
        assert found[0].prompt == prompts.knn_prompt(item.utterance, item.template) and found[0].answer == "true"
        positive, _ = views(item, retriever)
        expected = {
            prompts.knn_prompt(item.utterance, h.exemplar.template): prompts.boolean(h.exemplar.owner == item.owner)
            for h in positive.retrieval.exemplars
        }
        expected |= {
            prompts.desc_prompt(item.utterance, s): prompts.boolean(s.name == item.owner)
            for s in positive.retrieval.skills
        }
        assert {i.prompt: i.answer for i in found[1:]} == expected  # the negative view adds no new prompt
        total += len(found)
    assert total == 4272


def test_binary_and_slot_instances(sgd_dev: ExemplarSet, retriever: Retriever) -> None:
    item = sgd_dev.exemplars[3]
    binary = item_instances("du-binary", item, retriever)
    assert sum(i.answer == "true" for i in binary) == 2  # get_ride with its 2 examples, and plain
    assert all(i.prompt.count("? Output: ") <= 2 for i in binary)
    assert [(i.kind, i.answer) for i in item_instances("du-slots-one", item, retriever)] == [
        ("slot", '"lers ros thai"')
    ]
    (whole,) = item_instances("du-slots-all", item, retriever)
    assert json.loads(whole.answer) == {"destination": "lers ros thai"}
    counts = {
        task: sum(len(item_instances(task, e, retriever)) for e in sgd_dev.exemplars)
        for task in ("du-binary", "du-slots-one", "du-slots-all")
    }
    assert counts == {"du-binary": 2730, "du-slots-one": 760, "du-slots-all": 307}


def test_embedding_pairs_have_a_same_owner_positive_and_other_owner_negative(
    sgd_dev: ExemplarSet, retriever: Retriever
) -> None:
    pairs = embedding_pairs(sgd_dev.exemplars, retriever)
    assert len(pairs) == 322
    by_template = {e.template: e.owner for e in sgd_dev.exemplars}
    owner_of = {e.utterance: e.owner for e in sgd_dev.exemplars}
    for pair in pairs:
        assert by_template[pair.negative] != owner_of[pair.query]
        assert by_template.get(pair.positive, owner_of[pair.query]) == owner_of[pair.query]
        assert pair.positive != pair.query
