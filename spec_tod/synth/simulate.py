"""Simulating dialogues: one LLM call per turn along a walk, through the bench client.

Dialogue ``i`` of a run takes seed item ``i`` of a seeded permutation of the corpus and walk ``i``
of the seed (:mod:`spec_tod.synth.walk`, with the item's ``item_params``); its turns run in order
(each prompt sees the previous turns), dialogues run side by side, and the client keeps at most
``concurrency`` requests in flight with its retries. Every random choice of turn ``t`` (variant,
gold position) comes from ``random.Random(f"{seed}/{i}/{t}")``, so a turn does not depend on the
order in which turns finish.

The run folder holds ``settings.json`` (what makes the run; a rerun with other settings is refused),
``turns.jsonl`` (one line per finished turn: its text, slots, results and every prompt and answer,
appended and synced as turns end, so a killed run loses at most the turns in flight) and, at the
end, ``dialogues.jsonl``. Rerunning the command continues from the recorded turns and retries
failed ones; with a deterministic server the output is the same bytes as an uninterrupted run.

Retrieval follows SynTOD's ``show_results`` (``src/data-generation/Recipe/datagen.py``): ``limit``
candidates without the seed item, each page starting after the candidates already shown (SynTOD
sliced pages of 2 and 3 by the page number, so a page could repeat an item); when the next intent
selects, ``show - 1`` candidates with the seed item at a random position, which becomes the
``selection`` value the selecting user turn is labelled with.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, ConfigDict

from spec_tod.bench.availability import DEFAULT_OUTAGE_BUDGET_S
from spec_tod.bench.client import CompletionClient, GenerationParams, RequestFailed
from spec_tod.bench.loops import PromptTooLong
from spec_tod.bench.render import PromptRenderer, model_context, tokenizer_encoder
from spec_tod.bench.rundir_lock import RunDirLock
from spec_tod.bench.store import ShardWriter, read_intact
from spec_tod.chat.template import load_chat_template
from spec_tod.errors import SpecTodError
from spec_tod.fileio import atomic_open, write_json
from spec_tod.interrupts import run_async
from spec_tod.synth.answers import json_object, repair_prompt, text_answer, variants
from spec_tod.synth.graph import Graph, NodeSpec, RetrieveSpec, Scalar, evaluate
from spec_tod.synth.retrieve import Corpus, Retriever, make_retriever
from spec_tod.synth.walk import Walk, make_walk

SETTINGS_FILE = "settings.json"
TURNS_FILE = "turns.jsonl"
DIALOGUES_FILE = "dialogues.jsonl"

_PROMPTS = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False)


class RunSettings(BaseModel):
    """What makes a run's output; endpoints and concurrency may change between reruns."""

    model_config = ConfigDict(extra="forbid")

    graph: str
    graph_sha256: str
    corpus: str
    corpus_sha256: str
    count: int
    seed: int
    params: dict[str, Scalar]
    chat_template: str | None
    model: str | None
    embedding_model: str | None
    max_tokens: int | None = None


class CallLog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: Literal["turn", "repair"]
    prompt: str
    answer: str
    finish_reason: str | None = None
    latency_s: float = 0.0
    attempts: int = 1


class TurnLog(BaseModel):
    """One finished turn of one dialogue: a line of ``turns.jsonl``."""

    model_config = ConfigDict(extra="forbid")

    dialogue: str
    turn: int
    node: str
    intent: str
    role: str
    status: Literal["done", "failed"]
    text: str = ""
    slots: dict[str, Any] = {}
    results: list[dict[str, Any]] | None = None
    selection: int | None = None
    calls: list[CallLog] = []
    error: str | None = None


class Turn(BaseModel):
    role: str
    intent: str
    node: str
    text: str
    slots: dict[str, Any] = {}
    results: list[dict[str, Any]] | None = None
    selection: int | None = None


