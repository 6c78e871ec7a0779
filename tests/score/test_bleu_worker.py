"""The standing BLEU worker gives the scorer's figures, whether it found the references' statistics or not."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from spec_tod.score import Scorer, ScoreResult
from spec_tod.score.bleu import ReferenceIndex
from spec_tod.score.bleu_worker import bleu_later, standing_bleu
from spec_tod.score.references import cached_split_index, split_references


def test_scores_with_the_standing_worker_are_the_scorers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path, scorer: Scorer,
    published: dict[str, dict[str, Any]], published_scores: dict[str, ScoreResult],
) -> None:
    monkeypatch.setenv("SPEC_TOD_HOME", str(tmp_path))
    monkeypatch.delenv("SPEC_TOD_NO_CACHE", raising=False)
    assert cached_split_index("multiwoz21", data_dir, "test") is None  # the references are not in the cache yet
    references = split_references("multiwoz21", data_dir, "test")
    index = cached_split_index("multiwoz21", data_dir, "test")
    assert index is not None and set(index.slots) == {text for r in references.values() for text in r.responses}

    readers: list[int] = []

    def load() -> ReferenceIndex | None:
        readers.append(os.getpid())  # in the worker: this process never sees it
        return cached_split_index("multiwoz21", data_dir, "test")

    cached = Scorer.from_references(references, database=scorer.database)
    with standing_bleu(load):
        for name in ("augpt", "mintl"):
            scores = cached.score(published[name], allow_subset=name == "mintl").to_json_dict()
            assert scores == published_scores[name].to_json_dict()
    assert readers == []  # read in the worker
    with standing_bleu(lambda: None):  # no statistics at hand: the worker counts them
        assert cached.score(published["sfn"]).to_json_dict() == published_scores["sfn"].to_json_dict()
    assert bleu_later(["a"], ["a"]) is None  # outside the block the scorer forks its own worker
