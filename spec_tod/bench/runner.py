"""``spec-tod bench``: run (or continue) a benchmark in a run directory, and merge shard run directories.

A run directory holds ``config.json`` (:mod:`spec_tod.bench.config`), the shard checkpoints
(:mod:`spec_tod.bench.store`) and, once every turn of every shard is accounted for, the outputs
(:mod:`spec_tod.bench.outputs`). Running the same command again skips the turns already done,
retries the failed ones and continues the dialogues they stopped. ``--shard I`` runs one shard only:
on several machines each runs its shard into its own run directory (same configuration) and
:func:`merge_runs` combines them.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, lru_cache, partial
from pathlib import Path
from typing import Literal, TypeGuard, get_args

from spec_tod.bench.arrivals import ArrivalSchedule
from spec_tod.bench.availability import DEFAULT_OUTAGE_BUDGET_S
from spec_tod.bench.chat_roles import chat_renderer, chat_role_map
from spec_tod.bench.client import CompletionClient, GenerationParams
from spec_tod.bench.config import (
    CallSettings,
    RunConfig,
    check_new_run_dir,
    config_differences,
    dialogues_fingerprint,
    open_run_dir,
    read_config,
    text_fingerprint,
)
from spec_tod.bench.loops import Render, StateTracker, TurnRunner, history_turn
from spec_tod.bench.metrics import DEFAULT_STREAM_PERCENTILES
from spec_tod.bench.outputs import (
    SCORED_DATASETS,
    SERVER_INFO_FILE,
    RunOutputs,
    finalize,
    missing_turns,
    turn_statuses,
)
from spec_tod.bench.prompts import DialoguePrompts, dialogue_prompts
from spec_tod.bench.protocols import ProtocolName
from spec_tod.bench.render import PromptRenderer, model_context, server_context, tokenizer_encoder
from spec_tod.bench.rundir_lock import RunDirLock
from spec_tod.bench.scheduler import Unit, assign_shards, run_longest_first, worker_count
from spec_tod.bench.store import ShardWriter, TurnRecord, load_records, shard_path, write_records
from spec_tod.chat.template import ChatTemplate, load_chat_template
from spec_tod.data.database import VenueDatabase
from spec_tod.data.dialogue import Dialogue
from spec_tod.data.gc_pause import run_collections
from spec_tod.data.readers import find_db_dir, find_schema, load_database, load_dialogues
from spec_tod.data.schema import Service, load_schema
from spec_tod.errors import SpecTodError
from spec_tod.fileio import write_json
from spec_tod.interrupts import run_async
from spec_tod.provenance import provenance
from spec_tod.score.prepared import PreparedScorer

DEFAULT_CONCURRENCY = 64
"""Requests in flight when neither ``--concurrency`` nor the server (``/info``) says."""

Progress = Callable[[int], None]
"""Called with the number of turns just accounted for (done, failed, or skipped after a failure)."""


BenchMode = Literal["e2e", "dst", "response"]


def is_bench_mode(value: str) -> TypeGuard[BenchMode]:
    """Whether ``value`` (from the command line) is a mode :func:`run_bench` or the response bench runs."""
    return value in get_args(BenchMode)


@dataclass
class BenchOptions:
    """What ``spec-tod bench`` was asked to do: the configuration's inputs and how to reach the servers."""

    endpoints: list[str]
    run_dir: Path
    data_dir: Path
    dataset: str = "multiwoz21"
    split: str = "test"
    mode: BenchMode = "e2e"
    model_dir: Path | None = None
    template: str | None = None
    served_model: str | None = None
    protocol: ProtocolName = "openai"
    shards: int = 1
    shard: int | None = None
    concurrency: int | None = None
    limit_dialogues: int | None = None
    seed: int = 42
    max_model_len: int | None = None
    """The server's context in tokens; ``None``: from the server (TGI ``/info``), else the model's config."""
    dst: CallSettings = field(default_factory=lambda: CallSettings(max_new_tokens=128))
    response: CallSettings = field(default_factory=lambda: CallSettings(max_new_tokens=192))
    timeout_s: float = 120.0
    max_retries: int = 5
    outage_budget_s: float = DEFAULT_OUTAGE_BUDGET_S
    chat_roles: str = "auto"
    """``--protocol chat``: the role map of :mod:`spec_tod.bench.chat_roles`."""
    stream: bool = False
    request_rate: float | None = None
    """Requests started per second (``None``: as fast as ``concurrency`` allows)."""
    arrival: str = "poisson"
    percentiles: tuple[float, ...] = DEFAULT_STREAM_PERCENTILES
    label: str | None = None
    api_key: str | None = field(default=None, repr=False)
    """Read from the environment by the command; sent as a header, never written anywhere."""


