"""``spec-tod bench --mode response``: the plain response-LM task (:mod:`spec_tod.tasks.response`).

Each system turn is one call: the prompt is :func:`spec_tod.tasks.response.response_prompt` (gold
delexicalised history truncated from the left, the current user line, ``bot>``), the same text
the per-turn training record holds as its unlabelled segment, sent raw (no chat template) with the
end of turn (``"\\n"``) as stop string. Turns are independent, so they are scheduled one by one,
like DST turns. The run directory, checkpoints, resume, sharding and outputs are those of every
bench run (:mod:`spec_tod.bench.runner`): predictions hold the responses and no states, so the
scores' Inform, Success, BLEU and richness apply and DST does not.

The configuration's ``template`` names the layout and its context budget (``response-lm``, the
token limit and how tokens are counted), so a rerun with another budget is refused like any
other change.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from spec_tod.bench.client import CompletionClient, GenerationParams, RequestFailed
from spec_tod.bench.config import RunConfig, check_new_run_dir, dialogues_fingerprint, open_run_dir, text_fingerprint
from spec_tod.bench.loops import NO_DOMAIN
from spec_tod.bench.outputs import RunOutputs, finalize, missing_turns
from spec_tod.bench.rundir_lock import RunDirLock
from spec_tod.bench.runner import (
    DEFAULT_CONCURRENCY,
    BenchOptions,
    Inputs,
    Progress,
    _params,
    check_shard_complete,
    load_inputs,
)
from spec_tod.bench.scheduler import Unit, assign_shards, run_longest_first, worker_count
from spec_tod.bench.store import CallRecord, ShardWriter, TurnRecord, load_records, shard_path
from spec_tod.data.dialogue import Dialogue
from spec_tod.data.gc_pause import run_collections
from spec_tod.errors import SpecTodError
from spec_tod.interrupts import run_async
from spec_tod.tasks.length import TokenCounter
from spec_tod.tasks.response import STOP, ContextBudget, read_response, response_prompt

LAYOUT_NAME = "response-lm"


@dataclass(frozen=True)
class ResponseLayout:
    """The prompt layout of a response run: the context budget and how it is counted."""

    max_context_tokens: int | None = None
    tokenizer: Path | None = None

    def budget(self) -> ContextBudget:
        if self.max_context_tokens is None:
            return ContextBudget()
        return ContextBudget(self.max_context_tokens, TokenCounter(self.tokenizer).count_texts)

    def describe(self) -> str:
        """``response-lm`` plus the budget: the configuration's ``template``."""
        if self.max_context_tokens is None:
            return LAYOUT_NAME
        counted = "tokenizer" if self.tokenizer is not None else "estimated tokens"
        return f"{LAYOUT_NAME}, context <= {self.max_context_tokens} ({counted})"


def response_config(options: BenchOptions, inputs: Inputs, layout: ResponseLayout) -> RunConfig:
    description = layout.describe()
    return RunConfig(
        dataset=options.dataset,
        split=options.split,
        mode="response",
        limit_dialogues=options.limit_dialogues,
        dialogue_count=len(inputs.dialogues),
        dialogues_sha256=dialogues_fingerprint(inputs.dialogues),
        template=description,
        template_sha256=text_fingerprint(description, *STOP),
        served_model=options.served_model,
        seed=options.seed,
        dst=options.dst,
        response=options.response,
        shards=options.shards,
    )


def run_response_bench(
    options: BenchOptions,
    layout: ResponseLayout = ResponseLayout(),
    on_start: Callable[[int, int], Progress] | None = None,
) -> RunOutputs | None:
    """Run or continue a response run; its outputs once every shard is complete, else ``None``."""
    if options.dataset == "sgd":
        raise SpecTodError("--mode response needs delexicalised responses: --dataset multiwoz21 or multiwoz22")
    if options.shard is not None and not 0 <= options.shard < options.shards:
        raise SpecTodError(
            f"--shard {options.shard} is not a shard of --shards {options.shards}: expected 0..{options.shards - 1}"
        )
    if layout.max_context_tokens is not None and layout.tokenizer is None and options.model_dir is not None:
        layout = ResponseLayout(layout.max_context_tokens, options.model_dir)
    check_new_run_dir(options.run_dir)
    with RunDirLock(options.run_dir):  # before loading data: a second process is refused at once
        inputs = load_inputs(options.dataset, options.data_dir, options.split, options.limit_dialogues)
        config = response_config(options, inputs, layout)
        open_run_dir(options.run_dir, config)
        shard_of = assign_shards(inputs.dialogues, config.shards)
        selected = [d for d in inputs.dialogues if options.shard is None or shard_of[d.id] == options.shard]
        paths = [shard_path(options.run_dir, shard, config.shards) for shard in range(config.shards)]
        session = uuid.uuid4().hex
        written: dict[Path, list[TurnRecord]] = {}
        with run_collections():
            described = run_async(
                _run(options, config, layout.budget(), selected, shard_of, load_records(paths), session, on_start, written)
            )
        records = load_records(paths, written)
        if missing_turns(config, inputs.dialogues, records):
            check_shard_complete(options, config, selected, records)
            return None
        return finalize(options.run_dir, config, inputs.dialogues, records, database=inputs.database, session=described)


