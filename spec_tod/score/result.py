"""The result of scoring one prediction set: the published metrics, coverage and per-dialogue detail.

Dataclasses, not pydantic models: they are built by the scorer, never read from outside, and
``spec-tod score`` does not import pydantic at all (docs/speed.md has the measurement).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal


@dataclass(frozen=True)
class RichnessResult:
    avg_length: float
    """Mean tokens per turn (the evaluator's ``avg_lengths``; the tables' "Av. len.")."""
    entropy: float
    cond_entropy: float
    """Conditional bigram entropy (the tables' "CBE")."""
    msttr: float
    num_unigrams: int
    num_bigrams: int
    num_trigrams: int


@dataclass(frozen=True)
class DstResult:
    joint_accuracy: float
    """Percent."""
    slot_precision: float
    """Percent (the original evaluator prints it as a fraction; every score here is a percentage)."""
    slot_recall: float
    """Percent."""
    slot_f1: float
    """Percent."""
    joint_accuracy_by_domain: dict[str, float]
    """Percent, over the turns whose gold or predicted state has the domain."""


@dataclass(frozen=True)
class Coverage:
    subset: bool
    """Whether a subset of the reference dialogues or turns was scored on purpose (``--subset``)."""
    dialogues: int
    total_dialogues: int
    turns: int
    total_turns: int
    total_dialogues_by_domain: dict[str, int]
    """Reference dialogues whose goal has each domain (the full denominators)."""

    def label(self) -> str:
        """``999/1000 dialogues, 7354/7372 turns``."""
        return f"{self.dialogues}/{self.total_dialogues} dialogues, {self.turns}/{self.total_turns} turns"


@dataclass(frozen=True)
class DialogueDetail:
    id: str
    turns: int
    inform: dict[str, bool]
    success: dict[str, bool]
    """Empty when Inform failed: Success is not evaluated then."""
    reasons: list[str]
    """Why each failing domain failed."""


@dataclass(frozen=True)
class ScoreResult:
    """Scores as in published tables, every rate a percentage (0-100), BLEU on the 0-100 scale."""

    bleu: float
    inform: float
    success: float
    combined: float
    """``(inform + success) / 2 + bleu``."""
    inform_by_domain: dict[str, float]
    success_by_domain: dict[str, float]
    dialogues_by_domain: dict[str, int]
    """Denominator of each per-domain rate."""
    richness: RichnessResult
    dst: DstResult | None
    """``None`` unless every turn carries a predicted state."""
    states: Literal["predicted", "gold"]
    """Which states Inform/Success used (gold when any turn lacks ``state``)."""
    active_domains: Literal["given", "estimated"]
    coverage: Coverage
    details: list[DialogueDetail] = field(default_factory=list, repr=False)
    timings: dict[str, float] = field(default_factory=dict, repr=False)
    """Seconds per stage of this run (not part of the JSON output)."""

    def to_json_dict(self, *, details: bool = False) -> dict[str, Any]:
        """The ``--json`` document; per-dialogue ``details`` only when asked for."""
        # asdict copies every nested value; the details, left out, are not copied at all
        document = asdict(replace(self, timings={}, details=self.details if details else []))
        del document["timings"]
        if not details:
            del document["details"]
        document["inputs"] = {"states": document.pop("states"), "active_domains": document.pop("active_domains")}
        return document
