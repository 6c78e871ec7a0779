"""The prompts of a dialogue's model calls, cut from the training conversation layout.

Every prompt is :func:`spec_tod.tasks.layout.prompt` of a conversation whose earlier turns are
either gold or the model's own, so it ends where a trained message starts and the model writes that
whole message:

* DST call (both modes): the DST conversation (gold lexicalised system responses, which the corpus
  user answered) up to the current turn's ``function`` message. Earlier function messages are gold in
  DST mode (teacher forcing, exactly the DST training record) and the model's own calls in
  end-to-end mode (so tracking errors carry over, as in a deployed system).
* Response call (end-to-end): the end-to-end conversation with the model's own earlier calls,
  observations and replies, the current turn's function message and observation, up to its
  ``assistant`` message.

Functions and instruction paraphrases come from :mod:`spec_tod.tasks.layout` (the same functions
for every dialogue; instructions drawn from ``random.Random(f"{seed}:{dialogue id}")``), so with the
seed of build-data a prompt is a prefix of the record of the same dialogue, character for character.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from spec_tod.data.dialogue import Dialogue
from spec_tod.data.schema import Service
from spec_tod.tasks.layout import Message, TurnText, dst_turn, gold_turns, prompt, system_messages
from spec_tod.tasks.records import offered_functions

Prompt = tuple[list[Message], str]
"""The messages before the generated one, and the role of the message the model writes."""


@dataclass(frozen=True)
class DialoguePrompts:
    """The fixed parts of one dialogue's prompts: functions, system messages, gold turns."""

    dialogue: Dialogue
    functions: dict[str, dict]
    """The offered functions by domain."""
    dst_system: str
    e2e_system: str

    @cached_property
    def gold_dst_turns(self) -> list[TurnText]:
        """The turns of the DST training record (gold calls and lexicalised responses)."""
        return gold_turns("dst", self.dialogue, self.functions, None)

    def dst_prompt(self, turn: int, calls: Sequence[str] | None = None) -> Prompt:
        """The DST prompt of ``turn``; ``calls`` are the earlier turns' function messages (``None``: gold)."""
        if calls is None:
            gold = self.gold_dst_turns
            return prompt("dst", self.dst_system, gold[:turn], gold[turn])
        # the model's own calls: the gold ones are not needed (working them out was 4% of an end-to-end run's CPU)
        turns = self.dialogue.turns
        earlier = [dst_turn(t, call) for t, call in zip(turns[:turn], calls, strict=True)]
        return prompt("dst", self.dst_system, earlier, dst_turn(turns[turn], ""))

    def response_prompt(self, turn: int, history: Sequence[TurnText], call: str, observation: str) -> Prompt:
        """The end-to-end response prompt of ``turn`` after the model's own ``history`` and this turn's call."""
        current = TurnText(user=self.dialogue.turns[turn].user, call=call, observation=observation, reply="")
        return prompt("e2e", self.e2e_system, history[:turn], current)


def dialogue_prompts(dialogue: Dialogue, schema: dict[str, Service], seed: int) -> DialoguePrompts:
    """The functions and system messages of ``dialogue``."""
    functions = offered_functions(schema, dialogue)
    dst_system, e2e_system = system_messages(list(functions.values()), seed, dialogue.id)
    return DialoguePrompts(dialogue=dialogue, functions=functions, dst_system=dst_system, e2e_system=e2e_system)
