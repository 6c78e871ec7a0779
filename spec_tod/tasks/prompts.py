"""The pieces of the Spec-TOD conversation format shared by training data and inference.

Training records (:mod:`spec_tod.tasks.records`) and the benchmark harness build every message
with these functions, so that what a model is trained on is exactly what it is asked at inference
(the release let the two drift apart; docs/method-reference.md, section 9.6). Formats, docs/method-reference.md sections 2-4:

* system: instruction (+ the three notes for DST) + ``"\\n\\n"`` + the function block;
* function: one ``<function_call>{"function": name, "arguments": {...}}</function_call>`` per domain
  whose state the turn changed (the turn's own domain last), the JSON written by ``json.dumps``; or,
  when the turn changed no state, :data:`NO_FUNCTION_CALL` (every turn has a function message, so the
  model learns when not to call);
* observation: ``There are {N} entities match`` / ``Do not need to call function``;
* assistant (end-to-end): ``Action: {"[domain]": {"[act]": [slots]}}`` + newline + delexicalised text,
  the action encoded once (the release's inference history encoded it twice).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from functools import lru_cache

from spec_tod.data.readers.delex import placeholder
from spec_tod.parsing import decode_json_at, loads_json
from spec_tod.tasks.functions import (
    DONTCARE,
    built_function,
    function_domain,
    functions_for,
    parameter_name,
    slot_name,
)
from spec_tod.tasks.instructions import dst_instruction_block, e2e_instruction_block
from spec_tod.tasks.jsontext import dumps
from spec_tod.tasks.templates import jinja_template

__all__ = [
    "ROLES",
    "FUNCTION_CALL_OPEN",
    "FUNCTION_CALL_CLOSE",
    "ACTION_PREFIX",
    "NO_CALL_OBSERVATION",
    "functions_for",
    "render_functions",
    "dst_system_prompt",
    "e2e_system_prompt",
    "NO_FUNCTION_CALL",
    "format_function_call",
    "format_calls",
    "parse_calls",
    "parse_function_call",
    "observation_text",
    "action_dict",
    "format_e2e_response",
    "parse_e2e_response",
    "state_to_arguments",
    "arguments_to_state",
    "function_domain",
]

ROLES = ("system", "user", "function", "observation", "assistant")
FUNCTION_CALL_OPEN = "<function_call>"
FUNCTION_CALL_CLOSE = "</function_call>"
ACTION_PREFIX = "Action: "
NO_CALL_OBSERVATION = "Do not need to call function"
NO_FUNCTION_CALL = FUNCTION_CALL_OPEN + "none" + FUNCTION_CALL_CLOSE
"""The function message of a turn that changes no state."""


def render_functions(functions: list[dict]) -> str:
    """The ``<FUNCTIONS>...</FUNCTIONS>`` block followed by the "To call a function ..." line."""
    # Dialogues share a few function sets. Functions built by service_function (never changed) are
    # kept by identity; any others are keyed by their compact JSON.
    key = tuple(map(id, functions))
    known = _BY_IDENTITY.get(key)
    if known is not None and all(a is b for a, b in zip(known[0], functions, strict=True)):
        return known[1]
    text = _rendered(json.dumps(functions, ensure_ascii=False))
    if len(_BY_IDENTITY) < 1024 and all(built_function(f) for f in functions):
        _BY_IDENTITY[key] = (list(functions), text)
    return text


_BY_IDENTITY: dict[tuple[int, ...], tuple[list[dict], str]] = {}


@lru_cache(maxsize=1024)
def _rendered(functions_json: str) -> str:
    return jinja_template("functions.jinja").render(functions=json.loads(functions_json))


def dst_system_prompt(functions: list[dict], rng: random.Random) -> str:
    """A DST instruction drawn from ``rng`` + the notes + the function block."""
    return dst_instruction_block(rng) + "\n\n" + render_functions(functions)


def e2e_system_prompt(functions: list[dict], rng: random.Random) -> str:
    """An end-to-end instruction drawn from ``rng`` + the function block."""
    return e2e_instruction_block(rng) + "\n\n" + render_functions(functions)


def format_function_call(function_name: str, arguments: dict) -> str:
    """``<function_call>{"function": ..., "arguments": {...}}</function_call>``."""
    body = dumps({"function": function_name, "arguments": arguments})
    return FUNCTION_CALL_OPEN + body + FUNCTION_CALL_CLOSE


def format_calls(calls: Sequence[tuple[str, dict]]) -> str:
    """A turn's function message: its ``(function name, arguments)`` calls in order, or :data:`NO_FUNCTION_CALL`."""
    if not calls:
        return NO_FUNCTION_CALL
    return "".join(format_function_call(name, arguments) for name, arguments in calls)


