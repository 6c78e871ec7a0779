"""Intent and slot scores of a model's function calls on Spec-TOD records, and an optional relevance judge.

The gold of user turn ``k`` of a record is its ``function`` message: the called function is the
intent, its arguments the slots (of the last call, when a message holds several); the no-call
text is intent ``none``. A prediction that does not
parse as a call is intent ``NONE`` (as SynTOD's evaluation writes a missing one).

Definitions follow SynTOD's ``src/evaluation/evaluation_states.py``:

* intent micro: accuracy over all turns (micro precision = recall = F1 = accuracy for one label per turn);
* intent macro: accuracy averaged per conversation; precision of an intent = per conversation, the
  share of turns predicted as it that are right, averaged over conversations; averaged over intents
  (recall alike, by gold intent); F1 from the two averages;
* slots, for turns whose gold has slots: per gold slot, the bag-of-tokens overlap of the predicted
  value (lower-cased words here; SynTOD used the model's tokenizer), 0 when the slot is missing;
  a turn scores the mean over its gold slots; micro = mean over turns, macro = per intent the mean
  over conversations of their mean, averaged over intents.

Each is given for all turns and by user-turn position (1 = first user turn). The judge asks an
LLM SynTOD's relevance question (``src/evaluation/evaluation_relevance.py``): 0 not relevant or
with major issues, 1 worse than the ground truth, 2 as good or better.
"""

from __future__ import annotations

import asyncio
import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spec_tod.errors import SpecTodError
from spec_tod.parsing import loads_json
from spec_tod.tasks.prompts import parse_calls

NO_CALL_INTENT = "none"
UNPARSED_INTENT = "NONE"


@dataclass
class GoldDialogue:
    id: str
    calls: list[tuple[str, dict[str, Any]]]
    """(intent, slots) per user turn."""
    history: list[list[tuple[str, str]]] = field(default_factory=list)
    """Per assistant turn: the (role, text) of the user and assistant turns before it."""
    responses: list[str] = field(default_factory=list)


@dataclass
class Prediction:
    calls: list[tuple[str, dict[str, Any]]]
    responses: list[str] | None


def read_call(text: str) -> tuple[str, dict[str, Any]]:
    """(intent, slots) of a function message or generated text: its last call (a turn's own comes last)."""
    calls = parse_calls(text)
    if calls is None:
        return UNPARSED_INTENT, {}
    return calls[-1] if calls else (NO_CALL_INTENT, {})