class Dialogue(BaseModel):
    """One simulated dialogue: a line of ``dialogues.jsonl``."""

    id: str
    item_id: str
    status: Literal["complete", "failed"]
    walk: list[str]
    turns: list[Turn]


@dataclass(frozen=True)
class SimulateOptions:
    graph: Graph
    corpus: Corpus
    run_dir: Path
    endpoints: list[str]
    count: int
    seed: int = 0
    params: dict[str, Scalar] = field(default_factory=dict)
    chat_template: str | None = None
    model: str | None = None
    embedding_model: Path | None = None
    concurrency: int = 64
    timeout_s: float = 120.0
    max_retries: int = 5
    outage_budget_s: float = DEFAULT_OUTAGE_BUDGET_S
    max_tokens: int | None = None
    """Caps every node's ``max_tokens``."""


@dataclass
class Summary:
    dialogues: int = 0
    complete: int = 0
    failed: int = 0
    turns_run: int = 0
    turns_reused: int = 0
    calls: int = 0
    repairs: int = 0
    failed_turns: int = 0
    seconds: float = 0.0

    @property
    def turns_per_s(self) -> float:
        return self.turns_run / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Context:
    """What a dialogue's prompts see besides the item and the walk state."""

    history: list[tuple[str, str]] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)
    selection: int | None = None
    offset: int = 0
    """Candidates shown so far (the seed item excluded): the next page starts there."""

    def apply(self, log: TurnLog) -> None:
        if log.text:
            self.history.append((log.role, log.text))
        if log.role == "user":
            self.slots.update(log.slots)
        if log.results is not None:
            self.results = log.results
            self.selection = log.selection
            self.offset += len(log.results) - (log.selection is not None)

    def last(self, role: str) -> str:
        return next((text for who, text in reversed(self.history) if who == role), "")


def item_order(corpus: Corpus, seed: int) -> list[int]:
    """The seed items in the order dialogues take them (dialogue ``i`` takes entry ``i mod n``)."""
    order = list(range(len(corpus.items)))
    random.Random(f"{seed}/items").shuffle(order)
    return order


def dialogue_walk(options: SimulateOptions, index: int) -> tuple[int, Walk]:
    """The seed item (its index) and the walk of dialogue ``index``."""
    order = item_order(options.corpus, options.seed)
    item_index = order[index % len(order)]
    item = options.corpus.items[item_index]
    params = dict(options.params)
    for name, expression in options.graph.item_params.items():
        if name not in options.params:
            params[name] = evaluate(
                expression, {"item": item}, random.Random(0).choice, f"{options.graph.source}: item_params.{name}"
            )
    return item_index, make_walk(options.graph, options.seed, index, params)


