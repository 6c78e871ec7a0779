"""The state-transition graph of a synthetic dialogue: its YAML format, loading and validation.

A graph (docs/synth.md) has system and user nodes; a user node is an intent, a system node a
system state. Walks start at ``start`` (a system node) and alternate roles along weighted edges
until they reach ``end`` (a name edges may point to, not a node) or ``max_length`` nodes. The
walk is a state machine as in SynTOD (algoprog/SynTOD, ``src/data-generation/Recipe/path_generation.py``):

* ``counters`` and ``params`` form the walk's state; ``params`` are constants, overridable per run
  and per seed item (``item_params``);
* ``guard`` on a node: it can be chosen only while the expression holds;
* ``borrow``: a system node takes another node's edges while a condition holds;
* ``rules``: after an edge is chosen, the first rule that applies to the chosen node fires: it
  updates counters (``set``) and may rewrite the node (``goto``), with a probability ``p``.

Expressions are jinja2 expressions over the state (``step == num_steps``, ``not selected``), with
``choice(list)`` drawing from the walk's random generator. Loading checks names, roles and, with
networkx, that every node is reachable from ``start`` and can reach ``end``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jinja2
import networkx as nx
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spec_tod.errors import SpecTodError
from spec_tod.parsing import load_yaml

Role = Literal["system", "user"]
Output = Literal["text", "variants", "json"]
Scalar = str | int | float | bool

_ENV = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
# Every evaluation copies the globals into a new context; with only `range` a walk costs a third less.
_ENV.globals.clear()
_ENV.globals["range"] = range


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SlotSpec(_Spec):
    """An argument of the function a user intent becomes."""

    name: str
    description: str = ""
    possible_values: list[str] | None = None
    value: str | None = None
    """jinja2 expression that fills the slot from the simulation (``selection``, ``state.step + 1``)
    instead of the LLM's JSON answer."""


class RetrieveSpec(_Spec):
    """Retrieval from the seed corpus for a system node, as SynTOD's ``show_results``."""

    query: str
    """jinja2 template of the query (sees ``item``, ``slots``, ``state``)."""
    limit: int = Field(20, ge=1)
    """Candidates retrieved; the seed (gold) item is removed from them."""
    show: int = Field(3, ge=1)
    """Items shown per page; when the next intent selects, ``show - 1`` others plus the gold item."""
    select_next: list[str] = []
    """Next intents that select an item: the gold item is shown at a random position, the ``selection`` label."""
    fields: list[str] = []
    """Item fields shown in prompts and observations (all when empty)."""


class NodeSpec(_Spec):
    role: Role
    description: str = ""
    prompt: str | None = None
    """jinja2 template of the LLM prompt for this turn; none: the node is silent (e.g. ``start``)."""
    output: Output = "text"
    """text: the answer is the turn; variants: one line picked; json: an object with ``text`` and the slots."""
    slots: list[SlotSpec] = []
    label: str | None = None
    """The intent written out for this node (default: its name)."""
    guard: str | None = None
    edges: dict[str, float] = {}
    include: dict[str, float] = {}
    """Edge groups added to ``edges``, each with a scale for its weights."""
    retrieve: RetrieveSpec | None = None
    call: bool = True
    """User nodes: false makes the turn's function message the no-call text."""
    temperature: float = Field(0.0, ge=0)
    max_tokens: int = Field(256, ge=1)


class RuleSpec(_Spec):
    nodes: list[str] = []
    roles: list[Role] = []
    except_: list[str] = Field([], alias="except")
    if_: str | None = Field(None, alias="if")
    p: float | None = Field(None, gt=0, le=1)
    goto: str | list[str] | None = None
    set: dict[str, Scalar] = {}


class BorrowSpec(_Spec):
    nodes: list[str] = []
    roles: list[Role] = []
    except_: list[str] = Field([], alias="except")
    if_: str | None = Field(None, alias="if")
    edges_of: str


class CorpusSpec(_Spec):
    id: str = "id"
    text: list[str]
    """Fields indexed for retrieval."""
    data_file: str | None = None
    """The default corpus file, relative to the data folder ($SPEC_TOD_DATA_DIR or ../shared/data)."""


class GraphSpec(_Spec):
    name: str
    description: str = ""
    instruction: str = "You are a helpful assistant."
    """The instruction of the converted records' system prompt (before the function block)."""
    start: str = "start"
    end: str = "end"
    max_length: int = Field(40, ge=2)
    corpus: CorpusSpec | None = None
    params: dict[str, Scalar] = {}
    item_params: dict[str, str] = {}
    counters: dict[str, Scalar] = {}
    groups: dict[str, dict[str, float]] = {}
    nodes: dict[str, NodeSpec]
    rules: list[RuleSpec] = []
    borrow: list[BorrowSpec] = []


Expression = Callable[..., Any]


