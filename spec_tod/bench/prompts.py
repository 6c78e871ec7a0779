"""The messages of the two model calls of a turn, built with the tasks layer's format functions.

Inference prompts have the layout of the training records (:mod:`spec_tod.tasks.records`):
system = instruction + the function block; per earlier turn ``user``, a ``function`` call when that
turn changed its domain's state, (end-to-end) an ``observation``, ``assistant``; then the current
``user`` and the prefill the model continues:

* DST call: a ``function`` message opened up to the function name (``<function_call>{"function": "``),
  so the model names the function (which is its domain prediction) and writes the arguments;
* response call: the current turn's ``function`` (when the state changed) and ``observation``, then
  an ``assistant`` message opened with ``Action:``.

The system prompt offers the functions of every experiment domain (MultiWOZ: taxi, train,
attraction, hotel, restaurant) since the domain is not known in advance; SGD dialogues offer
their services. The instruction paraphrases are drawn once per dialogue from
``random.Random(f"{seed}:{dialogue id}")``, DST first, so reruns and resumes repeat them exactly.

Two kinds of history: in DST mode the history is gold (teacher forcing, like the DST training
records: gold calls, gold lexicalised responses), taken from the training record itself; in
end-to-end mode it is the model's own earlier calls, observations and delexicalised responses.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from spec_tod.data.dialogue import Dialogue
from spec_tod.data.schema import Service
from spec_tod.tasks.functions import multiwoz_rules
from spec_tod.tasks.prompts import (
    ACTION_PREFIX,
    dst_system_prompt,
    e2e_system_prompt,
    function_call_prefill,
    function_domain,
    functions_for,
)
from spec_tod.tasks.records import build_record

Message = tuple[str, str]
"""``(role, content)``."""

ACTION_PREFILL: Message = ("assistant", ACTION_PREFIX.strip())


def _open_call() -> str:
    # The call format up to the function name: the model writes the name, then the arguments.
    marker = "FUNCTION_NAME"
    prefill = function_call_prefill(marker)
    return prefill[: prefill.index(marker)]


CALL_PREFILL: Message = ("function", _open_call())


@dataclass(frozen=True)
class HistoryTurn:
    """What an earlier turn contributes to the prompts of later turns."""

    user: str
    call: str | None
    """The ``function`` message, when the turn changed its domain's state."""
    observation: str
    """The ``observation`` message (end-to-end prompts only)."""
    dst_reply: str
    """The ``assistant`` message of DST prompts."""
    e2e_reply: str
    """The ``assistant`` message of end-to-end prompts."""


@dataclass(frozen=True)
class DialoguePrompts:
    """The fixed parts of one dialogue's prompts: functions and system messages."""

    dialogue: Dialogue
    functions: tuple[dict, ...]
    dst_system: str
    e2e_system: str
    schema: dict[str, Service]

    def function(self, domain: str) -> dict | None:
        """The function specification of ``domain`` offered to this dialogue, if any."""
        return self.by_domain.get(domain)

    @cached_property
    def by_domain(self) -> dict[str, dict]:
        return {function_domain(function["name"]): function for function in self.functions}

    @cached_property
    def gold_history(self) -> tuple[tuple[Message, ...], ...]:
        """Per turn, the DST training record's messages after the user message (gold call and response)."""
        record = build_record(self.dialogue, "dst", self.schema, random.Random(0))
        turns: list[list[Message]] = []
        for role, content in record.messages[1:]:
            if role == "user":
                turns.append([])
            else:
                turns[-1].append((role, content))
        return tuple(tuple(messages) for messages in turns)

    def dst_messages(self, turn: int, history: Sequence[HistoryTurn] | None) -> list[Message]:
        """The DST prompt of ``turn`` up to the current user message; the gold history when ``history`` is None."""
        messages: list[Message] = [("system", self.dst_system)]
        for index, earlier in enumerate(self.dialogue.turns[:turn]):
            messages.append(("user", earlier.user))
            if history is None:
                messages.extend(self.gold_history[index])
                continue
            previous = history[index]
            if previous.call is not None:
                messages.append(("function", previous.call))
            messages.append(("assistant", previous.dst_reply))
        messages.append(("user", self.dialogue.turns[turn].user))
        return messages

    def response_messages(
        self, turn: int, history: Sequence[HistoryTurn], call: str | None, observation: str
    ) -> list[Message]:
        """The end-to-end prompt of ``turn`` up to and including its call and observation."""
        messages: list[Message] = [("system", self.e2e_system)]
        for earlier in history[:turn]:
            messages.append(("user", earlier.user))
            if earlier.call is not None:
                messages.append(("function", earlier.call))
            messages.append(("observation", earlier.observation))
            messages.append(("assistant", earlier.e2e_reply))
        messages.append(("user", self.dialogue.turns[turn].user))
        if call is not None:
            messages.append(("function", call))
        messages.append(("observation", observation))
        return messages


def inference_domains(dialogue: Dialogue) -> tuple[str, ...]:
    """The domains whose functions the system prompt offers: every experiment domain (MultiWOZ),
    the dialogue's services (SGD)."""
    return dialogue.services or multiwoz_rules().experiment_domains


def dialogue_prompts(dialogue: Dialogue, schema: dict[str, Service], seed: int) -> DialoguePrompts:
    """The functions and system prompts of ``dialogue`` (instructions drawn from the dialogue's own generator)."""
    functions = functions_for(schema, inference_domains(dialogue))
    rng = random.Random(f"{seed}:{dialogue.id}")
    dst_system = dst_system_prompt(functions, rng)
    e2e_system = e2e_system_prompt(functions, rng)
    return DialoguePrompts(
        dialogue=dialogue, functions=tuple(functions), dst_system=dst_system, e2e_system=e2e_system, schema=schema
    )
