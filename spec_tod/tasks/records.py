"""One dialogue becomes one instruction record: the DST or the end-to-end conversation.

The layout is :mod:`spec_tod.tasks.layout`'s, the one inference prompts are cut from. Each message
carries a training weight: 1 on the task's trained role (DST: ``function``, end-to-end:
``assistant``), 0 elsewhere, so what is learnt is written in the data and no chat-template role
mapping at training time can change it.
"""

from __future__ import annotations

from dataclasses import dataclass

from spec_tod.data.database import VenueDatabase
from spec_tod.data.dialogue import Dialogue
from spec_tod.data.schema import Service
from spec_tod.tasks.layout import (
    TRAINED_ROLE,
    Message,
    Task,
    conversation,
    gold_turns,
    offered_domains,
    system_messages,
)
from spec_tod.tasks.prompts import NO_FUNCTION_CALL, function_domain, functions_for

TASKS: tuple[Task, ...] = ("dst", "e2e")


@dataclass(frozen=True)
class Record:
    id: str
    """The dialogue id."""
    messages: tuple[Message, ...]
    """``(role, content)`` pairs, the system message first."""
    weights: tuple[int, ...]
    """Per message, 1 when it is trained on, else 0."""
    turns: int
    function_calls: int
    """Turns whose function message holds calls."""


def dialogue_domains(dialogue: Dialogue) -> tuple[str, ...]:
    """The domains a dialogue is about (for per-domain caps), before canonical ordering."""
    if dialogue.services:
        return dialogue.services
    return dialogue.domains + tuple(turn.turn_domain for turn in dialogue.turns)


def offered_functions(schema: dict[str, Service], dialogue: Dialogue) -> dict[str, dict]:
    """The functions every prompt of ``dialogue`` offers, by domain, in the offered order."""
    return {function_domain(f["name"]) or f["name"]: f for f in functions_for(schema, offered_domains(dialogue))}


def build_record(
    dialogue: Dialogue, task: Task, schema: dict[str, Service], seed: int, database: VenueDatabase | None = None
) -> Record:
    """The ``task`` record of one dialogue; ``database`` counts the venues of end-to-end observations."""
    functions = offered_functions(schema, dialogue)
    dst_system, e2e_system = system_messages(list(functions.values()), seed, dialogue.id)
    turns = gold_turns(task, dialogue, functions, database)
    messages = conversation(task, dst_system if task == "dst" else e2e_system, turns)
    trained = TRAINED_ROLE[task]
    return Record(
        id=dialogue.id,
        messages=tuple(messages),
        weights=tuple(int(role == trained) for role, _ in messages),
        turns=len(turns),
        function_calls=sum(turn.call != NO_FUNCTION_CALL for turn in turns),
    )