@dataclass(frozen=True)
class Node:
    name: str
    role: Role
    label: str
    spec: NodeSpec
    guard: Expression | None
    edges: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Rule:
    index: int
    nodes: frozenset[str]
    roles: frozenset[str]
    excluded: frozenset[str]
    condition: Expression | None
    p: float | None
    goto: tuple[str, ...]
    set: tuple[tuple[str, Expression | Scalar], ...]

    def applies(self, node: str, role: str) -> bool:
        return (
            (not self.nodes or node in self.nodes)
            and (not self.roles or role in self.roles)
            and node not in self.excluded
        )


@dataclass(frozen=True)
class Borrow:
    nodes: frozenset[str]
    roles: frozenset[str]
    excluded: frozenset[str]
    condition: Expression | None
    edges_of: str

    def applies(self, node: str, role: str) -> bool:
        return (
            (not self.nodes or node in self.nodes)
            and (not self.roles or role in self.roles)
            and node not in self.excluded
        )


@dataclass(frozen=True)
class Graph:
    """A validated graph; ``source`` and ``sha256`` name the file it came from."""

    spec: GraphSpec
    nodes: dict[str, Node]
    rules: tuple[Rule, ...]
    borrows: tuple[Borrow, ...]
    item_params: dict[str, Expression]
    source: str
    sha256: str

    @property
    def start(self) -> str:
        return self.spec.start

    @property
    def end(self) -> str:
        return self.spec.end

    def role(self, node: str) -> str:
        return self.nodes[node].role if node in self.nodes else "end"

    def label(self, node: str) -> str:
        return self.nodes[node].label if node in self.nodes else node

    def initial_state(self, params: Mapping[str, Scalar] | None = None) -> dict[str, Any]:
        unknown = sorted(set(params or {}) - set(self.spec.params))
        if unknown:
            raise SpecTodError(
                f"{self.source}: unknown parameter(s) {unknown}: the graph's params are {sorted(self.spec.params)}"
            )
        return {**self.spec.params, **(params or {}), **self.spec.counters}

    def user_intents(self) -> list[str]:
        """User intents (labels) in the graph's order, each once."""
        return list(dict.fromkeys(n.label for n in self.nodes.values() if n.role == "user"))


def evaluate(
    expression: Expression | Scalar, state: Mapping[str, Any], choice: Callable[[Any], Any], where: str
) -> Any:
    """The value of a compiled expression (constants pass through); a SpecTodError names ``where``."""
    if not callable(expression):
        return expression
    try:
        return expression(**state, choice=choice)
    except (jinja2.TemplateError, TypeError, ValueError, IndexError) as error:
        raise SpecTodError(f"{where}: {type(error).__name__}: {error}") from None


