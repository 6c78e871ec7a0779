"""Walks: deterministic per seed, alternating, bounded; guards and rules fire; the recipe port matches SynTOD."""

from __future__ import annotations

import statistics
from collections import Counter

import pytest

from spec_tod.synth.graph import Graph, load_graph
from spec_tod.synth.walk import WalkStats, make_walk

WALKS = 4000


@pytest.fixture(scope="module")
def recipe_walks(recipe_graph: Graph) -> list:
    return [make_walk(recipe_graph, 0, i) for i in range(WALKS)]


def test_walks_are_deterministic_per_seed(recipe_graph: Graph) -> None:
    first = [make_walk(recipe_graph, 7, i).intents for i in range(50)]
    assert first == [make_walk(recipe_graph, 7, i).intents for i in range(50)]
    assert first != [make_walk(recipe_graph, 8, i).intents for i in range(50)]
    # Walk i does not depend on the walks before it.
    assert make_walk(recipe_graph, 7, 49).intents == first[49]


def test_walks_alternate_start_at_start_end_at_end_and_respect_the_cap(recipe_graph: Graph, recipe_walks: list) -> None:
    for walk in recipe_walks:
        roles = [step.role for step in walk.steps]
        assert walk.steps[0].node == "start" and walk.steps[-1].node == "end"
        assert roles.count("end") == 1 and len(walk.steps) <= recipe_graph.spec.max_length + 1
        inner = roles[:-1]
        assert inner == ["system", "user"] * (len(inner) // 2) + ["system"] * (len(inner) % 2)


def test_the_recipe_port_reproduces_syntod_statistics(recipe_walks: list) -> None:
    # SynTOD's TaskPathGenerator, seed 0, 4,000 walks, 4 steps per recipe: lengths (start and end
    # included) min 14, mean 22.0, max 41; 3,999 walks end task_complete -> end.
    lengths = [len(walk.steps) for walk in recipe_walks]
    assert abs(min(lengths) - 14) <= 1 and abs(max(lengths) - 41) <= 1
    assert abs(statistics.fmean(lengths) - 22.0) <= 1
    ended = Counter(walk.steps[-2].intent for walk in recipe_walks)
    assert abs(ended["task_complete"] - 3999) <= 1
    # Every recipe walk that completes the task went through the 4 steps.
    for walk in recipe_walks:
        if walk.steps[-2].intent == "task_complete":
            assert "no_more_steps" in walk.intents and walk.steps[-2].state["finished"] is True


def test_recipe_rules_fire(recipe_walks: list) -> None:
    intents = Counter(intent for walk in recipe_walks for intent in walk.intents)
    # more_results after two pages becomes select_i: never more than two result pages
    assert (
        max(walk.intents.count("show_results") + walk.intents.count("show_suggestions") for walk in recipe_walks) <= 3
    )
    assert all(walk.steps[i].state["pages"] <= 2 for walk in recipe_walks for i in range(len(walk.steps)))
    assert intents["in_task_system_response"] > 0 and intents["acknowledge_task"] > 0
    # relabelled nodes never appear under their node names
    assert intents["show_ingredients_begin"] == 0 and intents["system_response_begin"] == 0
    for walk in recipe_walks:
        for step in walk.steps:
            if step.node == "goto_step":
                assert 0 <= step.state["step"] < 4


GUARDED = {
    "name": "shop",
    "max_length": 12,
    "counters": {"cart": 0, "compare": 0},
    "rules": [
        {"nodes": ["shown_cart"], "set": {"cart": "cart + 1"}},
        {"nodes": ["shown_compare"], "set": {"compare": "compare + 1"}},
    ],
    "nodes": {
        "start": {"role": "system", "edges": {"add": 1.0, "add_compare": 1.0, "compare": 1.0, "buy": 1.0}},
        "hub": {"role": "system", "edges": {"add": 1.0, "add_compare": 1.0, "compare": 1.0, "buy": 1.0, "bye": 0.2}},
        "add": {"role": "user", "edges": {"shown_cart": 1.0}},
        "add_compare": {"role": "user", "edges": {"shown_compare": 1.0}},
        "compare": {"role": "user", "guard": "compare >= 2", "edges": {"hub": 1.0}},
        "buy": {"role": "user", "guard": "cart > 0", "edges": {"hub": 1.0}},
        "shown_cart": {
            "role": "system",
            "edges": {"add": 1.0, "add_compare": 1.0, "compare": 1.0, "buy": 1.0, "bye": 0.2},
        },
        "shown_compare": {
            "role": "system",
            "edges": {"add": 1.0, "add_compare": 1.0, "compare": 1.0, "buy": 1.0, "bye": 0.2},
        },
        "bye": {"role": "user", "edges": {"end": 1.0}},
    },
}


def test_guards_fire_on_a_small_graph(write_graph) -> None:
    graph = load_graph(write_graph(GUARDED))
    walks = [make_walk(graph, 3, i) for i in range(1000)]
    stats = WalkStats()
    for walk in walks:
        stats.add(walk)
        for before, step in zip(walk.steps, walk.steps[1:], strict=False):
            if step.node == "compare":
                assert before.state["compare"] >= 2  # comparing needs two items
            if step.node == "buy":
                assert before.state["cart"] >= 1  # buying needs a non-empty cart
    # From start nothing is in the cart or compared: the first user turn is always an add.
    assert Counter(walk.steps[1].node for walk in walks) == Counter({"add": 501, "add_compare": 499})
    assert stats.intents["compare"] == 377 and stats.intents["buy"] == 1003
    assert stats.summary()["length_max"] == 13 and stats.ended_by["bye"] == 278