class Simulator:
    def __init__(self, options: SimulateOptions, client: CompletionClient, renderer: PromptRenderer | None) -> None:
        self.options = options
        self.graph = options.graph
        self.corpus = options.corpus
        self.client = client
        self.renderer = renderer
        self.stops = renderer.template.stop_strings if renderer is not None else ()
        self.retriever: Retriever | None = None
        self.summary = Summary()
        self.logs: dict[str, dict[int, TurnLog]] = {}
        self._templates: dict[str, jinja2.Template] = {}
        self._writer: ShardWriter[TurnLog] | None = None

    async def run(self, on_dialogue: Callable[[Dialogue], None] | None = None) -> list[Dialogue]:
        if any(node.spec.retrieve for node in self.graph.nodes.values()):
            self.retriever = make_retriever(self.corpus, self.options.embedding_model)
        for log in read_intact(self.options.run_dir / TURNS_FILE, TurnLog):
            self.logs.setdefault(log.dialogue, {})[log.turn] = log
        self._writer = ShardWriter(self.options.run_dir / TURNS_FILE, TurnLog)
        start = time.perf_counter()
        try:
            tasks = [asyncio.ensure_future(self._dialogue(index)) for index in range(self.options.count)]
            for task in asyncio.as_completed(tasks):
                dialogue = await task
                if on_dialogue is not None:
                    on_dialogue(dialogue)
            dialogues = [task.result() for task in tasks]
        finally:
            await self._writer.close()
        self.summary.seconds = time.perf_counter() - start
        self.summary.dialogues = len(dialogues)
        self.summary.complete = sum(d.status == "complete" for d in dialogues)
        self.summary.failed = self.summary.dialogues - self.summary.complete
        return dialogues

    async def _dialogue(self, index: int) -> Dialogue:
        item_index, walk = dialogue_walk(self.options, index)
        recorded = self.logs.get(walk.id, {})
        context = _Context()
        turns: list[Turn] = []
        status: Literal["complete", "failed"] = "complete"
        for t in range(len(walk.steps) - 1):  # the last step is end
            log = recorded.get(t)
            if log is not None and log.status == "done" and log.node == walk.steps[t].node:
                self.summary.turns_reused += 1
            else:
                log = await self._turn(walk, t, index, item_index, context)
                assert self._writer is not None
                await self._writer.append(log)
                self.summary.turns_run += 1
            if log.status == "failed":
                self.summary.failed_turns += 1
                status = "failed"
                break
            context.apply(log)
            turns.append(
                Turn(
                    role=log.role,
                    intent=log.intent,
                    node=log.node,
                    text=log.text,
                    slots=log.slots,
                    results=log.results,
                    selection=log.selection,
                )
            )
        return Dialogue(id=walk.id, item_id=self.corpus.ids[item_index], status=status, walk=walk.intents, turns=turns)

    async def _turn(self, walk: Walk, t: int, index: int, item_index: int, context: _Context) -> TurnLog:
        step = walk.steps[t]
        spec = self.graph.nodes[step.node].spec
        rng = random.Random(f"{self.options.seed}/{index}/{t}")
        item = self.corpus.items[item_index]
        log = TurnLog(dialogue=walk.id, turn=t, node=step.node, intent=step.intent, role=step.role, status="done")
        results, selection = context.results, context.selection
        variables: dict[str, Any] = {
            "item": item,
            "state": step.state,
            "slots": context.slots,
            "intent": step.intent,
            "history": context.history,
            "last_user": context.last("user"),
            "last_system": context.last("system"),
        }
        try:
            if spec.retrieve is not None:
                results, selection = self._retrieve(
                    spec.retrieve, variables, item_index, walk.steps[t + 1].node, context.offset, rng
                )
                log.results, log.selection = results, selection
            variables.update(results=results, selection=selection)
            if spec.prompt is not None:
                answer = await self._call(log, "turn", self._render(step.node, spec, variables), spec, index, t)
                slots_answer = await self._read_answer(log, answer, spec, rng, index, t)
                for slot in spec.slots:
                    if slot.value is None and slots_answer.get(slot.name) not in (None, ""):
                        log.slots[slot.name] = slots_answer[slot.name]
            for slot in spec.slots:
                if slot.value is not None:
                    value = evaluate(
                        _expression(slot.value),
                        variables,
                        rng.choice,
                        f"{self.graph.source}: node {step.node!r}: slot {slot.name}",
                    )
                    if value is not None:
                        log.slots[slot.name] = value
        except _TurnFailed as failure:
            log.status, log.error = "failed", str(failure)
        except RequestFailed as failure:
            log.status, log.error = "failed", str(failure)
        return log

    def _retrieve(
        self, spec: RetrieveSpec, variables: dict[str, Any], gold: int, next_node: str, offset: int, rng: random.Random
    ) -> tuple[list[dict[str, Any]], int | None]:
        assert self.retriever is not None
        query = self._render_text(spec.query, variables, "retrieve.query")
        candidates = [i for i in self.retriever.search(query, spec.limit) if i != gold]
        if next_node in spec.select_next:
            shown = candidates[offset : offset + spec.show - 1]
            position = rng.randint(0, len(shown))
            shown.insert(position, gold)
            selection: int | None = position + 1
        else:
            shown = candidates[offset : offset + spec.show]
            selection = None
        return [self._shown(i, spec.fields) for i in shown], selection

    def _shown(self, index: int, fields: list[str]) -> dict[str, Any]:
        item = self.corpus.items[index]
        id_field = self.graph.spec.corpus.id if self.graph.spec.corpus else "id"
        if not fields:
            return dict(item)
        return {id_field: item[id_field], **{name: item[name] for name in fields if name in item}}

    def _render(self, node: str, spec: NodeSpec, variables: dict[str, Any]) -> str:
        template = self._templates.get(node)
        if template is None:
            template = self._templates[node] = _compile(
                spec.prompt or "", f"{self.graph.source}: node {node!r}: prompt"
            )
        return _render(template, variables, f"{self.graph.source}: node {node!r}: prompt")

    def _render_text(self, text: str, variables: dict[str, Any], where: str) -> str:
        return _render(_compile(text, f"{self.graph.source}: {where}"), variables, f"{self.graph.source}: {where}")

    async def _call(
        self, log: TurnLog, purpose: Literal["turn", "repair"], prompt: str, spec: NodeSpec, index: int, t: int
    ) -> str:
        try:
            text = self.renderer(([("user", prompt)], "assistant"), self._max_tokens(spec)) if self.renderer else prompt
        except PromptTooLong as error:
            raise _TurnFailed(str(error)) from None
        seed = None
        if spec.temperature > 0:
            digest = hashlib.sha256(f"{self.options.seed}/{index}/{t}/{purpose}".encode()).digest()
            seed = int.from_bytes(digest[:4], "big") >> 1
        params = GenerationParams(
            max_new_tokens=self._max_tokens(spec), temperature=spec.temperature, stop=self.stops, seed=seed
        )
        completion = await self.client.complete(text, params)
        self.summary.calls += 1
        log.calls.append(
            CallLog(
                purpose=purpose,
                prompt=text,
                answer=completion.text,
                finish_reason=completion.finish_reason,
                latency_s=round(completion.latency_s, 4),
                attempts=completion.attempts,
            )
        )
        return completion.text

    def _max_tokens(self, spec: NodeSpec) -> int:
        cap = self.options.max_tokens
        return min(spec.max_tokens, cap) if cap else spec.max_tokens

    async def _read_answer(
        self, log: TurnLog, answer: str, spec: NodeSpec, rng: random.Random, index: int, t: int
    ) -> dict[str, Any]:
        if spec.output == "text":
            log.text = text_answer(answer)
        elif spec.output == "variants":
            options = variants(answer)
            if not options:
                raise _TurnFailed("the answer has no usable line")
            log.text = rng.choice(options)
        else:
            value = json_object(answer)
            if value is None:
                self.summary.repairs += 1
                names = [slot.name for slot in spec.slots if slot.value is None]
                repaired = await self._call(log, "repair", repair_prompt(answer, names), spec, index, t)
                value = json_object(repaired)
                if value is None:
                    raise _TurnFailed("the answer is not a JSON object with a text, even after the repair call")
            log.text = text_answer(value["text"])
            return value
        if not log.text:
            raise _TurnFailed("the answer is empty once preamble lines are removed")
        return {}


