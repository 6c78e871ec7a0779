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
    GoldStep,
    Message,
    Task,
    conversation,
    gold_steps,
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


class GoldCache:
    """The gold steps of dialogues, so that a DST and an end-to-end build of one read compute them once.

    Kept by the identity of the dialogue and of its offered function dicts (both held here, so an id
    is never reused): hashing or comparing them would cost about what computing the steps does.
    """

    def __init__(self) -> None:
        self._entries: dict[int, tuple[Dialogue, tuple[dict, ...], list[GoldStep]]] = {}

    def steps(self, dialogue: Dialogue, functions: dict[str, dict]) -> list[GoldStep]:
        offered = tuple(functions.values())
        entry = self._entries.get(id(dialogue))
        if (
            entry is not None
            and entry[0] is dialogue
            and len(entry[1]) == len(offered)
            and all(kept is function for kept, function in zip(entry[1], offered, strict=True))
        ):
            return entry[2]
        steps = gold_steps(dialogue, functions)
        self._entries[id(dialogue)] = (dialogue, offered, steps)
        return steps


def build_record(
    dialogue: Dialogue,
    task: Task,
    schema: dict[str, Service],
    seed: int,
    database: VenueDatabase | None = None,
    gold: GoldCache | None = None,
) -> Record:
    """The ``task`` record of one dialogue; ``database`` counts the venues of end-to-end observations;
    ``gold`` shares the gold calls with the other task's build of the same dialogues."""
    functions = offered_functions(schema, dialogue)
    dst_system, e2e_system = system_messages(list(functions.values()), seed, dialogue.id)
    steps = gold.steps(dialogue, functions) if gold is not None else None
    turns = gold_turns(task, dialogue, functions, database, steps)
    messages = conversation(task, dst_system if task == "dst" else e2e_system, turns)
    trained = TRAINED_ROLE[task]
    return Record(
        id=dialogue.id,
        messages=tuple(messages),
        weights=tuple(int(role == trained) for role, _ in messages),
        turns=len(turns),
        function_calls=sum(turn.call != NO_FUNCTION_CALL for turn in turns),
    )
