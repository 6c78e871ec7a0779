"""Simulated dialogues -> Spec-TOD records, in build-data's layout, so ``spec-tod finetune`` takes them.

Each record (every message with build-data's training weight: 1 on ``function`` and
``assistant``, 0 on the context): the system message (the graph's instruction + the function block of the user
intents), then per exchange ``user`` (the user turn), ``function`` (the intent as a call with its
slots as arguments, or the no-call text for intents marked ``call: false``), ``observation`` (the
items the system turn retrieved, as JSON, else the text build-data uses for a call without a
database) and ``assistant`` (the system turn). The opening system turn (before any user turn) and
a last user turn without an answer (a walk cut at ``max_length``) are left out; failed dialogues
are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from spec_tod.errors import SpecTodError
from spec_tod.fileio import atomic_group
from spec_tod.synth.graph import Graph
from spec_tod.synth.simulate import Dialogue, Turn
from spec_tod.tasks.prompts import (
    NO_CALL_OBSERVATION,
    NO_FUNCTION_CALL,
    format_calls,
    observation_text,
    render_functions,
)
from spec_tod.tasks.writers import Layout, jsonl_line, sha256_file, write_lines

TRAINED_ROLES = ("function", "assistant")
"""Roles with training weight 1: the model learns the intents and slots and the responses (SynTOD's
model wrote both); system, user and observation messages are context (weight 0)."""


def intent_functions(graph: Graph) -> list[dict]:
    """One function per user intent that calls (by label, in graph order); its slots are the arguments."""
    functions: dict[str, dict] = {}
    for node in graph.nodes.values():
        if node.role != "user" or not node.spec.call or node.label in functions:
            continue
        arguments = []
        for slot in node.spec.slots:
            argument: dict = {"name": slot.name, "type": "string", "description": slot.description or slot.name}
            if slot.possible_values is not None:
                argument["possible_values"] = list(slot.possible_values)
            arguments.append(argument)
        functions[node.label] = {
            "name": node.label,
            "description": node.spec.description or f"The user's intent {node.label.replace('_', ' ')}.",
            "arguments": arguments,
        }
    return list(functions.values())


def system_prompt(graph: Graph) -> str:
    return graph.spec.instruction.strip() + "\n\n" + render_functions(intent_functions(graph))


def function_message(graph: Graph, turn: Turn) -> str:
    node = graph.nodes.get(turn.node)
    if node is None:
        raise SpecTodError(
            f"turn of node {turn.node!r}: the graph {graph.source} has no such node; "
            "convert with the graph that was simulated"
        )
    if not node.spec.call:
        return format_calls([])
    arguments = {slot.name: turn.slots[slot.name] for slot in node.spec.slots if slot.name in turn.slots}
    return format_calls([(node.label, arguments)])


def observation_message(user: Turn, system: Turn, called: bool) -> str:
    if system.results is not None:
        return json.dumps(system.results, ensure_ascii=False)
    return observation_text(user.intent, None, True) if called else NO_CALL_OBSERVATION


def dialogue_messages(graph: Graph, dialogue: Dialogue, system: str) -> list[tuple[str, str]]:
    messages = [("system", system)]
    turns = dialogue.turns
    position = next((i for i, turn in enumerate(turns) if turn.role == "user"), len(turns))
    while position + 1 < len(turns):
        user, answer = turns[position], turns[position + 1]
        if user.role != "user" or answer.role != "system":
            raise SpecTodError(
                f"dialogue {dialogue.id}: turn {position} is {user.role} then {answer.role}; expected user then system"
            )
        function = function_message(graph, user)
        messages += [
            ("user", user.text),
            ("function", function),
            ("observation", observation_message(user, answer, function != NO_FUNCTION_CALL)),
            ("assistant", answer.text),
        ]
        position += 2
    return messages


@dataclass(frozen=True)
class ConvertSummary:
    records: int
    skipped_failed: int
    skipped_empty: int
    exchanges: int
    data_file: Path
    manifest: Path


def convert(
    graph: Graph, dialogues: Sequence[Dialogue], out: Path, layout: Layout = "sharegpt", source: Path | None = None
) -> ConvertSummary:
    """Write ``synth-<graph>.jsonl`` (or ``.messages.jsonl``) and its manifest into ``out``."""
    system = system_prompt(graph)
    records: list[tuple[str, list[tuple[str, str]]]] = []
    failed = empty = 0
    for dialogue in dialogues:
        if dialogue.status != "complete":
            failed += 1
            continue
        messages = dialogue_messages(graph, dialogue, system)
        if len(messages) == 1:
            empty += 1
            continue
        records.append((dialogue.id, messages))
    stem = f"synth-{graph.spec.name}"
    data_file = out / (f"{stem}.jsonl" if layout == "sharegpt" else f"{stem}.messages.jsonl")
    manifest = out / f"{stem}.manifest.json"
    exchanges = sum((len(messages) - 1) // 4 for _, messages in records)
    try:
        with atomic_group() as group:  # the records and their manifest appear together or not at all
            lines = (
                jsonl_line(record_id, messages, [int(role in TRAINED_ROLES) for role, _ in messages], layout)
                for record_id, messages in records
            )
            digest = write_lines(data_file, lines, group)
            group.write_json(
                manifest,
                {
                    "tool": "spec-tod synth convert",
                    "graph": graph.source,
                    "graph_sha256": graph.sha256,
                    "dialogues": str(source) if source else None,
                    "dialogues_sha256": sha256_file(source) if source and source.is_file() else None,
                    "layout": layout,
                    "counts": {
                        "records": len(records),
                        "exchanges": exchanges,
                        "skipped_failed": failed,
                        "skipped_empty": empty,
                    },
                    "outputs": [{"path": str(data_file.resolve()), "sha256": digest}],
                },
            )
    except OSError as error:
        raise SpecTodError(f"{out}: cannot write the outputs ({error}); pass a writable --out folder") from None
    return ConvertSummary(len(records), failed, empty, exchanges, data_file, manifest)