def _jsonl(path: Path, what: str) -> list[tuple[int, dict]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise SpecTodError(f"{path}: cannot read the {what} ({error.strerror})") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = loads_json(line)
        except json.JSONDecodeError as error:
            raise SpecTodError(f"{path}: line {number} is not JSON ({error.msg})") from None
        if not isinstance(row, dict) or "id" not in row:
            raise SpecTodError(f"{path}: line {number} is not a record with an id")
        rows.append((number, row))
    return rows


def load_gold(path: Path) -> dict[str, GoldDialogue]:
    """The gold calls of Spec-TOD records (ShareGPT or messages layout)."""
    gold: dict[str, GoldDialogue] = {}
    for number, row in _jsonl(path, "gold records"):
        if "conversations" in row:
            messages = [(m.get("from"), m.get("value")) for m in row["conversations"]]
        elif "messages" in row:
            messages = [(m.get("role"), m.get("content")) for m in row["messages"]]
        else:
            raise SpecTodError(f"{path}: line {number} has neither conversations nor messages")
        dialogue = GoldDialogue(str(row["id"]), [])
        history: list[tuple[str, str]] = []
        for position, (role, text) in enumerate(messages):
            if not isinstance(text, str):
                raise SpecTodError(f"{path}: record {row['id']}: message {position} has no text")
            if role == "function":
                dialogue.calls.append(read_call(text))
            elif role == "assistant":
                dialogue.history.append(list(history))
                dialogue.responses.append(text)
            if role in ("user", "assistant"):
                history.append((role, text))
        gold[dialogue.id] = dialogue
    return gold


def load_predictions(path: Path, gold: dict[str, GoldDialogue]) -> dict[str, Prediction]:
    predicted: dict[str, Prediction] = {}
    for number, row in _jsonl(path, "predictions"):
        key = str(row["id"])
        if key not in gold:
            raise SpecTodError(f"{path}: line {number}: dialogue {key!r} is not in the gold records")
        functions = row.get("functions")
        if not isinstance(functions, list) or not all(isinstance(f, str) for f in functions):
            raise SpecTodError(f'{path}: line {number} ({key}): expected "functions": a list of strings')
        if len(functions) > len(gold[key].calls):
            raise SpecTodError(
                f"{path}: line {number} ({key}): {len(functions)} functions for {len(gold[key].calls)} user turns"
            )
        responses = row.get("responses")
        if responses is not None and (
            not isinstance(responses, list) or not all(isinstance(r, str) for r in responses)
        ):
            raise SpecTodError(f'{path}: line {number} ({key}): "responses" must be a list of strings')
        predicted[key] = Prediction([read_call(text) for text in functions], responses)
    if not predicted:
        raise SpecTodError(f"{path}: no predictions")
    return predicted


def _tokens(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [token for item in value for token in _tokens(item)]
    return str(value).lower().split()


def slot_scores(gold: dict[str, Any], predicted: dict[str, Any]) -> tuple[float, float, float]:
    """Mean over the gold slots of the token-overlap precision, recall and F1 of the predicted values."""
    scores = []
    for name, value in gold.items():
        if name not in predicted:
            scores.append((0.0, 0.0, 0.0))
            continue
        reference, hypothesis = _tokens(value), _tokens(predicted[name])
        same = sum((Counter(reference) & Counter(hypothesis)).values())
        if not reference or not hypothesis or not same:
            scores.append((0.0, 0.0, 0.0))
            continue
        precision, recall = same / len(hypothesis), same / len(reference)
        scores.append((precision, recall, 2 * precision * recall / (precision + recall)))
    return tuple(statistics.fmean(column) for column in zip(*scores, strict=False))  # type: ignore[return-value]


def _prf(precision: float, recall: float) -> dict[str, float]:
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _scores(conversations: Sequence[Sequence[tuple[str, dict, str, dict]]]) -> dict[str, Any]:
    """Scores of conversations given as (gold intent, gold slots, predicted intent, predicted slots) per turn."""
    turns = [turn for conversation in conversations for turn in conversation]
    correct = [gold == pred for gold, _, pred, _ in turns]
    accuracy = statistics.fmean(correct) if turns else 0.0
    precision_table: dict[str, list[float]] = defaultdict(list)
    recall_table: dict[str, list[float]] = defaultdict(list)
    slot_micro: list[tuple[float, float, float]] = []
    slot_by_intent: dict[str, list[list[tuple[float, float, float]]]] = defaultdict(list)
    for conversation in conversations:
        by_pred: dict[str, list[bool]] = defaultdict(list)
        by_gold: dict[str, list[bool]] = defaultdict(list)
        slots_here: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
        for gold, gold_slots, pred, pred_slots in conversation:
            by_pred[pred].append(gold == pred)
            by_gold[gold].append(gold == pred)
            if gold_slots:
                scores = slot_scores(gold_slots, pred_slots)
                slot_micro.append(scores)
                slots_here[gold].append(scores)
        for intent, hits in by_pred.items():
            precision_table[intent].append(statistics.fmean(hits))
        for intent, hits in by_gold.items():
            recall_table[intent].append(statistics.fmean(hits))
        for intent, values in slots_here.items():
            slot_by_intent[intent].append(values)
    macro_precision = (
        statistics.fmean(statistics.fmean(v) for v in precision_table.values()) if precision_table else 0.0
    )
    macro_recall = statistics.fmean(statistics.fmean(v) for v in recall_table.values()) if recall_table else 0.0
    result: dict[str, Any] = {
        "turns": len(turns),
        "conversations": sum(1 for c in conversations if c),
        "intent_accuracy": accuracy,
        "intent_micro": _prf(accuracy, accuracy),
        "intent_macro": _prf(macro_precision, macro_recall),
        "intent_macro_accuracy": statistics.fmean(
            statistics.fmean(g == p for g, _, p, _ in c) for c in conversations if c
        )
        if turns
        else 0.0,
        "slot_turns": len(slot_micro),
        "slot_micro": None,
        "slot_macro": None,
    }
    if slot_micro:
        p, r, f = (statistics.fmean(column) for column in zip(*slot_micro, strict=False))
        result["slot_micro"] = {"precision": p, "recall": r, "f1": f}
        per_intent = [_column_means([_column_means(conv) for conv in convs]) for convs in slot_by_intent.values()]
        p, r, f = (statistics.fmean(column) for column in zip(*per_intent, strict=False))
        result["slot_macro"] = {"precision": p, "recall": r, "f1": f}
    return result


def _column_means(rows: Sequence[Sequence[float]]) -> tuple[float, ...]:
    return tuple(statistics.fmean(column) for column in zip(*rows, strict=True))


def score_nlu(gold: dict[str, GoldDialogue], predicted: dict[str, Prediction]) -> dict[str, Any]:
    """Scores over all user turns and by position; turns past the end of a prediction count as ``NONE``."""
    conversations = []
    for key, prediction in predicted.items():
        calls = prediction.calls + [(UNPARSED_INTENT, {})] * (len(gold[key].calls) - len(prediction.calls))
        conversations.append([(g[0], g[1], p[0], p[1]) for g, p in zip(gold[key].calls, calls, strict=False)])
    longest = max((len(c) for c in conversations), default=0)
    by_position = {"all": _scores(conversations)}
    for position in range(longest):
        by_position[str(position + 1)] = _scores([[c[position]] for c in conversations if len(c) > position])
    return {
        "dialogues": len(conversations),
        "gold_dialogues": len(gold),
        "intents": dict(Counter(turn[0] for c in conversations for turn in c).most_common()),
        "by_position": by_position,
    }


def judge_prompt(history: Sequence[tuple[str, str]], response: str, groundtruth: str) -> str:
    lines = [f"{'system' if role == 'assistant' else role}: {' '.join(text.split())}" for role, text in history]
    return (
        "Given the conversation history:\n"
        + "\n".join(lines)
        + f"\nResponse: {' '.join(response.split())}\nGroundtruth: {' '.join(groundtruth.split())}"
        + "\nHow good is the response compared to the groundtruth? 0: not relevant or with major issues, "
        "1: worse than groundtruth, 2: as good as groundtruth or better. Return only the number."
    )


def read_relevance(answer: str) -> int | None:
    return next((int(ch) for ch in answer if ch in "012"), None)


def judge_relevance(
    gold: dict[str, GoldDialogue],
    predicted: dict[str, Prediction],
    endpoint: str,
    template: str | None,
    model: str | None,
) -> dict[str, Any]:
    """Relevance 0-2 of every predicted response, by an LLM judge at ``endpoint``."""
    from spec_tod.bench.client import CompletionClient, GenerationParams, RequestFailed
    from spec_tod.chat.template import load_chat_template

    chat = load_chat_template(template) if template else None
    prompts = []
    for key, prediction in predicted.items():
        for k, response in enumerate(prediction.responses or []):
            if k < len(gold[key].responses):
                text = judge_prompt(gold[key].history[k], response, gold[key].responses[k])
                prompts.append(chat.render([{"role": "user", "content": text}]).text if chat else text)
    if not prompts:
        raise SpecTodError('--judge-endpoint: the predictions hold no "responses" to judge')
    params = GenerationParams(max_new_tokens=3, stop=chat.stop_strings if chat else ())

    async def run() -> list[int | None]:
        async with CompletionClient([endpoint], model=model) as client:

            async def one(prompt: str) -> int | None:
                try:
                    return read_relevance((await client.complete(prompt, params)).text)
                except RequestFailed:
                    return None

            return list(await asyncio.gather(*(one(p) for p in prompts)))

    labels = asyncio.run(run())
    judged = [label for label in labels if label is not None]
    return {
        "judged": len(judged),
        "unreadable": len(labels) - len(judged),
        "mean": statistics.fmean(judged) if judged else 0.0,
        "distribution": {str(k): sum(1 for label in judged if label == k) for k in (0, 1, 2)},
    }
