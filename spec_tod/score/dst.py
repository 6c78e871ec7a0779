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


def _matches(predicted: str, gold: str) -> bool:
    # fuzzywuzzy's partial_ratio gives 100 for equal strings (the empty one too) before anything else
    return predicted == gold or partial_ratio(predicted, gold) > _THRESHOLD


def dst_scores(pairs: Iterable[tuple[State, State]]) -> DstResult:
    """Scores over ``(predicted, gold)`` normalised state pairs, one per turn.

    Each predicted slot is compared with its gold value once: it is a true positive when it matches,
    else a false positive, and every gold slot without a matching prediction is a false negative (so
    their count is the gold slots less the true positives). A turn, or one of its domains, is jointly
    right when the slots are the gold ones and every one matches.
    """
    turns = joint = true_pos = false_pos = false_neg = 0
    domain_turns: Counter[str] = Counter()
    domain_joint: Counter[str] = Counter()
    for predicted_state, gold_state in pairs:
        turns += 1
        turn_right = True
        for domain in dict.fromkeys([*predicted_state, *gold_state]):
            predicted, gold = predicted_state.get(domain, {}), gold_state.get(domain, {})
            matched = 0
            for slot, value in predicted.items():
                gold_value = gold.get(slot)
                if gold_value is not None and _matches(value, gold_value):
                    matched += 1
            true_pos += matched
            false_pos += len(predicted) - matched
            false_neg += len(gold) - matched
            right = matched == len(predicted) and predicted.keys() == gold.keys()
            turn_right = turn_right and right
            domain_turns[domain] += 1
            domain_joint[domain] += right
        joint += turn_right
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
