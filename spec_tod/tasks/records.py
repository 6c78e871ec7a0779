"""One dialogue becomes one instruction record: the DST or the end-to-end conversation.

Message order per turn (reference, section 3.1, with this project's fixes):

1. ``user``: the user utterance;
2. ``function``: the call of the turn domain's function with that domain's cumulative state,
   only when the call's arguments differ from the previous turn's (the state of the turn domain
   changed in this turn) and are not empty;
3. end-to-end only, ``observation``: after a call the real number of matching venues (or the no-database
   text), otherwise ``Do not need to call function``;
4. ``assistant``: DST: the lexicalised system response; end-to-end: ``Action: {...}`` + newline + the
   delexicalised response.

The system message offers the functions of every domain the dialogue touches (MultiWOZ: the
experiment domains in canonical order; SGD: the dialogue's services). A turn whose domain has no
function (``general``, ``police``, ``hospital``) gets no call. All texts come from
:mod:`spec_tod.tasks.prompts`, the module inference uses too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from spec_tod.data.dialogue import Dialogue
from spec_tod.data.schema import Service
from spec_tod.tasks.prompts import (
    dst_system_prompt,
    e2e_system_prompt,
    format_e2e_response,
    format_function_call,
    function_domain,
    functions_for,
    observation_text,
    state_to_arguments,
)

Task = Literal["dst", "e2e"]
TASKS: tuple[Task, ...] = ("dst", "e2e")


@dataclass(frozen=True)
class Record:
    id: str
    """The dialogue id."""
    messages: tuple[tuple[str, str], ...]
    """``(role, content)`` pairs, the system message first."""
    turns: int
    function_calls: int


def dialogue_domains(dialogue: Dialogue) -> tuple[str, ...]:
    """The domains whose functions a dialogue's system prompt offers, before canonical ordering."""
    if dialogue.services:
        return dialogue.services
    return dialogue.domains + tuple(turn.turn_domain for turn in dialogue.turns)


def build_record(dialogue: Dialogue, task: Task, schema: dict[str, Service], rng: random.Random) -> Record:
    """The ``task`` record of one dialogue; ``rng`` draws the instruction paraphrase (one draw)."""
    functions = functions_for(schema, dialogue_domains(dialogue))
    by_domain = {function_domain(function["name"]): function for function in functions}
    system = dst_system_prompt(functions, rng) if task == "dst" else e2e_system_prompt(functions, rng)
    messages: list[tuple[str, str]] = [("system", system)]
    calls = 0
    previous_state: dict[str, dict[str, str]] = {}
    for turn in dialogue.turns:
        messages.append(("user", turn.user))
        domain = turn.turn_domain
        function = by_domain.get(domain)
        call = None
        state, state_before = turn.belief_state.get(domain, {}), previous_state.get(domain, {})
        if function is not None and state != state_before:  # most turns keep the state: same arguments, no call
            arguments = state_to_arguments(domain, state, function)
            if arguments and arguments != state_to_arguments(domain, state_before, function):
                call = format_function_call(function["name"], arguments)
        previous_state = turn.belief_state
        if call is not None:
            calls += 1
            messages.append(("function", call))
        if task == "dst":
            messages.append(("assistant", turn.system))
            continue
        messages.append(("observation", observation_text(domain, turn.db_count, call is not None)))
        messages.append(("assistant", format_e2e_response(turn.system_acts, turn.system_delex)))
    return Record(id=dialogue.id, messages=tuple(messages), turns=len(dialogue.turns), function_calls=calls)