@dataclass
class Inputs:
    """The data a run needs, loaded once."""

    dialogues: list[Dialogue]
    schema: dict[str, Service]
    database: VenueDatabase | None
    goal_dialogues: Sequence[Dialogue] | None = None
    """MultiWOZ 2.1's dialogues of the split, for scoring MultiWOZ 2.2 (which has no goals)."""


def load_inputs(dataset: str, data_dir: Path, split: str, limit: int | None) -> Inputs:
    """The split's dialogues (the first ``limit`` in file order), the schema and (MultiWOZ) the venue database."""
    dialogues, schema, database = _load_split(dataset, Path(data_dir).resolve(), split)
    selected = list(dialogues[:limit] if limit is not None else dialogues)
    if not selected:
        raise SpecTodError(f"{data_dir}: the {dataset} {split} split has no dialogues to run")
    goals = _goal_dialogues(Path(data_dir).resolve(), split) if dataset == "multiwoz22" else None
    return Inputs(selected, schema, database, goals)


def _goal_dialogues(data_dir: Path, split: str) -> tuple[Dialogue, ...]:
    # Checked before the run: the scores of a MultiWOZ 2.2 run take goals and bookings from MultiWOZ 2.1.
    try:
        return _load_split("multiwoz21", data_dir, split)[0]
    except SpecTodError as error:
        raise SpecTodError(
            f"{data_dir}: --dataset multiwoz22 is scored with the MultiWOZ 2.1 goals and booking records, which "
            f"were not found there ({error}); use a --data-dir that holds multiwoz21/ beside multiwoz22/"
        ) from None


@lru_cache(maxsize=2)
def _load_split(dataset: str, data_dir: Path, split: str) -> tuple[tuple[Dialogue, ...], dict, VenueDatabase | None]:
    # Kept between calls in one process (bench then merge, tests): reading a split takes seconds.
    dialogues = tuple(load_dialogues(dataset, data_dir, split).dialogues)
    schema = load_schema(find_schema(dataset, data_dir, split=split))
    database = None if dataset == "sgd" else load_database(find_db_dir(data_dir))
    return dialogues, schema, database


def template_fingerprint(template: ChatTemplate) -> str:
    """SHA-256 of the template source, its special tokens and its stop strings."""
    return text_fingerprint(template.source, json.dumps(template.special_tokens, sort_keys=True), *template.stop_strings)


def build_config(options: BenchOptions, inputs: Inputs, template: ChatTemplate | None) -> RunConfig:
    """The run configuration ``options`` describe (see :mod:`spec_tod.bench.config` for what counts).

    Chat endpoints render prompts with the server's template: without a local template the
    configuration records ``server-chat:<role map>``, since the roles decide the text the model sees.
    """
    if template is None:
        template_name = f"server-chat:{options.chat_roles}"
        template_sha256 = text_fingerprint("chat", options.chat_roles)
    else:
        template_name, template_sha256 = options.template or "model-dir", template_fingerprint(template)
        if options.protocol == "chat":
            template_name = f"server-chat:{template_name}"
    return RunConfig(
        dataset=options.dataset,
        split=options.split,
        mode=options.mode,
        limit_dialogues=options.limit_dialogues,
        dialogue_count=len(inputs.dialogues),
        dialogues_sha256=dialogues_fingerprint(inputs.dialogues),
        template=template_name,
        template_sha256=template_sha256,
        served_model=options.served_model,
        seed=options.seed,
        dst=options.dst,
        response=options.response,
        shards=options.shards,
    )


def _params(settings: CallSettings, stop: Sequence[str], seed: int) -> GenerationParams:
    return GenerationParams(
        max_new_tokens=settings.max_new_tokens,
        temperature=settings.temperature,
        top_p=settings.top_p,
        top_k=settings.top_k,
        stop=tuple(stop),
        seed=None if settings.temperature <= 0 else seed,
        repetition_penalty=settings.repetition_penalty,
    )


