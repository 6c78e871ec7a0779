"""How many exemplars a prompt needs: opendu's ``find_k_for_prompt`` statistics over labelled exemplars.

For each exemplar (never retrieving itself): is its owner among the candidate skills, and at which rank
(1-based) comes the first exemplar of the same owner (a miss within ``depth`` counts as rank 100, as in
opendu). ``k`` is the 99th percentile of that rank and ``threshold`` the 1st percentile of the scores of
those first same-owner exemplars (0 for a miss): a prompt with k exemplars holds a same-owner example for
99 % of the items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spec_tod.du.exemplars import AnnotatedExemplar
from spec_tod.du.index import Retriever

MISS_RANK = 100
HIT_AT = (1, 2, 4, 8, 16)
DEPTH = 64


@dataclass(frozen=True)
class FindK:
    items: int
    skill_recall: float
    """Share of items whose owner is among the candidate skills."""
    ranks: list[int]
    scores: list[float]
    k: float
    threshold: float
    hit_at: dict[int, float] = field(default_factory=dict)

    def hit_rate(self, k: int) -> float:
        return sum(rank <= k for rank in self.ranks) / len(self.ranks) if self.ranks else 0.0

    def summary(self) -> dict[str, object]:
        return {
            "items": self.items,
            "skill_recall": self.skill_recall,
            "hit_at": {str(k): v for k, v in self.hit_at.items()},
            "k_p99_rank": self.k,
            "threshold_p1_score": self.threshold,
            "misses": sum(rank == MISS_RANK for rank in self.ranks),
        }


def find_k(retriever: Retriever, items: Sequence[AnnotatedExemplar], depth: int = DEPTH) -> FindK:
    """The statistics above for ``items`` (each excluded from its own retrieval)."""
    ranks: list[int] = []
    scores: list[float] = []
    skill_hits = 0
    for item in items:
        retrieval = retriever(item.utterance, exclude=item.id)
        skill_hits += item.owner in {skill.name for skill in retrieval.skills}
        rank, score = MISS_RANK, 0.0
        for position, hit in enumerate(retriever.ranked_exemplars(item.utterance, depth, exclude=item.id), 1):
            if hit.exemplar.owner == item.owner:
                rank, score = position, hit.score
                break
        ranks.append(rank)
        scores.append(score)
    n = len(items)
    result = FindK(
        items=n,
        skill_recall=skill_hits / n if n else 0.0,
        ranks=ranks,
        scores=scores,
        k=float(np.percentile(ranks, 99)) if n else 0.0,
        threshold=float(np.percentile(scores, 1)) if n else 0.0,
    )
    result.hit_at.update({k: result.hit_rate(k) for k in HIT_AT})
    return result


def plot_hit_rate(result: FindK, path: Path, depth: int = DEPTH, title: str = "") -> None:
    """Hit rate (a same-owner exemplar within the top k) against k, written to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spec_tod.fileio import atomic_open

    ks = list(range(1, depth + 1))
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot(ks, [result.hit_rate(k) for k in ks], marker=".")
    axes.axhline(0.99, color="grey", linestyle=":", linewidth=1)
    axes.set_xscale("log", base=2)
    axes.set_xlabel("k (exemplars retrieved)")
    axes.set_ylabel("share with a same-owner exemplar in the top k")
    axes.set_ylim(0, 1.01)
    axes.set_title(title or f"find-k: {result.items} items, p99 rank {result.k:g}")
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    with atomic_open(path, "wb", encoding=None) as handle:
        figure.savefig(handle, format="png", dpi=100)
    plt.close(figure)
