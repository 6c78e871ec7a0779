"""Dialogue-understanding scores: intent accuracy and macro F1, "no skill" handling, slot precision/recall/F1.

Each evaluated item gives two rows: the positive view (gold: its owner) and the negative view (its owner
hidden from the candidates; gold: no skill, the class ``none``). Macro F1 averages the per-class F1 over every
class that is gold or predicted somewhere, ``none`` included. Slots are scored on positive rows given the
gold owner (so an intent error does not count twice): micro precision/recall/F1 over (slot, value) pairs,
values compared lowercased and stripped, a list counting each of its values. Rows are also reported by
whether the owner's service is *seen* (the index holds other exemplars of the owner) or *unseen*.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

NONE = "none"


@dataclass(frozen=True)
class Row:
    id: str
    view: str
    """positive or negative."""
    gold: str | None
    predicted: str | None
    seen: bool
    gold_slots: Mapping[str, Sequence[str]] = field(default_factory=dict)
    predicted_slots: Mapping[str, Any] | None = None
    """``None`` when slots were not asked."""
    unreadable: int = 0


def _pairs(slots: Mapping[str, Any]) -> Counter[tuple[str, str]]:
    found: Counter[tuple[str, str]] = Counter()
    for name, value in slots.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            found[(name, str(item).strip().lower())] += 1
    return found


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def intent_scores(rows: Sequence[Row]) -> dict[str, Any]:
    gold = [row.gold or NONE for row in rows]
    predicted = [row.predicted or NONE for row in rows]
    classes = sorted(set(gold) | set(predicted))
    per_class = {}
    for label in classes:
        tp = sum(g == p == label for g, p in zip(gold, predicted, strict=True))
        precision = _ratio(tp, predicted.count(label))
        recall = _ratio(tp, gold.count(label))
        per_class[label] = _f1(precision, recall)
    gold_none = gold.count(NONE)
    predicted_none = predicted.count(NONE)
    none_right = sum(g == p == NONE for g, p in zip(gold, predicted, strict=True))
    positives = [p for g, p in zip(gold, predicted, strict=True) if g != NONE]
    return {
        "rows": len(rows),
        "accuracy": _ratio(sum(g == p for g, p in zip(gold, predicted, strict=True)), len(rows)),
        "macro_f1": _ratio(sum(per_class.values()), len(per_class)),
        "none": {
            "gold": gold_none,
            "predicted": predicted_none,
            "precision": _ratio(none_right, predicted_none),
            "recall": _ratio(none_right, gold_none),
            "false_none_rate": _ratio(positives.count(NONE), len(positives)),
        },
        "unreadable_answers": sum(row.unreadable for row in rows),
    }


def slot_scores(rows: Iterable[Row]) -> dict[str, Any] | None:
    tp = n_pred = n_gold = 0
    asked = 0
    for row in rows:
        if row.predicted_slots is None:
            continue
        asked += 1
        gold, predicted = _pairs(row.gold_slots), _pairs(row.predicted_slots)
        tp += sum((gold & predicted).values())
        n_pred += sum(predicted.values())
        n_gold += sum(gold.values())
    if not asked:
        return None
    precision, recall = _ratio(tp, n_pred), _ratio(tp, n_gold)
    return {
        "items": asked,
        "precision": precision,
        "recall": recall,
        "f1": _f1(precision, recall),
        "gold_values": n_gold,
        "predicted_values": n_pred,
    }


def du_scores(rows: Sequence[Row]) -> dict[str, Any]:
    """All scores, overall and for seen and unseen owners apart."""
    result: dict[str, Any] = {"intent": intent_scores(rows), "slots": slot_scores(rows)}
    for name, seen in (("seen", True), ("unseen", False)):
        group = [row for row in rows if row.seen == seen]
        result[name] = {"intent": intent_scores(group), "slots": slot_scores(group)} if group else None
    return result
