"""BLEU in the standing normaliser's worker gives the scorer's figures, whether it found the references'
statistics or not; the statistics are read without reading the references."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from spec_tod.data.normalize import standing_normaliser
from spec_tod.score import Scorer, ScoreResult
from spec_tod.score import split_index as split_index_module
from spec_tod.score.bleu import ReferenceIndex
from spec_tod.score.bleu_worker import bleu_later, standing_bleu
from spec_tod.score.references import split_references
from spec_tod.score.split_index import cached_split_index, split_identity

_READERS: list[int] = []


def _load(data_dir: Path) -> ReferenceIndex | None:
    _READERS.append(os.getpid())  # in the worker: this process never sees it
    return cached_split_index(split_identity("multiwoz21", data_dir, "test"))


def _nothing() -> None:
    return None


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPEC_TOD_HOME", str(tmp_path))
    monkeypatch.delenv("SPEC_TOD_NO_CACHE", raising=False)


def test_scores_with_the_standing_worker_are_the_scorers(
    data_dir: Path, scorer: Scorer, published: dict[str, dict[str, Any]], published_scores: dict[str, ScoreResult]
) -> None:
    assert cached_split_index(split_identity("multiwoz21", data_dir, "test")) is None  # the references are not in the cache yet
    references = split_references("multiwoz21", data_dir, "test")
    index = cached_split_index(split_identity("multiwoz21", data_dir, "test"))
    assert index is not None and set(index.slots) == {text for r in references.values() for text in r.responses}

    load = partial(_load, data_dir)
    cached = Scorer.from_references(references, database=scorer.database)
    with standing_normaliser(), standing_bleu(load):
        for name in ("augpt", "mintl"):
            scores = cached.score(published[name], allow_subset=name == "mintl").to_json_dict()
            assert scores == published_scores[name].to_json_dict()
    assert _READERS == []  # read in the worker
    with standing_normaliser(), standing_bleu(_nothing):  # no statistics at hand: the worker counts them
        assert cached.score(published["sfn"]).to_json_dict() == published_scores["sfn"].to_json_dict()
    with standing_bleu(load):
        assert bleu_later(["a"], ["a"]) is None  # no standing normaliser: the scorer forks its own worker
    assert _READERS == []
    assert bleu_later(["a"], ["a"]) is None


def test_the_statistics_are_read_without_the_references_and_follow_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    references = split_references("multiwoz21", data_dir, "test")
    first = cached_split_index(split_identity("multiwoz21", data_dir, "test"))
    read: list[str] = []
    real_lookup = split_index_module.lookup
    monkeypatch.setattr(
        split_index_module, "lookup", lambda kind, identity, **key: read.append(kind) or real_lookup(kind, identity, **key)
    )
    again = cached_split_index(split_identity("multiwoz21", data_dir, "test"))
    assert read == ["split-reference-ngrams"] and again == first  # the references' entry is not unpickled

    # Other references under the same identity (here: another code version's cache): other statistics
    monkeypatch.setattr("spec_tod.cache.code_fingerprint", lambda: "an edited module")
    some = dict(list(references.items())[:10])
    monkeypatch.setattr("spec_tod.score.references.build_references", lambda *args, **kwargs: some)
    split_references("multiwoz21", data_dir, "test")
    read.clear()
    changed = cached_split_index(split_identity("multiwoz21", data_dir, "test"))
    assert read == ["split-reference-ngrams", "references"]
    assert changed is not None and set(changed.slots) == {text for r in some.values() for text in r.responses}
    entries = list((tmp_path / "cache" / "split-reference-ngrams").glob("*.pickle"))
    assert len(entries) == 2 and len({entry.name.partition("-")[0] for entry in entries}) == 1  # the newer supersedes


def test_without_fork_the_statistics_are_read_here_and_the_scores_are_the_same(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path, scorer: Scorer,
    published: dict[str, dict[str, Any]], published_scores: dict[str, ScoreResult],
) -> None:
    monkeypatch.setattr("spec_tod.data.background.can_fork", lambda: False)
    references = split_references("multiwoz21", data_dir, "test")
    _READERS.clear()
    with standing_normaliser(), standing_bleu(partial(_load, data_dir)):
        scores = Scorer.from_references(references, database=scorer.database).score(published["augpt"])
    assert scores.to_json_dict() == published_scores["augpt"].to_json_dict()
    assert _READERS == [os.getpid()]
