"""The Spec-TOD conversation layout: one definition for training records and inference prompts.

A conversation is the system message, then per turn::

    user         the user utterance
    function     the turn's calls (one per domain whose state it changed, its own domain last),
                 or NO_FUNCTION_CALL; every turn has one, so the model learns when not to call
    observation  end-to-end only: the venue count of the last call's domain, or "Do not need to
                 call function"
    assistant    DST: the lexicalised system response; end-to-end: ``Action: {...}`` + newline +
                 the delexicalised response

A task trains one role (:data:`TRAINED_ROLE`, docs/method-reference.md §6: ``function`` on DST data,
``assistant`` on end-to-end data) and inference asks the model for exactly that role: a prompt is
the conversation up to the start of a trained message (:func:`prompt`). So whenever the model's
earlier outputs equal the training targets, every prompt is a prefix of the training text of the
same dialogue, for any chat template that renders messages one after another.

The system message offers the same functions in training and inference (:func:`offered_domains`:
every MultiWOZ experiment domain, or an SGD dialogue's services), so the list never reveals which
domains a dialogue is about; its instruction paraphrases are drawn from the dialogue's own seeded
generator (:func:`system_messages`), so a record and a prompt of the same seed share them too.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from spec_tod.data.database import VenueDatabase
from spec_tod.data.dialogue import BeliefState, Dialogue, Turn
from spec_tod.data.readers.mwz_turns import db_count
from spec_tod.tasks.functions import multiwoz_rules
from spec_tod.tasks.prompts import (
    arguments_to_state,
    dst_system_prompt,
    e2e_system_prompt,
    format_calls,
    format_e2e_response,
    function_domain,
    observation_text,
    state_to_arguments,
)

Task = Literal["dst", "e2e"]
Message = tuple[str, str]
"""``(role, content)``."""
Call = tuple[str, dict]
"""``(function name, arguments)``."""

TRAINED_ROLE: dict[str, str] = {"dst": "function", "e2e": "assistant"}
"""The role whose messages carry labels, per task (and the role inference asks the model to write)."""


@dataclass(frozen=True)
class TurnText:
    """The messages one turn contributes to a conversation."""

    user: str
    call: str
    """The function message: calls or NO_FUNCTION_CALL."""
    observation: str
    """End-to-end only."""
    reply: str
    """The assistant message of the task (lexicalised for DST, action + delexicalised for end-to-end)."""


def offered_domains(dialogue: Dialogue) -> tuple[str, ...]:
    """The domains whose functions every prompt of ``dialogue`` offers: the MultiWOZ experiment
    domains (whatever the dialogue is about), or the SGD dialogue's services."""
    return dialogue.services or multiwoz_rules().experiment_domains


def system_messages(functions: Sequence[dict], seed: int, dialogue_id: str) -> tuple[str, str]:
    """The DST and end-to-end system messages of a dialogue: instructions drawn from
    ``random.Random(f"{seed}:{dialogue_id}")``, DST first, then the function block."""
    rng = random.Random(f"{seed}:{dialogue_id}")
    return dst_system_prompt(list(functions), rng), e2e_system_prompt(list(functions), rng)


def turn_messages(task: Task, turn: TurnText) -> list[Message]:
    """The messages of one turn in ``task``'s layout."""
    messages = [("user", turn.user), ("function", turn.call)]
    if task == "e2e":
        messages.append(("observation", turn.observation))
    messages.append(("assistant", turn.reply))
    return messages


def conversation(task: Task, system: str, turns: Sequence[TurnText]) -> list[Message]:
    """A whole conversation: the system message and every turn's messages."""
    messages: list[Message] = [("system", system)]
    for turn in turns:
        messages.extend(turn_messages(task, turn))
    return messages


def prompt(task: Task, system: str, earlier: Sequence[TurnText], current: TurnText) -> tuple[list[Message], str]:
    """``(messages, role)``: the conversation up to the start of the current turn's trained message,
    and that message's role. Fields of ``current`` from the trained message on are not used."""
    messages = conversation(task, system, earlier)
    role = TRAINED_ROLE[task]
    for message in turn_messages(task, current):
        if message[0] == role:
            return messages, role
        messages.append(message)
    raise AssertionError(f"the {task} layout has no {role} message")  # TRAINED_ROLE is part of every layout