def load_graph(path: str | Path) -> Graph:
    """Read, check and compile a graph YAML; errors are one line naming the file and the node or rule."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SpecTodError(f"{path}: cannot read the graph ({error.strerror})") from None
    try:
        raw = load_yaml(data)
    except yaml.YAMLError as error:
        raise SpecTodError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise SpecTodError(f"{path}: expected a mapping with name, nodes, ... (docs/synth.md)")
    try:
        spec = GraphSpec.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise SpecTodError(f"{path}: {where}: {first['msg']}") from None
    return compile_graph(spec, str(path), hashlib.sha256(data).hexdigest())


def compile_graph(spec: GraphSpec, source: str, sha256: str) -> Graph:
    """Check a parsed graph and compile its expressions."""

    def fail(message: str) -> SpecTodError:
        return SpecTodError(f"{source}: {message}")

    def expression(text: str, where: str) -> Expression:
        try:
            return _ENV.compile_expression(text, undefined_to_none=False)
        except jinja2.TemplateSyntaxError as error:
            raise fail(f"{where}: expression {text!r} does not parse ({error.message})") from None

    names = set(spec.nodes)
    if spec.end in names:
        raise fail(f"end {spec.end!r} must not be a node: it is where walks stop")
    if spec.start not in names or spec.nodes[spec.start].role != "system":
        raise fail(f"start {spec.start!r} must be a system node")
    state_names = set(spec.params) | set(spec.counters)
    for group_name, members in spec.groups.items():
        for target in members:
            if target not in names:
                raise fail(f"group {group_name!r}: unknown node {target!r}")

    nodes: dict[str, Node] = {}
    for name, node in spec.nodes.items():
        edges = dict(node.edges)
        for group, scale in node.include.items():
            if group not in spec.groups:
                raise fail(f"node {name!r}: unknown edge group {group!r}")
            for target, weight in spec.groups[group].items():
                edges[target] = edges.get(target, 0.0) + weight * scale
        for target, weight in edges.items():
            if target != spec.end and target not in names:
                raise fail(f"node {name!r}: edge to unknown node {target!r}")
            if weight <= 0:
                raise fail(f"node {name!r}: edge to {target!r} has weight {weight}, expected > 0")
            if target != spec.end and spec.nodes[target].role == node.role:
                raise fail(f"node {name!r}: {node.role}->{node.role} edge to {target!r}; roles must alternate")
        if node.retrieve is not None and node.role != "system":
            raise fail(f"node {name!r}: only system nodes retrieve")
        if node.output == "json" and node.prompt is None:
            raise fail(f"node {name!r}: output json needs a prompt")
        guard = expression(node.guard, f"node {name!r}: guard") if node.guard else None
        nodes[name] = Node(name, node.role, node.label or name, node, guard, tuple(edges.items()))

    rules = []
    for index, rule in enumerate(spec.rules):
        where = f"rules[{index}]"
        _check_names(rule.nodes + rule.except_ + _as_list(rule.goto), names, fail, where)
        for counter in rule.set:
            if counter not in spec.counters:
                raise fail(f"{where}: set {counter!r} is not a counter (counters: {sorted(spec.counters)})")
        targets = _as_list(rule.goto)
        roles = {spec.nodes[n].role for n in rule.nodes} | set(rule.roles) or {"system", "user"}
        for target in targets:
            if spec.nodes[target].role not in roles or len(roles) > 1:
                raise fail(
                    f"{where}: goto {target!r} ({spec.nodes[target].role}) must keep the role of the nodes it "
                    f"rewrites ({sorted(roles)})"
                )
        settings = tuple(
            (counter, expression(value, f"{where}: set {counter}") if isinstance(value, str) else value)
            for counter, value in rule.set.items()
        )
        condition = expression(rule.if_, f"{where}: if") if rule.if_ else None
        rules.append(
            Rule(
                index,
                frozenset(rule.nodes),
                frozenset(rule.roles),
                frozenset(rule.except_),
                condition,
                rule.p,
                tuple(targets),
                settings,
            )
        )

    borrows = []
    for index, borrow in enumerate(spec.borrow):
        where = f"borrow[{index}]"
        _check_names(borrow.nodes + borrow.except_ + [borrow.edges_of], names, fail, where)
        condition = expression(borrow.if_, f"{where}: if") if borrow.if_ else None
        borrows.append(
            Borrow(
                frozenset(borrow.nodes), frozenset(borrow.roles), frozenset(borrow.except_), condition, borrow.edges_of
            )
        )

    item_params = {}
    for name, text in spec.item_params.items():
        if name not in spec.params:
            raise fail(f"item_params: {name!r} is not a param (params: {sorted(spec.params)})")
        item_params[name] = expression(text, f"item_params.{name}")

    graph = Graph(spec, nodes, tuple(rules), tuple(borrows), item_params, source, sha256)
    _check_expressions(graph, state_names, fail)
    _check_reachability(graph, fail)
    return graph


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _check_names(used: list[str], names: set[str], fail: Callable[[str], SpecTodError], where: str) -> None:
    for name in used:
        if name not in names:
            raise fail(f"{where}: unknown node {name!r}")


def _check_expressions(graph: Graph, state_names: set[str], fail: Callable[[str], SpecTodError]) -> None:
    """Evaluate every expression once on the initial state, so a misspelt name fails at load, not mid-run."""
    state = graph.initial_state()

    def first(options: Any) -> Any:
        options = list(options)
        return options[0] if options else None

    checks: list[tuple[str, Expression | Scalar]] = []
    checks += [(f"node {n.name!r}: guard", n.guard) for n in graph.nodes.values() if n.guard]
    for rule in graph.rules:
        if rule.condition:
            checks.append((f"rules[{rule.index}]: if", rule.condition))
        checks += [(f"rules[{rule.index}]: set {counter}", value) for counter, value in rule.set]
    checks += [(f"borrow[{i}]: if", b.condition) for i, b in enumerate(graph.borrows) if b.condition]
    for where, check in checks:
        if check is not None:
            evaluate(check, state, first, f"{graph.source}: {where}")


def _check_reachability(graph: Graph, fail: Callable[[str], SpecTodError]) -> None:
    """Every node reachable from start and able to reach end, over edges, rewrites and borrowed edges."""
    g = nx.DiGraph()
    g.add_nodes_from([*graph.nodes, graph.end])
    for node in graph.nodes.values():
        g.add_edges_from((node.name, target) for target, _ in node.edges)
    for rule in graph.rules:
        for source in graph.nodes.values():
            if rule.applies(source.name, source.role):
                g.add_edges_from((source.name, target) for target in rule.goto)
    for borrow in graph.borrows:
        lender = graph.nodes[borrow.edges_of]
        for source in graph.nodes.values():
            if borrow.applies(source.name, source.role):
                g.add_edges_from((source.name, target) for target, _ in lender.edges)
    reachable = nx.descendants(g, graph.start) | {graph.start}
    unreachable = [name for name in graph.nodes if name not in reachable]
    if unreachable:
        raise fail(f"node {unreachable[0]!r} is unreachable from start {graph.start!r}")
    finishing = nx.ancestors(g, graph.end)
    stuck = [name for name in graph.nodes if name not in finishing]
    if stuck:
        raise fail(f"node {stuck[0]!r} cannot reach end {graph.end!r}")