async def _run(
    options: BenchOptions,
    config: RunConfig,
    budget: ContextBudget,
    selected: list[Dialogue],
    shard_of: dict[str, int],
    records: dict[tuple[str, int], TurnRecord],
    session: str,
    on_start: Callable[[int, int], Progress] | None,
    written: dict[Path, list[TurnRecord]],
) -> dict:
    """Run the turns not done yet; ``written`` receives the records of each shard file written."""
    def client(concurrency: int) -> CompletionClient:
        return CompletionClient(
            options.endpoints,
            protocol=options.protocol,
            model=options.served_model,
            concurrency=concurrency,
            timeout_s=options.timeout_s,
            max_retries=options.max_retries,
            outage_budget_s=options.outage_budget_s,
        )

    concurrency = options.concurrency
    if concurrency is None:
        async with client(1) as probe:
            concurrency = await probe.advertised_concurrency() or DEFAULT_CONCURRENCY
    params = _params(config.response, STOP, config.seed)
    done_count = 0
    progress: list[Progress] = []
    async with client(concurrency) as http:
        server_info = await http.server_info()
        writers = {
            shard: ShardWriter(shard_path(options.run_dir, shard, config.shards), TurnRecord)
            for shard in sorted({shard_of[d.id] for d in selected})
        }
        written.update((writer.path, writer.records) for writer in writers.values())

        def unit(dialogue: Dialogue, turn: int) -> Unit:
            async def run() -> None:
                record = await _turn(http, params, dialogue, turn, budget, session)
                await writers[shard_of[dialogue.id]].append(record)
                for callback in progress:
                    callback(1)

            return Unit(1, run)

        units = []
        for dialogue in selected:
            for turn in range(len(dialogue.turns)):
                earlier = records.get((dialogue.id, turn))
                if earlier is None or earlier.status != "done":
                    units.append(unit(dialogue, turn))
                else:
                    done_count += 1
        if on_start is not None:
            progress.append(on_start(done_count + len(units), done_count))
        try:
            await run_longest_first(units, worker_count(concurrency, len(units)))
        finally:
            for writer in writers.values():
                await writer.close()
    return {
        "endpoints": options.endpoints,
        "protocol": options.protocol,
        "concurrency": concurrency,
        "shard": options.shard,
        "timeout_s": options.timeout_s,
        "max_retries": options.max_retries,
        "data_dir": str(options.data_dir),
        "model_dir": str(options.model_dir) if options.model_dir else None,
        "server_info": server_info,
    }


async def _turn(
    http: CompletionClient, params: GenerationParams, dialogue: Dialogue, turn: int, budget: ContextBudget, session: str
) -> TurnRecord:
    started = time.time()
    try:
        completion = await http.complete(response_prompt(dialogue, turn, budget), params)
    except RequestFailed as error:
        status = f"HTTP {error.last_status}" if error.last_status else "no answer"
        reason = f"request failed after {error.attempts} attempt(s): {status}: {error.last_error}"
        return TurnRecord(
            dialogue_id=dialogue.id,
            turn=turn,
            session=session,
            started_at=started,
            status="failed",
            error=reason,
            finished_at=time.time(),
        )
    response = read_response(completion.text)
    call = CallRecord(
        kind="response",
        text=completion.text,
        finish_reason=completion.finish_reason,
        prompt_tokens=completion.prompt_tokens,
        generated_tokens=completion.generated_tokens,
        latency_s=completion.latency_s,
        attempts=completion.attempts,
        endpoint=completion.endpoint,
    )
    return TurnRecord(
        dialogue_id=dialogue.id,
        turn=turn,
        session=session,
        started_at=started,
        status="done",
        domain=NO_DOMAIN,
        response=response,
        problems=[] if response else ["response: empty response"],
        calls=[call],
        finished_at=time.time(),
    )