def gold_calls(turn: Turn, previous: BeliefState, functions: Mapping[str, dict]) -> list[Call]:
    """The calls of a gold turn: one per offered domain whose arguments the turn changed, in the
    offered order with the turn's own domain moved last (its venues are the observation's)."""
    domains = [domain for domain in functions if domain != turn.turn_domain]
    if turn.turn_domain in functions:
        domains.append(turn.turn_domain)
    calls: list[Call] = []
    for domain in domains:
        state, before = turn.belief_state.get(domain, {}), previous.get(domain, {})
        if state == before:
            continue
        function = functions[domain]
        arguments = state_to_arguments(domain, state, function)
        if arguments and arguments != state_to_arguments(domain, before, function):
            calls.append((function["name"], arguments))
    return calls


def apply_calls(
    state: BeliefState, calls: Sequence[Call], functions: Mapping[str, dict]
) -> tuple[BeliefState, str | None, list[str]]:
    """``(new state, domain of the last valid call, problems)``: each call's validated arguments
    replace its domain's state (a call carries the domain's cumulative state); calls of functions
    not offered, and calls left with no valid argument, change nothing and are reported."""
    by_name = {function["name"]: domain for domain, function in functions.items()}
    new_state = dict(state)
    last: str | None = None
    problems: list[str] = []
    for name, arguments in calls:
        domain = by_name.get(name) or function_domain(name)
        function = functions.get(domain) if domain is not None else None
        if domain is None or function is None:
            problems.append(f"{name!r} is not one of the offered functions")
            continue
        update, found = arguments_to_state(domain, arguments, function)
        problems.extend(found)
        if update:
            new_state[domain] = update
            last = domain
    return new_state, last, problems


def normalised_calls(state: BeliefState, domains: Sequence[str], functions: Mapping[str, dict]) -> list[Call]:
    """The calls that set ``domains`` to their values in ``state``, as the training data writes them
    (the history of later prompts shows a model's calls this way)."""
    return [
        (functions[domain]["name"], state_to_arguments(domain, state[domain], functions[domain]))
        for domain in domains
        if domain in state and domain in functions
    ]


def observation(domain: str | None, count: int | None) -> str:
    """The observation after a function message whose last call was of ``domain`` (``None``: no
    call), with ``count`` venues matching that domain's new state (``None``: no database)."""
    if domain is None:
        return observation_text("general", None, False)
    return observation_text(domain, count, True)


@dataclass(frozen=True)
class GoldStep:
    """What a gold turn's calls give, the same for both tasks: computed once when both are built."""

    call: str
    """The function message: the turn's gold calls or NO_FUNCTION_CALL."""
    domain: str | None
    """The domain of the last valid call (``None``: no call)."""
    state: BeliefState
    """The state tracked from the calls so far, after this turn's."""


def gold_steps(dialogue: Dialogue, functions: Mapping[str, dict]) -> list[GoldStep]:
    """Per turn of ``dialogue``, its gold calls and the state they leave (as at inference)."""
    steps: list[GoldStep] = []
    previous: BeliefState = {}
    tracked: BeliefState = {}
    for turn in dialogue.turns:
        calls = gold_calls(turn, previous, functions)
        tracked, domain, _ = apply_calls(tracked, calls, functions)
        steps.append(GoldStep(call=format_calls(calls), domain=domain, state=tracked))
        previous = turn.belief_state
    return steps


def gold_turns(
    task: Task,
    dialogue: Dialogue,
    functions: Mapping[str, dict],
    database: VenueDatabase | None,
    steps: Sequence[GoldStep] | None = None,
) -> list[TurnText]:
    """Every turn of ``dialogue`` as the training data shows it: gold calls, their observations
    (counted from the calls' arguments, as at inference) and the task's gold reply. ``steps``:
    :func:`gold_steps` of the same dialogue and functions, when already computed."""
    if steps is None:
        steps = gold_steps(dialogue, functions)
    if task == "dst":
        return [dst_turn(turn, step.call) for turn, step in zip(dialogue.turns, steps, strict=True)]
    turns: list[TurnText] = []
    for turn, step in zip(dialogue.turns, steps, strict=True):
        domain = step.domain
        observed = observation(domain, db_count(database, domain, step.state) if domain else None)
        reply = format_e2e_response(turn.system_acts, turn.system_delex)
        turns.append(TurnText(user=turn.user, call=step.call, observation=observed, reply=reply))
    return turns


def dst_turn(turn: Turn, call: str) -> TurnText:
    """A turn of the DST record with ``call`` as its function message: the gold calls, or a model's."""
    return TurnText(user=turn.user, call=call, observation="", reply=turn.system)