def parse_calls(text: str) -> list[tuple[str, dict]] | None:
    """The calls of a generated function message: ``[]`` for :data:`NO_FUNCTION_CALL`, ``None`` if unreadable.

    Each ``<function_call>...</function_call>`` block is read with :func:`parse_function_call`; a
    text without the tags is read as one call. Blocks that cannot be read are skipped as long as
    one can; ``none`` in place of the JSON is the explicit no-call.
    """
    text = text.strip()
    if text == NO_FUNCTION_CALL or text.lower() in ("none", FUNCTION_CALL_OPEN + "none"):
        return []
    blocks = [block for block in text.split(FUNCTION_CALL_OPEN) if block.strip()]
    if len(blocks) <= 1:
        call = parse_function_call(text)
        return [call] if call is not None else None
    calls = [call for block in blocks if (call := parse_function_call(FUNCTION_CALL_OPEN + block)) is not None]
    return calls or None


def parse_function_call(text: str) -> tuple[str, dict] | None:
    """``(function name, arguments)`` from generated text, ``None`` if no call can be read.

    The JSON between the tags is tried first, then the first parseable ``{...}`` anywhere; each time
    with one closing brace added if generation stopped just before it.
    """
    start = text.find(FUNCTION_CALL_OPEN)
    body = text[start + len(FUNCTION_CALL_OPEN) :] if start >= 0 else text
    end = body.find(FUNCTION_CALL_CLOSE)
    candidate = (body[:end] if end >= 0 else body).strip()
    for attempt in (candidate, candidate + "}"):
        call = _as_call(_json_object(attempt))
        if call is not None:
            return call
    position = body.find("{")
    while position >= 0:
        try:
            value = decode_json_at(body, position)
        except json.JSONDecodeError:
            value = _json_object(body[position:].strip() + "}")
        call = _as_call(value)
        if call is not None:
            return call
        position = body.find("{", position + 1)
    return None


