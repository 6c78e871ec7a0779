"""Loading and validating graphs: the examples load; structural mistakes stop with one line naming them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest

from spec_tod.errors import SpecTodError
from spec_tod.synth.graph import Graph, load_graph

SMALL = {
    "name": "small",
    "nodes": {
        "start": {"role": "system", "edges": {"ask": 1.0}},
        "ask": {"role": "user", "edges": {"answer": 1.0}},
        "answer": {"role": "system", "edges": {"ask": 0.5, "end": 0.5}},
    },
}


def _error(write_graph: Callable[[dict], Path], graph: dict) -> str:
    path = write_graph(graph)
    with pytest.raises(SpecTodError) as caught:
        load_graph(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message


def test_example_graphs_load(recipe_graph: Graph, restaurant_graph: Graph) -> None:
    assert len(recipe_graph.nodes) == 38  # 11 system states, 27 user intents
    assert recipe_graph.user_intents()[:3] == ["search_recipe", "suggest_recipe", "more_results"]
    assert "show_ingredients_begin" not in recipe_graph.user_intents()  # labelled show_ingredients, as SynTOD wrote it
    assert len(recipe_graph.rules) == 11 and recipe_graph.spec.max_length == 40
    # option_selected: its own edges plus the common intents scaled by ci_weight 0.1
    edges = dict(recipe_graph.nodes["option_selected"].edges)
    assert edges["begin_task"] == 0.54 and edges["open_domain_qa"] == pytest.approx(0.04)
    assert restaurant_graph.nodes["show_restaurants"].spec.retrieve is not None


def test_a_user_to_user_edge_is_refused(write_graph) -> None:
    graph = copy.deepcopy(SMALL)
    graph["nodes"]["ask"]["edges"] = {"answer": 1.0, "ask": 0.1}
    assert "node 'ask': user->user edge to 'ask'; roles must alternate" in _error(write_graph, graph)


def test_a_node_unreachable_from_start_is_refused(write_graph) -> None:
    graph = copy.deepcopy(SMALL)
    graph["nodes"]["lonely"] = {"role": "user", "edges": {"answer": 1.0}}
    assert "node 'lonely' is unreachable from start 'start'" in _error(write_graph, graph)


def test_a_node_that_cannot_reach_end_is_refused(write_graph) -> None:
    graph = copy.deepcopy(SMALL)
    graph["nodes"]["ask"]["edges"] = {"answer": 1.0, "trap": 1.0}
    graph["nodes"]["trap"] = {"role": "system", "edges": {"loop": 1.0}}
    graph["nodes"]["loop"] = {"role": "user", "edges": {"trap": 1.0}}
    assert "node 'trap' cannot reach end 'end'" in _error(write_graph, graph)


def test_rewrites_count_as_paths_for_reachability(write_graph) -> None:
    graph = copy.deepcopy(SMALL)
    graph["nodes"]["ask_again"] = {"role": "user", "edges": {"answer": 1.0}}
    graph["counters"] = {"n": 0}
    graph["rules"] = [{"nodes": ["ask"], "if": "n > 0", "goto": "ask_again"}]
    load_graph(write_graph(graph))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda g: g["nodes"]["ask"]["edges"].update(nowhere=1.0), "node 'ask': edge to unknown node 'nowhere'"),
        (lambda g: g.update(rules=[{"nodes": ["ask"], "set": {"x": 1}}]), "rules[0]: set 'x' is not a counter"),
        (
            lambda g: g.update(counters={"n": 0}, rules=[{"nodes": ["ask"], "if": "n >", "set": {"n": 1}}]),
            "rules[0]: if: expression 'n >' does not parse",
        ),
        (
            lambda g: g.update(counters={"n": 0}, rules=[{"nodes": ["ask"], "if": "m > 1", "set": {"n": 1}}]),
            "rules[0]: if: UndefinedError: 'm' is undefined",
        ),
        (
            lambda g: g.update(rules=[{"nodes": ["ask"], "goto": "answer"}]),
            "rules[0]: goto 'answer' (system) must keep the role",
        ),
        (lambda g: g["nodes"]["ask"].update(colour="red"), "nodes.ask.colour: Extra inputs are not permitted"),
        (lambda g: g["nodes"].update(end={"role": "system"}), "end 'end' must not be a node"),
    ],
)
def test_mistakes_name_the_node_or_rule(write_graph, change, expected: str) -> None:
    graph = copy.deepcopy(SMALL)
    change(graph)
    assert expected in _error(write_graph, graph)


def test_unreadable_and_non_yaml_files(tmp_path: Path) -> None:
    with pytest.raises(SpecTodError, match="cannot read the graph"):
        load_graph(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes: [unclosed")
    with pytest.raises(SpecTodError, match="not valid YAML"):
        load_graph(bad)
    bad.write_text("nodes: " + "[" * 5000)  # deeper than PyYAML's parser goes
    with pytest.raises(SpecTodError, match=r"bad\.yaml: not valid YAML \(nested deeper than the parser goes\)"):
        load_graph(bad)
