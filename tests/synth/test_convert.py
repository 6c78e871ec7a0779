"""Converting simulated dialogues to Spec-TOD records in build-data's layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spec_tod.errors import SpecTodError
from spec_tod.synth.convert import convert, intent_functions, system_prompt
from spec_tod.synth.graph import Graph
from spec_tod.synth.simulate import read_dialogues
from spec_tod.tasks.prompts import NO_FUNCTION_CALL, format_function_call, render_functions
from tests.synth.conftest import COUNT


def test_records_follow_the_spec_tod_layout(restaurant_graph: Graph, simulated_run, tmp_path: Path) -> None:
    run_dir, _ = simulated_run
    dialogues = read_dialogues(run_dir)
    summary = convert(restaurant_graph, dialogues, tmp_path, "sharegpt", run_dir / "dialogues.jsonl")
    assert summary.records == COUNT and summary.data_file.name == "synth-multiwoz_restaurant.jsonl"
    records = [json.loads(line) for line in summary.data_file.read_text().splitlines()]
    assert sum((len(r["conversations"]) - 1) // 4 for r in records) == summary.exchanges
    for record, dialogue in zip(records, dialogues, strict=False):
        assert record["id"] == dialogue.id
        roles = [m["from"] for m in record["conversations"]]
        assert [m["weight"] for m in record["conversations"]] == [int(r in ("function", "assistant")) for r in roles]
        assert roles == ["system"] + ["user", "function", "observation", "assistant"] * ((len(roles) - 1) // 4)
        assert record["conversations"][0]["value"] == system_prompt(restaurant_graph)
        turns = [t for t in dialogue.turns if t.intent != "start"]
        users, systems = turns[0::2], turns[1::2]
        values = record["conversations"][1:]
        for k, (user, answer) in enumerate(zip(users, systems, strict=False)):
            user_msg, function, observation, assistant = (m["value"] for m in values[4 * k : 4 * k + 4])
            assert (user_msg, assistant) == (user.text, answer.text)
            if user.intent in ("greet", "thank"):
                assert function == NO_FUNCTION_CALL and observation == "Do not need to call function"
            else:
                assert function == format_function_call(user.intent, user.slots)
            if answer.intent == "show_restaurants":
                assert json.loads(observation) == answer.results
            elif function != NO_FUNCTION_CALL:
                assert observation == f"No database to query for {user.intent}"


def test_the_system_prompt_lists_the_intents_as_functions(restaurant_graph: Graph) -> None:
    functions = intent_functions(restaurant_graph)
    assert [f["name"] for f in functions] == [
        "find_restaurant",
        "more_restaurants",
        "select_restaurant",
        "ask_info",
        "book_table",
    ]
    find = functions[0]
    assert [a["name"] for a in find["arguments"]] == ["food", "area", "pricerange"]
    assert find["arguments"][2]["possible_values"] == ["cheap", "moderate", "expensive"]
    assert system_prompt(restaurant_graph).endswith(render_functions(functions))


def test_messages_layout_and_same_bytes_twice(restaurant_graph: Graph, simulated_run, tmp_path: Path) -> None:
    dialogues = read_dialogues(simulated_run[0])
    first = convert(restaurant_graph, dialogues, tmp_path / "a", "messages")
    second = convert(restaurant_graph, dialogues, tmp_path / "b", "messages")
    assert first.data_file.name == "synth-multiwoz_restaurant.messages.jsonl"
    assert first.data_file.read_bytes() == second.data_file.read_bytes()
    assert list(json.loads(first.data_file.read_text().splitlines()[0])) == ["id", "messages"]


def test_a_manifest_that_cannot_be_written_leaves_no_records(
    restaurant_graph: Graph, simulated_run, tmp_path: Path, json_writes_fill_the_disk: None
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(SpecTodError, match=str(out)):
        convert(restaurant_graph, read_dialogues(simulated_run[0]), out, "sharegpt")
    assert sorted(out.iterdir()) == []
