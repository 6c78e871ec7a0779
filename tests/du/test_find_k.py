"""find-k on SGD dev with BM25: the statistics opendu chose k from."""

from __future__ import annotations

from pathlib import Path

import pytest

from spec_tod.du.exemplars import ExemplarSet
from spec_tod.du.find_k import MISS_RANK, find_k, plot_hit_rate
from spec_tod.du.index import Retriever


def test_find_k_table_for_bm25_on_dev(sgd_dev: ExemplarSet, retriever: Retriever, tmp_path: Path) -> None:
    result = find_k(retriever, sgd_dev.exemplars)
    assert result.items == 327
    assert round(result.skill_recall, 3) == 0.976
    assert {k: round(v, 3) for k, v in result.hit_at.items()} == {1: 0.716, 2: 0.817, 4: 0.924, 8: 0.966, 16: 0.991}
    assert MISS_RANK not in result.ranks  # every owner has a same-owner exemplar within 64
    assert result.k == pytest.approx(15.48)
    assert result.threshold == pytest.approx(1.435, abs=1e-3)
    plot_hit_rate(result, tmp_path / "k.png")
    assert (tmp_path / "k.png").read_bytes()[:4] == b"\x89PNG"
