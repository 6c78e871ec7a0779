"""Intent and slot decisions from a model's answers to the prompts of :mod:`spec_tod.du.instances`.

The prompts come from the instance builders themselves (answers dropped), so inference asks exactly what
training taught. ``ask(prompt, guide)`` is the model: the bench loop sends the prompt through the chat
template and, when the server supports it, constrains the answer by ``guide`` (a choice list or a JSON schema).

Intent modes:

* ``knn``: every retrieved exemplar and candidate description judged ``true`` adds one vote to its owner;
  the owner with most votes wins only with more than one vote, else no skill (opendu's
  ``SingleOwnerKnnPicker``; ties go to the owner voted for first);
* ``binary``: one true/false prompt per candidate skill; the first skill (in candidate order) judged true;
* ``rag``: one multiple-choice prompt; its JSON list answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from spec_tod.du import prompts
from spec_tod.du.exemplars import AnnotatedExemplar, Skill
from spec_tod.du.instances import (
    View,
    binary_instances,
    knn_instances,
    rag_instances,
    slot_instances,
    slots_instances,
)

IntentMode = Literal["knn", "binary", "rag"]
SlotMode = Literal["one", "all", "none"]
INTENT_MODES: tuple[IntentMode, ...] = ("knn", "binary", "rag")
SLOT_MODES: tuple[SlotMode, ...] = ("one", "all", "none")
BOOLEAN_CHOICES = [prompts.TRUE, prompts.FALSE]


@dataclass(frozen=True)
class Guide:
    """What the answer may be: one of ``choices``, or JSON matching ``json_schema``."""

    choices: list[str] | None = None
    json_schema: dict[str, Any] | None = None


Ask = Callable[[str, Guide], Awaitable[str]]


@dataclass
class IntentPrediction:
    owner: str | None
    unreadable: int = 0
    """Answers that were neither true/false nor a readable list."""
    votes: dict[str, int] = field(default_factory=dict)


def knn_decision(votes: Sequence[tuple[str, bool]]) -> tuple[str | None, dict[str, int]]:
    """opendu's vote: counts per owner in first-vote order; the top owner needs more than one vote."""
    counts: dict[str, int] = {}
    for owner, flag in votes:
        if flag:
            counts[owner] = counts.get(owner, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: -item[1])
    ranked = [pair for pair in ranked if pair[1] > 1]
    return (ranked[0][0] if ranked else None), counts


async def predict_intent(mode: IntentMode, utterance: str, view: View, ask: Ask) -> IntentPrediction:
    if mode == "rag":
        (first, *_) = rag_instances(utterance, view)
        readable, owner = prompts.parse_rag(
            await ask(first.prompt, Guide(choices=prompts.rag_choices(view.retrieval.skills)))
        )
        return IntentPrediction(owner, unreadable=0 if readable else 1)
    if mode == "knn":
        instances = knn_instances(utterance, view)
        owners = [hit.exemplar.owner for hit in view.retrieval.exemplars] + [s.name for s in view.retrieval.skills]
    else:
        instances = binary_instances(utterance, view, with_plain=False)
        owners = [s.name for s in view.retrieval.skills]
    answers = [prompts.parse_boolean(await ask(i.prompt, Guide(choices=BOOLEAN_CHOICES))) for i in instances]
    unreadable = sum(answer is None for answer in answers)
    flags = [answer is True for answer in answers]
    if mode == "knn":
        owner, votes = knn_decision(list(zip(owners, flags, strict=True)))
        return IntentPrediction(owner, unreadable, votes)
    chosen = next((o for o, flag in zip(owners, flags, strict=True) if flag), None)
    return IntentPrediction(chosen, unreadable, {o: 1 for o, flag in zip(owners, flags, strict=True) if flag})


async def predict_slots(
    mode: SlotMode, item: AnnotatedExemplar, skill: Skill, ask: Ask
) -> tuple[dict[str, prompts.Value], int]:
    """``(slot -> value, unreadable answers)`` for the item's utterance under ``skill``."""
    found: dict[str, prompts.Value] = {}
    unreadable = 0
    if mode == "one":
        for slot, instance in zip(skill.extractive_slots, slot_instances(item, skill), strict=True):
            readable, value = prompts.parse_value(
                await ask(instance.prompt, Guide(json_schema=prompts.SLOT_VALUE_SCHEMA))
            )
            unreadable += not readable
            if value is not None:
                found[slot.name] = value
    elif mode == "all":
        for instance in slots_instances(item, skill):
            readable, values = prompts.parse_slots(
                await ask(instance.prompt, Guide(json_schema=prompts.slots_schema(skill)))
            )
            unreadable += not readable
            names = {slot.name for slot in skill.extractive_slots}
            found = {name: value for name, value in values.items() if name in names}
    return found, unreadable
