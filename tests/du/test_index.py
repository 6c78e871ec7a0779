"""The shared retriever: never itself, top 8, at most `arity` per owner, the same after save and load."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from spec_tod.du.exemplars import ExemplarSet
from spec_tod.du.index import (
    ExemplarIndex,
    IndexSettings,
    Retriever,
    dense_text,
    retriever_for,
)


def test_no_item_retrieves_itself(sgd_dev: ExemplarSet, retriever: Retriever) -> None:
    sizes = Counter()
    for item in sgd_dev.exemplars:
        retrieval = retriever(item.utterance, exclude=item.id)
        ids = [hit.exemplar.id for hit in retrieval.exemplars]
        assert item.id not in ids
        assert len(ids) == len(set(ids)) <= 8
        scores = [hit.score for hit in retrieval.exemplars]
        assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
        sizes[len(ids)] += 1
        assert len({s.name for s in retrieval.skills}) == len(retrieval.skills)
    assert sizes[8] == 327  # every dev utterance shares a word with at least 8 other exemplars
    # Without the exclusion the item itself ranks first (its template is its own best BM25 match)
    item = sgd_dev.exemplars[0]
    assert retriever(item.utterance).exemplars[0].exemplar.id == item.id


def test_arity_caps_exemplars_per_owner(dev_index: ExemplarIndex, sgd_dev: ExemplarSet) -> None:
    narrow = Retriever(
        ExemplarIndex(dev_index.exemplars, dev_index.skills, IndexSettings(arity=2), dev_index.bm25, None)
    )
    for item in sgd_dev.exemplars[:60]:
        owners = Counter(hit.exemplar.owner for hit in narrow(item.utterance, exclude=item.id).exemplars)
        assert max(owners.values()) <= 2


def test_saved_index_retrieves_the_same(
    dev_index: ExemplarIndex, sgd_dev: ExemplarSet, retriever: Retriever, tmp_path: Path
) -> None:
    dev_index.save(tmp_path / "index")
    assert sorted(p.name for p in (tmp_path / "index").iterdir()) == [
        "bm25",
        "exemplars.jsonl",
        "index.json",
        "skills.json",
    ]
    loaded = retriever_for(ExemplarIndex.load(tmp_path / "index"), sgd_dev.skills)
    for item in sgd_dev.exemplars[::10]:
        assert loaded(item.utterance, exclude=item.id) == retriever(item.utterance, exclude=item.id)


def test_dense_text_spells_slot_names_as_words() -> None:
    assert dense_text("to  < destination_city >  now") == "to  < destination city >  now"