def run_bench(
    options: BenchOptions, on_start: Callable[[int, int], Progress] | None = None
) -> RunOutputs | None:
    """Run or continue the benchmark; its outputs once every shard is complete, else ``None``.

    ``on_start(turns of the selected shards, turns already accounted for)`` is called once the work
    is known and returns the progress callback.
    """
    if options.shard is not None and not 0 <= options.shard < options.shards:
        raise SpecTodError(
            f"--shard {options.shard} is not a shard of --shards {options.shards}: expected 0..{options.shards - 1}"
        )
    check_new_run_dir(options.run_dir)
    with RunDirLock(options.run_dir):  # before the seconds of loading data: a second process is refused at once
        inputs = load_inputs(options.dataset, options.data_dir, options.split, options.limit_dialogues)
        source = options.template or options.model_dir
        # chat endpoints render with the server's template; a local one, when given, decides the roles as in training
        template: ChatTemplate | None = None
        if source is not None:
            template = load_chat_template(source)
        elif options.protocol != "chat":
            raise SpecTodError("give --model-dir (the served model's folder) or --template (a named chat template)")
        config = build_config(options, inputs, template)
        open_run_dir(options.run_dir, config)
        shard_of = assign_shards(inputs.dialogues, config.shards)
        selected = [d for d in inputs.dialogues if options.shard is None or shard_of[d.id] == options.shard]
        paths = [shard_path(options.run_dir, shard, config.shards) for shard in range(config.shards)]
        session = _Session(options, config, inputs, template, uuid.uuid4().hex)
        # frozen before the scorer's worker is forked: its collections skip the loaded data too
        with run_collections(), _scorer_for(config, inputs, options.shard is None) as scorer:
            session.on_response = scorer.note_response if scorer is not None else None
            run_async(session.run(selected, shard_of, load_records(paths), on_start))
            records = load_records(paths, session.written)
            if missing_turns(config, inputs.dialogues, records):
                check_shard_complete(options, config, selected, records)
                return None
            return finalize(
                options.run_dir,
                config,
                inputs.dialogues,
                records,
                database=inputs.database,
                goal_dialogues=inputs.goal_dialogues,
                session=session.describe(),
                percentiles=options.percentiles,
                provenance=run_provenance(options.label, options.served_model, options.model_dir),
                scorer=scorer,
            )


@contextmanager
def _scorer_for(config: RunConfig, inputs: Inputs, whole_run: bool) -> Iterator[PreparedScorer | None]:
    """The final scoring's set-up, started on another core while the loop waits on the server (docs/speed.md).

    Not for one shard of several: that process scores only if it happens to finish the run last.
    """
    if not whole_run or config.dataset not in SCORED_DATASETS or inputs.database is None:
        yield None
        return
    with PreparedScorer(inputs.dialogues, database=inputs.database, goal_dialogues=inputs.goal_dialogues) as scorer:
        yield scorer


def check_shard_complete(
    options: BenchOptions, config: RunConfig, selected: Sequence[Dialogue], records: dict[tuple[str, int], TurnRecord]
) -> None:
    """Raise unless every turn of the selected dialogues is done: a run that is not finished never ends quietly."""
    counts = Counter(turn_statuses(config, selected, records).values())
    if counts["done"] == sum(counts.values()) and options.shard is not None:
        return
    which = "the run" if options.shard is None else f"shard {options.shard} of {options.shards}"
    raise SpecTodError(
        f"{options.run_dir}: {which} is not complete: {counts['failed']} turn(s) failed, {counts['skipped']} skipped, "
        f"{counts['missing']} not run; rerun the same command to continue"
    )


def run_provenance(label: str | None, served_model: str | None, model_dir: Path | None) -> dict:
    """The report's provenance: the served model's name (else its folder's name) and the folder's hash."""
    model_id = served_model or (Path(model_dir).name if model_dir is not None else None)
    return provenance(label=label, model_id=model_id, model_dir=model_dir)


