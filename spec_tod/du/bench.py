"""``spec-tod bench --mode du``: dialogue understanding against a served model, with the training retriever and prompts.

For every exemplar of the split, both views (:func:`spec_tod.du.instances.views`) go through the chosen
intent mode, and the positive view's slots through the chosen slot mode under the gold owner. Prompts are
rendered by bench's own renderer (chat template, role mapping, one BOS, context check) as one ``user``
message followed by the start of the ``assistant`` answer; answers are decoded greedily and,
with ``constrained="vllm"``, restricted by vLLM's ``guided_choice`` / ``guided_json`` request fields (vLLM
0.10's ``CompletionRequest``; its completions endpoint ignores a ``json_schema`` ``response_format``). Other
servers (``transformers serve`` answers 422 to unknown fields) run unconstrained.

Outputs in ``run_dir``: ``predictions.jsonl`` (one row per item and view), ``scores.json`` and ``report.md``;
when requests failed, ``predictions.incomplete.jsonl`` and a report that says so, without scores.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from spec_tod.bench.availability import DEFAULT_OUTAGE_BUDGET_S
from spec_tod.bench.client import CompletionClient, GenerationParams, RequestFailed
from spec_tod.bench.loops import PromptTooLong
from spec_tod.bench.render import PromptRenderer, model_context, tokenizer_encoder
from spec_tod.bench.rundir_lock import RunDirLock
from spec_tod.chat.template import load_chat_template
from spec_tod.du import prompts
from spec_tod.du.exemplars import AnnotatedExemplar, split_exemplars
from spec_tod.du.index import ExemplarIndex, Retriever, retriever_for
from spec_tod.du.inference import (
    Guide,
    IntentMode,
    SlotMode,
    predict_intent,
    predict_slots,
)
from spec_tod.du.instances import views
from spec_tod.du.scores import Row, du_scores
from spec_tod.errors import SpecTodError
from spec_tod.fileio import atomic_group
from spec_tod.interrupts import run_async
from spec_tod.tasks.writers import write_lines

Constrained = Literal["none", "vllm"]
CONSTRAINED: tuple[Constrained, ...] = ("none", "vllm")


@dataclass(frozen=True)
class DuBenchOptions:
    endpoints: list[str]
    run_dir: Path
    data_dir: Path
    dataset: str
    split: str
    index: Path
    model_dir: Path | None = None
    template: str | None = None
    served_model: str | None = None
    protocol: str = "openai"
    intent_mode: IntentMode = "knn"
    slot_mode: SlotMode = "one"
    constrained: Constrained = "none"
    limit: int | None = None
    concurrency: int = 16
    max_new_tokens: int = 48
    timeout_s: float = 120.0
    max_retries: int = 5
    outage_budget_s: float = DEFAULT_OUTAGE_BUDGET_S


@dataclass(frozen=True)
class DuBenchResult:
    scores: dict[str, Any] | None  # None when requests failed: no scores are written
    rows: int
    failed: int
    first_failure: str | None
    run_dir: Path
    seconds: float


def guide_body(guide: Guide, constrained: Constrained) -> dict[str, Any] | None:
    """The request fields that constrain an answer on the given server kind."""
    if constrained != "vllm":
        return None
    if guide.choices is not None:
        return {"guided_choice": guide.choices}
    if guide.json_schema is not None:
        return {"guided_json": guide.json_schema}
    return None


class ServerAsker:
    """``ask(prompt, guide)`` through the chat template and the completion client; counts failures."""

    def __init__(self, client: CompletionClient, renderer: PromptRenderer, options: DuBenchOptions) -> None:
        self.client = client
        self.renderer = renderer
        self.options = options
        self.failures: list[str] = []

    async def __call__(self, prompt: str, guide: Guide) -> str:
        params = GenerationParams(
            max_new_tokens=self.options.max_new_tokens,
            stop=self.renderer.template.stop_strings,
            extra_body=guide_body(guide, self.options.constrained),
        )
        try:
            text = self.renderer(prompts.chat_prompt(prompt), params.max_new_tokens)
            return (await self.client.complete(text, params)).text
        except (RequestFailed, PromptTooLong) as failure:
            self.failures.append(str(failure))
            return ""


async def _rows(
    item: AnnotatedExemplar, retriever: Retriever, ask: ServerAsker, options: DuBenchOptions, seen: bool
) -> list[Row]:
    rows = []
    for name, view in zip(("positive", "negative"), views(item, retriever), strict=True):
        intent = await predict_intent(options.intent_mode, item.utterance, view, ask)
        slots, unreadable = None, intent.unreadable
        skill = retriever.skills.get(item.owner)
        if name == "positive" and options.slot_mode != "none" and skill is not None and skill.extractive_slots:
            slots, bad = await predict_slots(options.slot_mode, item, skill, ask)
            unreadable += bad
        rows.append(
            Row(
                item.id,
                name,
                view.gold,
                intent.owner,
                seen,
                item.arguments if name == "positive" else {},
                slots,
                unreadable,
            )
        )
    return rows


async def _run(
    options: DuBenchOptions, items: list[AnnotatedExemplar], retriever: Retriever, renderer: PromptRenderer
) -> tuple[list[Row], list[str]]:
    owners_elsewhere: dict[str, set[str]] = {}
    for exemplar in retriever.index.exemplars:
        owners_elsewhere.setdefault(exemplar.owner, set()).add(exemplar.id)
    async with CompletionClient(
        options.endpoints,
        protocol=options.protocol,  # type: ignore[arg-type]
        model=options.served_model,
        concurrency=options.concurrency,
        timeout_s=options.timeout_s,
        max_retries=options.max_retries,
        outage_budget_s=options.outage_budget_s,
        rng_seed=0,
    ) as client:
        ask = ServerAsker(client, renderer, options)
        results = await asyncio.gather(
            *(
                _rows(item, retriever, ask, options, bool(owners_elsewhere.get(item.owner, set()) - {item.id}))
                for item in items
            )
        )
    return [row for rows in results for row in rows], ask.failures


def run_du_bench(options: DuBenchOptions) -> DuBenchResult:
    started = time.perf_counter()
    if options.model_dir is None and options.template is None:
        raise SpecTodError("bench --mode du needs --model-dir (the served model's chat template) or --template")
    run_dir = Path(options.run_dir)
    with RunDirLock(run_dir):  # one writer: a second run into the same folder is refused at once
        template = load_chat_template(options.model_dir if options.model_dir is not None else str(options.template))
        items_set, _ = split_exemplars(options.dataset, options.data_dir, options.split)
        items = items_set.exemplars[: options.limit] if options.limit else items_set.exemplars
        retriever = retriever_for(ExemplarIndex.load(options.index), items_set.skills)
        encode = tokenizer_encoder(options.model_dir) if options.model_dir is not None else None
        renderer = PromptRenderer(template, encode, model_context(options.model_dir))
        rows, failures = run_async(_run(options, items, retriever, renderer))
        settings = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()}
        lines = (json.dumps(asdict(row), ensure_ascii=False) for row in rows)
        # A failed request reads as an unreadable answer: scores over such rows would understate the model,
        # so an incomplete run keeps its predictions under another name and writes no scores.
        scores = None if failures else du_scores(rows)
        with atomic_group() as group:  # predictions, scores and report appear together or not at all
            if scores is None:
                write_lines(run_dir / "predictions.incomplete.jsonl", lines, group)
                group.remove(run_dir / "predictions.jsonl")
                group.remove(run_dir / "scores.json")
                group.write_text(run_dir / "report.md", incomplete_report(options, len(items), failures))
            else:
                write_lines(run_dir / "predictions.jsonl", lines, group)
                group.remove(run_dir / "predictions.incomplete.jsonl")
                group.write_json(run_dir / "scores.json", {"settings": settings, "failed_requests": 0, "scores": scores})
                group.write_text(run_dir / "report.md", report(scores, options, len(items), 0))
        return DuBenchResult(
            scores, len(rows), len(failures), failures[0] if failures else None, run_dir, time.perf_counter() - started
        )


def incomplete_report(options: DuBenchOptions, items: int, failures: list[str]) -> str:
    return (
        f"# spec-tod bench --mode du: {options.dataset} {options.split} (incomplete)\n\n"
        f"{items} items x 2 views; {len(failures)} requests failed (first: {failures[0]}). "
        "No scores: the answers of failed requests are missing. "
        "The rows are in predictions.incomplete.jsonl; rerun the same command once the server answers.\n"
    )


def report(scores: dict[str, Any], options: DuBenchOptions, items: int, failed: int) -> str:
    lines = [
        f"# spec-tod bench --mode du: {options.dataset} {options.split}",
        "",
        f"{items} items x 2 views; intent mode `{options.intent_mode}`, slot mode `{options.slot_mode}`, "
        f"constrained decoding `{options.constrained}`; {failed} failed requests.",
        "",
        "| group | rows | intent acc. | macro F1 | none P | none R | slot P | slot R | slot F1 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, group in (("all", scores), ("seen", scores["seen"]), ("unseen", scores["unseen"])):
        if group is None:
            lines.append(f"| {name} | 0 | | | | | | | |")
            continue
        intent, slots = group["intent"], group["slots"] or {}
        cells = [
            intent["accuracy"],
            intent["macro_f1"],
            intent["none"]["precision"],
            intent["none"]["recall"],
            slots.get("precision"),
            slots.get("recall"),
            slots.get("f1"),
        ]
        shown = " | ".join("" if value is None else f"{100 * value:.1f}" for value in cells)
        lines.append(f"| {name} | {intent['rows']} | {shown} |")
    return "\n".join(lines) + "\n"
