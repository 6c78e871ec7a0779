"""Random walks over a graph: dialogue skeletons, seeded and deterministic.

The walk follows SynTOD's ``TaskPathGenerator.generate_path`` (algoprog/SynTOD,
``src/data-generation/Recipe/path_generation.py``): from the current node (or the node whose edges
it borrows) pick an edge by relative weight among the nodes whose guard holds, apply the first rule
that fits the chosen node, and stop at ``end``, at a node without edges, or after ``max_length``
nodes; a walk that did not reach ``end`` gets it appended, so a walk has at most ``max_length + 1``
nodes (41 for SynTOD's 40).

Walk ``i`` of seed ``s`` draws from its own generator, ``random.Random(f"{s}/{i}")``, so a walk does
not depend on how many walks come before it.
"""

from __future__ import annotations

import random
import statistics
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from spec_tod.synth.graph import Graph, Scalar, evaluate


class Step(BaseModel):
    node: str
    intent: str
    role: str
    state: dict[str, Any]
    """The walk's state after this node was entered (counters and params)."""


class Walk(BaseModel):
    id: str
    seed: int
    index: int
    steps: list[Step]

    @property
    def intents(self) -> list[str]:
        return [step.intent for step in self.steps]


def walk_rng(seed: int, index: int) -> random.Random:
    return random.Random(f"{seed}/{index}")


def random_walk(graph: Graph, rng: random.Random, params: Mapping[str, Scalar] | None = None) -> list[Step]:
    """One walk from start, as a list of steps ending with ``end``."""
    state = graph.initial_state(params)
    node = graph.start
    steps = [_step(graph, node, state)]
    for _ in range(graph.spec.max_length - 1):
        if node == graph.end:
            break
        edges = [
            (target, weight)
            for target, weight in graph.nodes[_lender(graph, node, state, rng)].edges
            if target == graph.end or _holds(graph, target, state, rng)
        ]
        if not edges:
            break
        chosen = rng.choices([target for target, _ in edges], weights=[weight for _, weight in edges], k=1)[0]
        node = _apply_rules(graph, chosen, state, rng)
        steps.append(_step(graph, node, state))
    if node != graph.end:
        steps.append(_step(graph, graph.end, state))
    return steps


def make_walk(graph: Graph, seed: int, index: int, params: Mapping[str, Scalar] | None = None) -> Walk:
    return Walk(
        id=f"{graph.spec.name}-{seed}-{index:06d}",
        seed=seed,
        index=index,
        steps=random_walk(graph, walk_rng(seed, index), params),
    )


def _step(graph: Graph, node: str, state: dict[str, Any]) -> Step:
    return Step(node=node, intent=graph.label(node), role=graph.role(node), state=dict(state))


def _lender(graph: Graph, node: str, state: dict[str, Any], rng: random.Random) -> str:
    role = graph.role(node)
    for index, borrow in enumerate(graph.borrows):
        if borrow.applies(node, role) and (
            borrow.condition is None
            or evaluate(borrow.condition, state, rng.choice, f"{graph.source}: borrow[{index}]")
        ):
            return borrow.edges_of
    return node


def _holds(graph: Graph, node: str, state: dict[str, Any], rng: random.Random) -> bool:
    guard = graph.nodes[node].guard
    return guard is None or bool(evaluate(guard, state, rng.choice, f"{graph.source}: node {node!r}: guard"))


def _apply_rules(graph: Graph, chosen: str, state: dict[str, Any], rng: random.Random) -> str:
    if chosen == graph.end:
        return chosen
    role = graph.role(chosen)
    for rule in graph.rules:
        if not rule.applies(chosen, role):
            continue
        where = f"{graph.source}: rules[{rule.index}]"
        if rule.condition is not None and not evaluate(rule.condition, state, rng.choice, where):
            continue
        if rule.p is not None and rng.random() >= rule.p:
            continue
        values = {counter: evaluate(value, state, rng.choice, f"{where}: set {counter}") for counter, value in rule.set}
        state.update(values)
        return rng.choice(rule.goto) if len(rule.goto) > 1 else (rule.goto[0] if rule.goto else chosen)
    return chosen


@dataclass
class WalkStats:
    """Lengths (nodes, ``start`` and ``end`` included) and how walks ended (the node before ``end``)."""

    count: int = 0
    lengths: list[int] = field(default_factory=list)
    ended_by: Counter[str] = field(default_factory=Counter)
    intents: Counter[str] = field(default_factory=Counter)

    def add(self, walk: Walk) -> None:
        self.count += 1
        self.lengths.append(len(walk.steps))
        self.ended_by[walk.steps[-2].intent if len(walk.steps) > 1 else walk.steps[-1].intent] += 1
        self.intents.update(walk.intents[1:-1])

    def summary(self) -> dict[str, Any]:
        return {
            "walks": self.count,
            "length_min": min(self.lengths),
            "length_mean": round(statistics.fmean(self.lengths), 3),
            "length_max": max(self.lengths),
            "ended_by": dict(self.ended_by.most_common()),
        }