@dataclass
class _Session:
    """One invocation's work: the turns of the selected shards that are not done yet."""

    options: BenchOptions
    config: RunConfig
    inputs: Inputs
    template: ChatTemplate | None
    session_id: str
    concurrency: int = 0
    server_info: dict | None = None
    arrivals: ArrivalSchedule | None = None
    on_response: Callable[[str], None] | None = None
    """Given every end-to-end response of the run (done before this session, then as answered)."""
    written: dict[Path, list[TurnRecord]] = field(default_factory=dict)
    """The records of each shard file this session wrote (:attr:`ShardWriter.records`)."""

    def describe(self) -> dict:
        """The operational settings of this session, for the report (not part of the configuration)."""
        return {
            "endpoints": self.options.endpoints,
            "protocol": self.options.protocol,
            "chat_roles": self.options.chat_roles if self.options.protocol == "chat" else None,
            "stream": self.options.stream,
            "concurrency": self.concurrency,
            "request_rate": self.options.request_rate,
            "arrival": self.options.arrival if self.options.request_rate is not None else None,
            "measured_request_rate": self.arrivals.measured_rate() if self.arrivals is not None else None,
            "shard": self.options.shard,
            "timeout_s": self.options.timeout_s,
            "max_retries": self.options.max_retries,
            "outage_budget_s": self.options.outage_budget_s,
            "data_dir": str(self.options.data_dir),
            "model_dir": str(self.options.model_dir) if self.options.model_dir else None,
            "server_info": self.server_info,
        }

    def _renderer(self, template: ChatTemplate) -> PromptRenderer:
        model_dir = self.options.model_dir
        encode = tokenizer_encoder(model_dir) if model_dir is not None else None
        limit = self.options.max_model_len or server_context(self.server_info) or model_context(model_dir)
        return PromptRenderer(template, encode, limit)

    async def _concurrency(self) -> int:
        if self.options.concurrency is not None:
            return self.options.concurrency
        async with self._client(1) as probe:
            return await probe.advertised_concurrency() or DEFAULT_CONCURRENCY

    def _client(self, concurrency: int) -> CompletionClient:
        return CompletionClient(
            self.options.endpoints,
            protocol=self.options.protocol,
            model=self.options.served_model,
            concurrency=concurrency,
            timeout_s=self.options.timeout_s,
            max_retries=self.options.max_retries,
            outage_budget_s=self.options.outage_budget_s,
            stream=self.options.stream,
            api_key=self.options.api_key,
            arrivals=self.arrivals,
        )

    async def run(
        self,
        selected: Sequence[Dialogue],
        shard_of: dict[str, int],
        records: dict[tuple[str, int], TurnRecord],
        on_start: Callable[[int, int], Progress] | None,
    ) -> None:
        self.concurrency = await self._concurrency()
        if self.options.request_rate is not None:
            self.arrivals = ArrivalSchedule(self.options.request_rate, self.options.arrival, self.config.seed)  # type: ignore[arg-type]
        async with self._client(self.concurrency) as client:
            self.server_info = await client.server_info()
            if self.server_info is not None:
                write_json(self.options.run_dir / SERVER_INFO_FILE, self.server_info)
            render: Render
            stops: tuple[str, ...] = ()  # chat: the server's template ends the turn
            if self.options.protocol == "chat" or self.template is None:
                render = chat_renderer(chat_role_map(self.options.chat_roles, self.template))
            else:
                render, stops = self._renderer(self.template), tuple(self.template.stop_strings)
            turns = TurnRunner(
                client=client,
                render=render,
                dst_params=_params(self.config.dst, stops, self.config.seed),
                response_params=_params(self.config.response, stops, self.config.seed),
                database=self.inputs.database,
                session=self.session_id,
            )
            writers = {
                shard: ShardWriter(shard_path(self.options.run_dir, shard, self.config.shards), TurnRecord)
                for shard in sorted({shard_of[d.id] for d in selected})
            }
            self.written = {writer.path: writer.records for writer in writers.values()}
            progress = _Counter()
            units = []
            for dialogue in selected:
                # made when the dialogue's first unit runs: the first requests go out before all are made
                prompts = cache(partial(dialogue_prompts, dialogue, self.inputs.schema, self.config.seed))
                earlier = [records.get((dialogue.id, turn)) for turn in range(len(dialogue.turns))]
                writer = writers[shard_of[dialogue.id]]
                if self.config.mode == "dst":
                    units += [
                        Unit(1, _dst_unit(turns, prompts, turn, writer, progress))
                        for turn, record in enumerate(earlier)
                        if record is None or record.status != "done"
                    ]
                else:
                    done = _done_prefix(earlier)
                    if done < len(earlier):
                        history = [record for record in earlier[:done] if record is not None]  # all of them: done
                        units.append(
                            Unit(len(earlier) - done, _e2e_unit(turns, prompts, history, writer, progress, self.on_response))
                        )
            total = sum(len(d.turns) for d in selected)
            pending = sum(unit.weight for unit in units)
            if on_start is not None:
                progress.callback = on_start(total, total - pending)
            try:
                await run_longest_first(units, worker_count(self.concurrency, len(units)))
            finally:
                for writer in writers.values():
                    await writer.close()


@dataclass
class _Counter:
    callback: Progress | None = None

    def __call__(self, turns: int) -> None:
        if self.callback is not None:
            self.callback(turns)


