"""Every dialogue-understanding prompt and answer text: the one definition build-data and bench both use.

Each prompt is the content of one ``user`` message and its answer the content of the ``assistant`` message
that follows (:func:`messages`); a served model gets the user message through its chat template and
continues with the answer. The texts follow opendu's prompts (docs/du.md gives each source):

* ``knn``: does the utterance mean the same as an exemplar's template (``skill-knn-structural``); ``true``/``false``;
* ``desc``: does the utterance fit a skill's description (``skill_desc_structural``); ``true``/``false``;
* ``rag``: the owner among retrieved skills and exemplars, most relevant last (``id_mc_full``); a JSON list,
  ``["owner"]`` or ``[]``;
* ``binary``: does the utterance mean one skill, with up to 2 labelled examples (``BinarySkillPrompts``);
* ``slot``: one slot's value (``slot-qa-structural``, plus the slot's description); a JSON value or ``null``;
* ``slots``: every slot at once (``sf_se_full``); a JSON object of the slots that have a value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from spec_tod.du.exemplars import AnnotatedExemplar, Skill, SlotSpec
from spec_tod.parsing import loads_json

TRUE = "true"
FALSE = "false"
NO_SKILL = "[]"
MAX_BINARY_EXAMPLES = 2

Value = str | list[str]


ASKED_ROLE = "user"
ANSWER_ROLE = "assistant"
WEIGHTS = (0, 1)
"""Training weights of a record's two messages: only the answer is trained."""


def messages(prompt: str, answer: str) -> list[tuple[str, str]]:
    """One training record's messages (with :data:`WEIGHTS`)."""
    return [(ASKED_ROLE, prompt), (ANSWER_ROLE, answer)]


def chat_prompt(prompt: str) -> tuple[list[tuple[str, str]], str]:
    """What inference sends: the same user message, then the role whose message the model writes."""
    return [(ASKED_ROLE, prompt)], ANSWER_ROLE


def boolean(value: bool) -> str:
    return TRUE if value else FALSE


def parse_boolean(text: str) -> bool | None:
    word = text.strip().lower().rstrip(".")
    return True if word == TRUE else False if word == FALSE else None


def knn_prompt(utterance: str, template: str) -> str:
    return f"Decide whether the following template means the same as:\n{utterance}\n\nTemplate: {template}\nDecision:"


def desc_prompt(utterance: str, skill: Skill) -> str:
    return (
        f"Decide whether the input fit this function description: {skill.description}\n\nInput: {utterance}\nDecision:"
    )


def rag_prompt(utterance: str, skills: Sequence[Skill], exemplars: Sequence[AnnotatedExemplar]) -> str:
    """Skills and exemplars in the order given (callers pass them most relevant last)."""
    lines = [
        "Given a incomplete list of skills and their corresponding description, along with some examples, output "
        "the skill that is implied by the input text as a JSON list, or an empty list if no skill in the list is "
        "implied by the input.",
        "",
        "The skills are:",
        *(f"{skill.name}: {skill.description}" for skill in skills),
    ]
    if exemplars:
        lines += ["", "Here are some examples:"]
        for exemplar in exemplars:
            lines += [f"Input: {exemplar.template}", f"Prediction: {rag_answer(exemplar.owner)}"]
    lines += ["", f"Input: {utterance}", "Prediction:"]
    return "\n".join(lines)


def rag_answer(owner: str | None) -> str:
    return json.dumps([owner]) if owner is not None else NO_SKILL


def rag_choices(skills: Sequence[Skill]) -> list[str]:
    """Every answer a ``rag`` prompt allows (for ``guided_choice``)."""
    return [rag_answer(skill.name) for skill in skills] + [NO_SKILL]


def parse_rag(text: str) -> tuple[bool, str | None]:
    """``(readable, owner)`` from a ``rag`` answer; an empty list is a readable ``None``."""
    try:
        value = loads_json(text.strip())
    except ValueError:
        return False, None
    if isinstance(value, list) and not value:
        return True, None
    if isinstance(value, list) and isinstance(value[0], str):
        return True, value[0]
    return False, None


def binary_examples(exemplars: Sequence[AnnotatedExemplar], target: str) -> list[tuple[str, bool]]:
    """The first exemplars, each labelled for ``target``: (template, does it mean target)."""
    return [(e.template, e.owner == target) for e in exemplars[:MAX_BINARY_EXAMPLES]]


def binary_prompt(utterance: str, skill: Skill, examples: Sequence[tuple[str, bool]]) -> str:
    head = f'Determine whether the input means "{skill.name}": {skill.description}, output true or false.\n'
    shown = "".join(
        f'Input: [{template}] means "{skill.name}"? Output: {boolean(label)}\n' for template, label in examples
    )
    return f'{head}{shown}Input: [{utterance}] means "{skill.name}"? Output:'


def slot_prompt(utterance: str, slot: SlotSpec) -> str:
    return f"Mark the value for {slot.name} ({slot.description}) in utterance.\n\nUtterance: {utterance}\nOutput:"


def slot_value(values: Sequence[str] | None) -> Value | None:
    """One value as a string, several as a list (opendu's ``format_value``), none as ``None``."""
    if not values:
        return None
    return values[0] if len(values) == 1 else list(values)


def slot_answer(values: Sequence[str] | None) -> str:
    return json.dumps(slot_value(values), ensure_ascii=False)


SLOT_VALUE_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}, {"type": "null"}]
}


def slots_prompt(utterance: str, skill: Skill) -> str:
    schema = {slot.name: slot.description for slot in skill.extractive_slots}
    return (
        f"Extract values from the input text for the function {skill.name}, given the description of its slots:\n"
        f"{json.dumps(schema, ensure_ascii=False, indent=2)}\n\n"
        "Output a JSON object holding the slots that have a value in the input.\n\n"
        f"Input text: {utterance}\nOutput:"
    )


def slots_answer(skill: Skill, arguments: Mapping[str, Sequence[str]]) -> str:
    present = {slot.name: slot_value(arguments.get(slot.name)) for slot in skill.extractive_slots}
    return json.dumps({name: value for name, value in present.items() if value is not None}, ensure_ascii=False)


def slots_schema(skill: Skill) -> dict[str, Any]:
    """The JSON schema of a ``slots`` answer (for ``guided_json``)."""
    return {
        "type": "object",
        "properties": {slot.name: SLOT_VALUE_SCHEMA for slot in skill.extractive_slots},
        "additionalProperties": False,
    }


def parse_value(text: str) -> tuple[bool, Value | None]:
    """``(readable, value)`` from a ``slot`` answer."""
    try:
        value = loads_json(text.strip())
    except ValueError:
        return False, None
    if value is None or isinstance(value, str):
        return True, value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return True, value
    return False, None


def parse_slots(text: str) -> tuple[bool, dict[str, Value]]:
    """``(readable, slot -> value)`` from a ``slots`` answer; unreadable entries are dropped."""
    try:
        value = loads_json(text.strip())
    except ValueError:
        return False, {}
    if not isinstance(value, dict):
        return False, {}
    kept: dict[str, Value] = {}
    for name, item in value.items():
        if isinstance(item, str) or (isinstance(item, list) and all(isinstance(v, str) for v in item)):
            kept[str(name)] = item
    return True, kept