class _TurnFailed(Exception):
    pass


def _expression(text: str) -> Any:
    return _PROMPTS.compile_expression(text, undefined_to_none=False)


def _compile(text: str, where: str) -> jinja2.Template:
    try:
        return _PROMPTS.from_string(text)
    except jinja2.TemplateSyntaxError as error:
        raise SpecTodError(f"{where}: template does not parse ({error.message}, line {error.lineno})") from None


def _render(template: jinja2.Template, variables: dict[str, Any], where: str) -> str:
    try:
        return template.render(**variables).strip()
    except jinja2.TemplateError as error:
        raise SpecTodError(f"{where}: {type(error).__name__}: {error}") from None


def settings_of(options: SimulateOptions) -> RunSettings:
    return RunSettings(
        graph=options.graph.source,
        graph_sha256=options.graph.sha256,
        corpus=options.corpus.source,
        corpus_sha256=options.corpus.sha256,
        count=options.count,
        seed=options.seed,
        params=options.params,
        chat_template=options.chat_template,
        model=options.model,
        embedding_model=str(options.embedding_model) if options.embedding_model else None,
        max_tokens=options.max_tokens,
    )


def check_run_dir(options: SimulateOptions) -> None:
    """Write the run's settings, or refuse a run folder made with other ones."""
    path = options.run_dir / SETTINGS_FILE
    settings = settings_of(options)
    if path.is_file():
        try:
            previous = RunSettings.model_validate_json(path.read_bytes())
        except ValueError:
            raise SpecTodError(f"{path}: not a spec-tod synth settings file; pass a new --run-dir") from None
        ours, theirs = (
            settings.model_dump(exclude={"graph", "corpus"}),
            previous.model_dump(exclude={"graph", "corpus"}),
        )
        if ours != theirs:
            changed = sorted(key for key in ours if ours[key] != theirs[key])
            raise SpecTodError(
                f"{options.run_dir}: this run was made with other settings ({', '.join(changed)} differ); "
                "rerun with the same ones to continue it, or pass a new --run-dir"
            )
    else:
        write_json(path, settings.model_dump(mode="json"))