def _json_object(text: str) -> dict | None:
    """The JSON object ``text`` (stripped) holds, else ``None``.

    Only a text that starts with ``{`` can hold one; the others are not handed to ``json.loads``, whose
    error costs more than a whole parse (the answers without a call, in every turn that calls nothing).
    """
    if not text.startswith("{"):
        return None
    try:
        value = loads_json(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _as_call(value: object) -> tuple[str, dict] | None:
    if isinstance(value, dict) and isinstance(value.get("function"), str) and isinstance(value.get("arguments"), dict):
        return value["function"], value["arguments"]
    return None


def observation_text(domain: str, count: int | None, called: bool) -> str:
    """The observation after a user turn (end-to-end task).

    No call: ``Do not need to call function``. A call on a domain with a venue database: ``There are
    {count} entities match``, with the real number of matching venues (the release trained on the
    number of constrained domains instead; docs/method-reference.md, section 1.4). A call on a domain without a
    database (taxi, SGD services): ``No database to query for {domain}``, rather than a made-up count.
    """
    if not called:
        return NO_CALL_OBSERVATION
    if count is None:
        return f"No database to query for {domain}"
    return f"There are {count} entities match"


def action_dict(acts: Mapping) -> dict[str, dict[str, list[str]]]:
    """Dialogue acts in the release's ``aspn_dict`` shape: ``{"[domain]": {"[act]": [slot, ...]}}``.

    Accepts the dialogue model's ``{domain: {act: [(slot, value), ...]}}`` or an action already in
    that shape. Slots take the names of the response's placeholders (``addr`` -> ``address``, as in
    ``[value_address]``), each kept once in order; ``none`` and empty slots are left out (acts such
    as ``[bye]`` carry no slot).
    """
    action: dict[str, dict[str, list[str]]] = {}
    for domain, domain_acts in acts.items():
        domain_key = _bracketed(domain)
        target = action.setdefault(domain_key, {})
        for act, items in domain_acts.items():
            slots = target.setdefault(_bracketed(act), [])
            for item in items:
                slot = item if isinstance(item, str) else item[0]
                slot = _placeholder_slot(slot)
                if slot and slot != "none" and slot not in slots:
                    slots.append(slot)
    return action


@lru_cache(maxsize=4096)
def _placeholder_slot(slot: str) -> str:
    # "addr" -> "[value_address]" -> "address"; names already in that form map to themselves.
    name = placeholder(slot)[1:-1]
    return name[len("value_") :] if name.startswith("value_") else name


def _bracketed(name: str) -> str:
    return name if name.startswith("[") and name.endswith("]") else f"[{name}]"


def format_e2e_response(acts: Mapping, delex: str) -> str:
    """``Action: {...}`` + newline + the delexicalised response; the action JSON encoded once."""
    return ACTION_PREFIX + dumps(action_dict(acts)) + "\n" + delex


def parse_e2e_response(text: str) -> tuple[dict | None, str]:
    """Split an end-to-end answer into ``(action dict or None, response)``.

    Works with or without the ``Action:`` prefix (it is the inference prefill). The first line is the
    action JSON; the response is the next non-empty line (training responses are one line). If the
    first line is not a JSON object, the action is ``None`` and the whole text is the response.
    """
    text = text.strip()
    if text.startswith(ACTION_PREFIX.strip()):
        text = text[len(ACTION_PREFIX.strip()) :].lstrip()
    head, _, rest = text.partition("\n")
    action = _json_object(head.strip())
    if action is None:
        return None, text
    lines = [line.strip() for line in rest.splitlines() if line.strip()]
    return action, lines[0] if lines else ""


def _argument_specs(function: dict) -> dict[str, dict]:
    return {argument["name"]: argument for argument in function["arguments"]}


def _enum_value(value: str, enum: Sequence[str]) -> str | None:
    """The possible value ``value`` stands for: the same text, else ignoring case, else also ignoring spaces."""
    if value in enum:
        return value
    lower = value.lower()
    for option in enum:
        if option.lower() == lower:
            return option
    compact = lower.replace(" ", "")
    return next((option for option in enum if option.lower().replace(" ", "") == compact), None)


def state_to_arguments(domain: str, state: Mapping[str, str], function: dict) -> dict[str, str]:
    """One domain's belief state (dataset slot names) as call arguments, in the function's parameter order.

    Slots that are not parameters of ``function`` are left out. Values of enum parameters take the
    enum's spelling when they differ only in case or spaces (MultiWOZ 2.1's ``night club`` is the
    2.2 schema's ``nightclub``, as the standardized evaluator also normalises it); values that match
    no possible value are left out, because :func:`arguments_to_state` would reject them at
    inference. ``dontcare`` is always kept (the release dropped it for enum slots at inference).
    """
    specs = _argument_specs(function)
    chosen: dict[str, str] = {}
    for slot, value in state.items():
        name = parameter_name(domain, slot)
        spec = specs.get(name)
        if spec is None:
            continue
        enum = spec.get("possible_values")
        if enum is not None and value != DONTCARE:
            possible = _enum_value(value, enum)
            if possible is None:
                continue
            value = possible
        chosen[name] = value
    return {name: chosen[name] for name in specs if name in chosen}


def arguments_to_state(domain: str, arguments: Mapping, function: dict) -> tuple[dict[str, str], list[str]]:
    """Validate call arguments against the function: ``(state in dataset slot names, problems)``.

    Unknown parameters, empty or non-scalar values and enum values outside the possible values are
    reported and left out. Enum values match ignoring case and spaces and take the enum's spelling;
    numbers become strings and booleans ``yes``/``no``.
    """
    specs = _argument_specs(function)
    state: dict[str, str] = {}
    problems: list[str] = []
    for name, raw in arguments.items():
        spec = specs.get(name)
        if spec is None:
            problems.append(f"{function['name']}: unknown parameter {name!r}")
            continue
        if isinstance(raw, bool):
            value = "yes" if raw else "no"
        elif isinstance(raw, (int, float)):
            value = str(raw)
        elif isinstance(raw, str):
            value = raw.strip()
        else:
            problems.append(f"{function['name']}: {name} has a non-scalar value {raw!r}")
            continue
        if not value:
            problems.append(f"{function['name']}: {name} is empty")
            continue
        enum = spec.get("possible_values")
        if enum is not None and value.lower() != DONTCARE:
            match = _enum_value(value, enum)
            if match is None:
                problems.append(f"{function['name']}: {name}={value!r} is not one of {enum}")
                continue
            value = match
        elif value.lower() == DONTCARE:
            value = DONTCARE
        state[slot_name(domain, name)] = value
    return state, problems
