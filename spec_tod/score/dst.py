"""Dialogue state tracking scores against the gold states (docs/evaluation.md, section 7).

Values match when fuzzywuzzy's ``partial_ratio`` (predicted first) is above 95. Per-domain joint
accuracy is this project's addition (the evaluator has none): for each domain, over the turns whose
gold or predicted state has that domain, the share where that domain's slots match jointly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from spec_tod.data.fuzzy import partial_ratio
from spec_tod.data.mwz_tables import load_table
from spec_tod.score.result import DstResult

_CONSTANTS = load_table("metric_constants")
_THRESHOLD: int = _CONSTANTS["dst_fuzzy_match_above"]
_EPSILON: float = _CONSTANTS["dst_epsilon"]

State = Mapping[str, Mapping[str, str]]


def _flatten(state: State) -> dict[tuple[str, str], str]:
    return {(domain, slot): value for domain, slots in state.items() for slot, value in slots.items()}


def _matches(predicted: str, gold: str) -> bool:
    # fuzzywuzzy's partial_ratio gives 100 for equal strings (the empty one too) before anything else
    return predicted == gold or partial_ratio(predicted, gold) > _THRESHOLD


def _jointly_equal(predicted: Mapping, gold: Mapping) -> bool:
    return predicted.keys() == gold.keys() and all(_matches(predicted[key], gold[key]) for key in gold)


def dst_scores(pairs: Iterable[tuple[State, State]]) -> DstResult:
    """Scores over ``(predicted, gold)`` normalised state pairs, one per turn."""
    turns = joint = true_pos = false_pos = false_neg = 0
    domain_turns: Counter[str] = Counter()
    domain_joint: Counter[str] = Counter()
    for predicted_state, gold_state in pairs:
        predicted, gold = _flatten(predicted_state), _flatten(gold_state)
        turns += 1
        joint += _jointly_equal(predicted, gold)
        for key, value in predicted.items():
            if key in gold and _matches(value, gold[key]):
                true_pos += 1
            else:
                false_pos += 1
        false_neg += sum(1 for key, value in gold.items() if key not in predicted or not _matches(predicted[key], value))
        for domain in dict.fromkeys([*predicted_state, *gold_state]):
            domain_turns[domain] += 1
            domain_joint[domain] += _jointly_equal(predicted_state.get(domain, {}), gold_state.get(domain, {}))
    precision = true_pos / (true_pos + false_pos + _EPSILON)
    recall = true_pos / (true_pos + false_neg + _EPSILON)
    return DstResult(
        joint_accuracy=joint / (turns + _EPSILON) * 100,
        slot_precision=precision * 100,
        slot_recall=recall * 100,
        slot_f1=2 * precision * recall / (precision + recall + _EPSILON) * 100,
        joint_accuracy_by_domain={
            domain: 100 * domain_joint[domain] / domain_turns[domain] for domain in sorted(domain_turns)
        },
    )