def _done_prefix(records: Sequence[TurnRecord | None]) -> int:
    """How many leading turns are done (an end-to-end dialogue continues after them)."""
    for turn, record in enumerate(records):
        if record is None or record.status != "done":
            return turn
    return len(records)


def _dst_unit(
    turns: TurnRunner, prompts_of: Callable[[], DialoguePrompts], turn: int, writer: ShardWriter, progress: Progress
):
    async def run() -> None:
        await writer.append(await turns.dst_turn(prompts_of(), turn))
        progress(1)

    return run


def _e2e_unit(
    turns: TurnRunner,
    prompts_of: Callable[[], DialoguePrompts],
    done: list[TurnRecord],
    writer: ShardWriter,
    progress: Progress,
    on_response: Callable[[str], None] | None,
):
    async def run() -> None:
        prompts = prompts_of()
        tracker = StateTracker()
        history = []
        for record in done:
            tracker.apply(record.updates)
            history.append(history_turn(prompts, record, tracker.state))
            if on_response is not None:
                on_response(record.response or "")
        total = len(prompts.dialogue.turns)
        for turn in range(len(done), total):
            record = await turns.e2e_turn(prompts, turn, history, tracker)
            await writer.append(record)
            if record.status != "done":
                progress(total - turn)  # the later turns cannot run: skipped until a rerun
                return
            if on_response is not None:
                on_response(record.response or "")
            tracker.apply(record.updates)
            history.append(history_turn(prompts, record, tracker.state))
            progress(1)

    return run


def merge_runs(
    run_dirs: Sequence[Path],
    out_dir: Path,
    data_dir: Path,
    *,
    percentiles: Sequence[float] = DEFAULT_STREAM_PERCENTILES,
    label: str | None = None,
) -> RunOutputs | None:
    """Combine the shard checkpoints of ``run_dirs`` (one configuration) into ``out_dir`` and, when no turn
    is missing, write the outputs there. A turn done in one directory wins over a failed attempt in
    another; among done records the first directory's wins."""
    configs = [read_config(Path(run_dir)) for run_dir in run_dirs]
    config = configs[0]
    for run_dir, other in zip(run_dirs[1:], configs[1:], strict=True):
        differences = config_differences(config, other)
        if differences:
            raise SpecTodError(
                f"{run_dir}: not the same run as {run_dirs[0]} ({'; '.join(differences)}); merge only shards of one configuration"
            )
    inputs = load_inputs(config.dataset, data_dir, config.split, config.limit_dialogues)
    if dialogues_fingerprint(inputs.dialogues) != config.dialogues_sha256:
        raise SpecTodError(
            f"{data_dir}: the {config.dataset} {config.split} dialogues differ from those the runs were made with; "
            "pass the --data-dir the runs used"
        )
    check_new_run_dir(out_dir)
    with RunDirLock(out_dir):
        return _merge_into(run_dirs, out_dir, data_dir, config, inputs, percentiles, label)


def _merge_into(
    run_dirs: Sequence[Path],
    out_dir: Path,
    data_dir: Path,
    config: RunConfig,
    inputs: Inputs,
    percentiles: Sequence[float],
    label: str | None,
) -> RunOutputs | None:
    open_run_dir(out_dir, config)
    merged: dict[tuple[str, int], TurnRecord] = {}
    for run_dir in run_dirs:
        paths = [shard_path(Path(run_dir), shard, config.shards) for shard in range(config.shards)]
        for key, record in load_records(paths).items():
            kept = merged.get(key)
            if kept is None or (kept.status != "done" and record.status == "done"):
                merged[key] = record
    shard_of = assign_shards(inputs.dialogues, config.shards)
    position = {dialogue.id: index for index, dialogue in enumerate(inputs.dialogues)}
    ordered = sorted(merged.values(), key=lambda record: (position.get(record.dialogue_id, -1), record.turn))
    for shard in range(config.shards):
        write_records(
            shard_path(out_dir, shard, config.shards), [r for r in ordered if shard_of.get(r.dialogue_id) == shard]
        )
    if missing_turns(config, inputs.dialogues, merged):
        return None
    return finalize(
        out_dir,
        config,
        inputs.dialogues,
        merged,
        database=inputs.database,
        goal_dialogues=inputs.goal_dialogues,
        session={"merged_from": [str(run_dir) for run_dir in run_dirs], "data_dir": str(data_dir)},
        percentiles=percentiles,
        provenance=run_provenance(label, config.served_model, None),
    )