async def _simulate(
    options: SimulateOptions, on_dialogue: Callable[[Dialogue], None] | None
) -> tuple[list[Dialogue], Summary]:
    renderer = None
    if options.chat_template:
        # The bench's renderer: one BOS and the context check when the template comes from a model folder.
        folder = Path(options.chat_template) if Path(options.chat_template).is_dir() else None
        renderer = PromptRenderer(
            load_chat_template(options.chat_template),
            tokenizer_encoder(folder) if folder else None,
            model_context(folder),
        )
    async with CompletionClient(
        options.endpoints,
        model=options.model,
        concurrency=options.concurrency,
        timeout_s=options.timeout_s,
        max_retries=options.max_retries,
        outage_budget_s=options.outage_budget_s,
        rng_seed=options.seed,
    ) as client:
        simulator = Simulator(options, client, renderer)
        dialogues = await simulator.run(on_dialogue)
    return dialogues, simulator.summary


def simulate(options: SimulateOptions, on_dialogue: Callable[[Dialogue], None] | None = None) -> Summary:
    """Run (or continue) a simulation; writes ``dialogues.jsonl`` in dialogue order at the end."""
    if options.count < 1:
        raise SpecTodError(f"--count {options.count}: expected at least 1 dialogue")
    with RunDirLock(options.run_dir):  # one writer: a second simulation into the same folder is refused at once
        check_run_dir(options)
        dialogues, summary = run_async(_simulate(options, on_dialogue))
        with atomic_open(options.run_dir / DIALOGUES_FILE) as handle:
            for dialogue in dialogues:
                handle.write(json.dumps(dialogue.model_dump(mode="json"), ensure_ascii=False) + "\n")
    return summary


def read_dialogues(path: Path) -> list[Dialogue]:
    """The dialogues of a ``dialogues.jsonl`` (or of the run folder holding one)."""
    if path.is_dir():
        path = path / DIALOGUES_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise SpecTodError(f"{path}: cannot read the simulated dialogues ({error.strerror})") from None
    dialogues = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                dialogues.append(Dialogue.model_validate_json(line))
            except ValueError:
                raise SpecTodError(
                    f"{path}: line {number} is not a simulated dialogue (spec-tod synth simulate output)"
                ) from None
    return dialogues
