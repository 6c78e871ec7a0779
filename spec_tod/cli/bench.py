"""``spec-tod bench``: end-to-end or DST benchmark runs against inference servers, and ``bench merge``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from spec_tod.cli.groups import default_group
from spec_tod.settings import DEFAULT_DATA_DIR_HELP, default_data_dir

if TYPE_CHECKING:
    from spec_tod.bench.outputs import RunOutputs

bench_app = typer.Typer(
    cls=default_group("run"),
    help=(
        "Benchmark a served model on a dataset split: sharded, resumable end-to-end or DST runs that end with "
        "scores and a report. `spec-tod bench --endpoint URL ...` runs; `spec-tod bench merge DIR...` merges shards."
    ),
    no_args_is_help=True,
)


@bench_app.command("run")
def run(
    endpoint: list[str] = typer.Option(
        [],
        "--endpoint",
        help="Inference server base URL (http://host:port); repeat to spread requests over servers. "
        "Default: the server `spec-tod serve` started last.",
        show_default=False,
    ),
    run_dir: Path = typer.Option(
        ..., "--run-dir", help="Folder of the run: configuration, checkpoints, outputs. Rerun the command to continue."
    ),
    model_dir: Path | None = typer.Option(
        None, "--model-dir", help="The served model's folder: its tokenizer's chat template renders the prompts."
    ),
    template: str | None = typer.Option(
        None, "--template", help="A named chat template (llama3) instead of the one in --model-dir."
    ),
    dataset: str = typer.Option("multiwoz21", "--dataset", help="multiwoz21, multiwoz22 or sgd (sgd is not scored)."),
    data_dir: Path = typer.Option(
        None, "--data-dir", help=f"The data folder (default: {DEFAULT_DATA_DIR_HELP}).", show_default=False
    ),
    split: str = typer.Option("test", "--split", help="train, dev or test."),
    mode: str = typer.Option(
        "e2e", "--mode",
        help="e2e: state, database and response from the model's own history; dst: state only, gold history; "
        "du: dialogue understanding of SGD exemplars (needs --index; docs/du.md); "
        "response: the plain 'user> / bot>' response task (build-data --task response), gold history, no template.",
    ),
    max_context_tokens: int | None = typer.Option(
        None,
        "--max-context-tokens",
        min=1,
        help="--mode response: the budget the training data was built with (build-data --max-context-tokens); "
        "counted with --model-dir's tokenizer, else estimated.",
    ),
    shards: int = typer.Option(
        1, "--shards", min=1, help="Split the dialogues into N shards, each checkpointed to its own file."
    ),
    shard: int | None = typer.Option(
        None, "--shard", min=0, help="Run only shard I (0-based) of --shards, e.g. one per machine; merge with `bench merge`."
    ),
    concurrency: int | None = typer.Option(
        None, "--concurrency", min=1, help="Requests in flight at most (default: the server's advertised limit, else 64)."
    ),
    limit_dialogues: int | None = typer.Option(
        None, "--limit-dialogues", min=1, help="Run the first K dialogues of the split only (scored as a subset)."
    ),
    seed: int = typer.Option(
        42, "--seed",
        help="Seeds the instruction choice per dialogue (and sampling, if enabled); build-data's --seed gives the "
        "training records the same instructions.",
    ),
    max_model_len: int | None = typer.Option(
        None, "--max-model-len", min=1,
        help="The server's context in tokens (prompt + new tokens); longer prompts are not sent. "
        "Default: the server's own (TGI /info), else max_position_embeddings of --model-dir.",
    ),
    dst_max_new_tokens: int = typer.Option(128, "--dst-max-new-tokens", min=1, help="Token limit of the DST call."),
    response_max_new_tokens: int = typer.Option(
        192, "--response-max-new-tokens", min=1, help="Token limit of the response call (action + response)."
    ),
    temperature: float = typer.Option(0.0, "--temperature", min=0.0, help="0 decodes greedily (deterministic)."),
    top_p: float | None = typer.Option(
        None, "--top-p", click_type=click.FloatRange(0.0, 1.0, min_open=True),
        help="Nucleus sampling, in (0, 1] (only with --temperature > 0).",
    ),
    served_model: str | None = typer.Option(
        None, "--model", help="The `model` field of OpenAI-style requests (omit for a pinned `transformers serve`)."
    ),
    protocol: str = typer.Option(
        "openai", "--protocol",
        help="openai (/v1/completions, prompts rendered here), chat (/v1/chat/completions, rendered by the server; "
        "needs continue_final_message, e.g. vLLM) or tgi (/generate). An API key is read from $SPEC_TOD_API_KEY, "
        "else $OPENAI_API_KEY, and sent as Authorization: Bearer.",
    ),
    chat_roles: str = typer.Option(
        "auto", "--chat-roles",
        help="--protocol chat: auto (the roles training used for --model-dir's or --template's chat template, "
        "else spec-tod), spec-tod (the five roles as they are) or openai (function -> assistant, observation -> "
        "user, for endpoints that take only OpenAI roles).",
    ),
    stream: bool = typer.Option(
        False, "--stream/--no-stream",
        help="Ask for streamed answers (SSE) and report TTFT, TPOT and inter-token latency.",
    ),
    percentiles: str = typer.Option(
        "50,90,99", "--percentiles", help="Percentiles of the streaming metrics in the report, e.g. 50,90,99,99.9."
    ),
    request_rate: float | None = typer.Option(
        None, "--request-rate", click_type=click.FloatRange(0.0, min_open=True),
        help="Start requests at this many per second (open loop); --concurrency stays a cap. Default: as fast as "
        "--concurrency allows.",
    ),
    arrival: str = typer.Option(
        "poisson", "--arrival", help="With --request-rate: poisson (exponential gaps, seeded by --seed) or constant."
    ),
    label: str | None = typer.Option(
        None, "--label", help="A name for this run, stored with the provenance in report.json and scores.json."
    ),
    push_to_hub: str | None = typer.Option(
        None, "--push-to-hub", metavar="REPO",
        help="Once the run is complete, upload its results (not the checkpoints) to this Hub dataset repo (user/name) "
        "under a folder named like --run-dir. Token: $HF_TOKEN; another Hub: $HF_ENDPOINT; "
        "needs HF_HUB_OFFLINE unset or 0.",
    ),
    timeout: float = typer.Option(
        120.0, "--timeout", click_type=click.FloatRange(0.0, min_open=True), help="Seconds per request attempt."
    ),
    max_retries: int = typer.Option(
        5, "--max-retries", min=0,
        help="Retries of a request that fails while its server is up (5xx, timeout, malformed answer) "
        "before its turn fails.",
    ),
    outage_budget: float = typer.Option(
        600.0, "--outage-budget", click_type=click.FloatRange(0.0),
        help="Seconds a request waits in all for a server that is down (refused, unhealthy) or busy (429/503) "
        "before its turn fails; a restart is waited out.",
    ),
    index: Path | None = typer.Option(
        None, "--index", help="--mode du: the retrieval index folder (`spec-tod du index`)."
    ),
    du_intent: str = typer.Option(
        "knn", "--du-intent", click_type=click.Choice(["knn", "binary", "rag"]),
        help="--mode du: knn votes over exemplar and description pairs, one true/false prompt per skill, or one "
        "multiple-choice prompt.",
    ),
    du_slots: str = typer.Option(
        "one", "--du-slots", click_type=click.Choice(["one", "all", "none"]),
        help="--mode du: slots one prompt each, all in one JSON prompt, or not asked.",
    ),
    constrained: str = typer.Option(
        "none", "--constrained", click_type=click.Choice(["none", "vllm"]),
        help="--mode du: constrain answers with vLLM's guided_choice / guided_json (vLLM servers only).",
    ),
) -> None:
    """Run (or continue) a benchmark into --run-dir and print the summary."""
    from spec_tod.bench.config import CallSettings
    from spec_tod.bench.protocols import is_protocol_name
    from spec_tod.bench.runner import BenchOptions, is_bench_mode, run_bench
    from spec_tod.errors import SpecTodError

    bench_mode = mode if is_bench_mode(mode) else None  # None: du, which has its own runner
    if bench_mode is None and mode != "du":
        raise SpecTodError(f"--mode {mode!r}: expected e2e, dst, du or response")
    if max_context_tokens is not None and mode != "response":
        raise SpecTodError("--max-context-tokens applies to --mode response only")
    if not is_protocol_name(protocol):
        raise SpecTodError(f"--protocol {protocol!r}: expected openai, chat or tgi")
    if mode == "response" and protocol == "chat":
        raise SpecTodError("--mode response sends plain 'user> / bot>' text: use --protocol openai or tgi, not chat")
    if arrival not in ("poisson", "constant"):
        raise SpecTodError(f"--arrival {arrival!r}: expected poisson or constant")
    chosen_percentiles = _percentiles(percentiles)
    # chat endpoints render the prompts themselves; response prompts are plain text
    needs_template = protocol != "chat" and mode != "response"
    if not endpoint or (needs_template and model_dir is None and template is None):
        endpoint, model_dir = _from_served(endpoint, model_dir, template, needs_template)
    if bench_mode is None:
        from spec_tod.cli.du import bench_du

        if index is None:
            raise SpecTodError("--mode du needs --index (an index folder from `spec-tod du index`)")
        if protocol == "chat":
            raise SpecTodError("--mode du sends rendered prompts: use --protocol openai or tgi")
        return bench_du(
            endpoints=list(endpoint), run_dir=run_dir, data_dir=data_dir or default_data_dir(), dataset=dataset,
            split=split, index=index, model_dir=model_dir, template=template, served_model=served_model,
            protocol=protocol, intent_mode=du_intent, slot_mode=du_slots, constrained=constrained,
            limit=limit_dialogues, concurrency=concurrency or 16, timeout_s=timeout, max_retries=max_retries,
            outage_budget_s=outage_budget,
        )
    sampling: dict[str, Any] = {"temperature": temperature, "top_p": top_p}
    options = BenchOptions(
        endpoints=list(endpoint),
        run_dir=run_dir,
        data_dir=data_dir or default_data_dir(),
        dataset=dataset,
        split=split,
        mode=bench_mode,
        model_dir=model_dir,
        template=template,
        served_model=served_model,
        protocol=protocol,
        shards=shards,
        shard=shard,
        concurrency=concurrency,
        limit_dialogues=limit_dialogues,
        seed=seed,
        max_model_len=max_model_len,
        dst=CallSettings(max_new_tokens=dst_max_new_tokens, **sampling),
        response=CallSettings(max_new_tokens=response_max_new_tokens, **sampling),
        timeout_s=timeout,
        max_retries=max_retries,
        chat_roles=chat_roles,
        stream=stream,
        request_rate=request_rate,
        arrival=arrival,
        percentiles=chosen_percentiles,
        label=label,
        api_key=api_key_from_env(),
        outage_budget_s=outage_budget,
    )
    console = Console(stderr=True)
    with _progress(console) as progress:
        if mode == "response":
            from spec_tod.bench.response_run import ResponseLayout, run_response_bench

            outputs = run_response_bench(options, ResponseLayout(max_context_tokens), on_start=progress)
        else:
            outputs = run_bench(options, on_start=progress)
    if outputs is None:
        console.print(
            f"[yellow]shard {shard} of {shards} is complete; turns of other shards are not in {run_dir} yet.[/] "
            "Run them (here or elsewhere) and combine the run directories with `spec-tod bench merge`."
        )
        return
    _summary(outputs.report, outputs.run_dir)
    _fail_if_incomplete(outputs, f"check that {', '.join(endpoint)} answers, then rerun the same command to retry them")
    if push_to_hub is not None:
        _push(outputs.run_dir, push_to_hub)


@bench_app.command("merge")
def merge(
    run_dirs: list[Path] = typer.Argument(..., help="Run directories holding shards of one configuration."),
    out: Path | None = typer.Option(None, "--out", help="Where to write the merged run (default: the first RUN_DIR)."),
    data_dir: Path = typer.Option(
        None, "--data-dir", help=f"The data folder (default: {DEFAULT_DATA_DIR_HELP}).", show_default=False
    ),
    percentiles: str = typer.Option("50,90,99", "--percentiles", help="Percentiles of the streaming metrics."),
    label: str | None = typer.Option(None, "--label", help="A name for the merged run, stored with its provenance."),
) -> None:
    """Combine shard run directories (e.g. from several machines) and write the outputs once all turns are there."""
    from spec_tod.bench.runner import merge_runs

    chosen = _percentiles(percentiles)
    target = out or run_dirs[0]
    outputs = merge_runs(run_dirs, target, data_dir or default_data_dir(), percentiles=chosen, label=label)
    if outputs is None:
        Console(stderr=True).print(
            f"[yellow]merged into {target}, but some shards' turns are still missing;[/] run them and merge again."
        )
        raise typer.Exit(1)
    _summary(outputs.report, outputs.run_dir)
    _fail_if_incomplete(outputs, "rerun the bench command of their shard to retry them, then merge again")


class _progress:
    """A rich progress bar with ETA over the turns of the run, started once the work is known."""

    def __init__(self, console: Console) -> None:
        self._bar = Progress(
            TextColumn("[bold]bench[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("turns"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
        )

    def __enter__(self) -> _progress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def __call__(self, total: int, already: int):
        task = self._bar.add_task("turns", total=total, completed=already)
        return lambda turns: self._bar.advance(task, turns)


def _summary(report: dict[str, Any], run_dir: Path) -> None:
    console = Console()
    turns = report["turns"]
    table = Table(title=f"spec-tod bench: {run_dir}")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("dialogues / turns", f"{turns['dialogues']} / {turns['turns']}")
    table.add_row("done (unreadable output)", f"{turns['done']} ({turns['parse_failed']})")
    table.add_row("failed / skipped", f"{turns['failed']} / {turns['skipped']}")
    table.add_row("calls (retried attempts)", f"{turns['calls']} ({turns['retried_attempts']})")
    scores = report["scores"]
    if scores is not None:
        for name in ("inform", "success", "bleu", "combined"):
            if name in scores:  # a DST run has the DST metrics only
                table.add_row(name, f"{scores[name]:.2f}")
        if scores.get("dst"):
            table.add_row("joint goal accuracy", f"{scores['dst']['joint_accuracy']:.2f}")
    for kind, stats in report["latency_s"].items():
        table.add_row(
            f"{kind} latency p50 / p95 / p99 (s)", f"{stats['p50_s']:.3f} / {stats['p95_s']:.3f} / {stats['p99_s']:.3f}"
        )
    for kind, stats in (report.get("streaming") or {}).get("by_call", {}).items():
        ttft = stats["ttft_ms"]
        table.add_row(f"{kind} TTFT mean / p50 (ms)", f"{ttft['mean']:.1f} / {ttft.get('p50', float('nan')):.1f}")
    speed = report["throughput"]
    table.add_row("requests/s, generated tokens/s", f"{speed['requests_per_s']:.2f}, {speed['generated_tokens_per_s']:.1f}")
    console.print(table)


def _fail_if_incomplete(outputs: RunOutputs, next_step: str) -> None:
    """Exit status 1 when turns failed: the run has no scores then."""
    from spec_tod.errors import SpecTodError

    turns = outputs.report["turns"]
    if turns["failed"] or turns["skipped"]:
        raise SpecTodError(
            f"{outputs.run_dir}: {turns['failed']} turn(s) failed and {turns['skipped']} were skipped, so the run "
            f"is incomplete and has no scores (first: {outputs.first_failure}); {next_step}"
        )


def _percentiles(text: str) -> tuple[float, ...]:
    from spec_tod.bench.metrics import parse_percentiles
    from spec_tod.errors import SpecTodError

    try:
        return parse_percentiles(text)
    except ValueError as error:
        raise SpecTodError(
            f"--percentiles {text!r}: {error}; expected numbers in (0, 100] such as 50,90,99"
        ) from None


RESULT_IGNORE = ("shards/*", "*.lock", ".*")
"""What ``--push-to-hub`` leaves out of a run directory: checkpoints, lock files, hidden temporaries."""


def _push(run_dir: Path, repo_id: str) -> None:
    from spec_tod.hub import push_folder

    name = run_dir.resolve().name
    url = push_folder(
        run_dir, repo_id, message=f"spec-tod bench: {name}", path_in_repo=name, ignore_patterns=RESULT_IGNORE
    )
    Console().print(f"pushed to {url}")


API_KEY_ENV = ("SPEC_TOD_API_KEY", "OPENAI_API_KEY")


def api_key_from_env() -> str | None:
    """The endpoint's API key: the first of :data:`API_KEY_ENV` that is set (keys never come from flags)."""
    import os

    return next((os.environ[name] for name in API_KEY_ENV if os.environ.get(name)), None)


def register(app: typer.Typer) -> None:
    from spec_tod.cli.bench_sweep import sweep

    bench_app.command("sweep")(sweep)
    app.add_typer(bench_app, name="bench")


def _from_served(
    endpoints: list[str], model_dir: Path | None, template: str | None, needs_template: bool = True
) -> tuple[list[str], Path | None]:
    """Fill a missing --endpoint (and --model-dir, when the server runs a local folder) from `spec-tod serve`'s record."""
    from spec_tod.errors import SpecTodError
    from spec_tod.serve.registry import latest

    record = latest()
    if not endpoints:
        if record is None:
            raise SpecTodError("no --endpoint given and no server started by `spec-tod serve`: pass --endpoint URL")
        endpoints = [record.url]
    if model_dir is None and template is None:
        if not needs_template:  # the served folder still identifies the model in the provenance
            return endpoints, Path(record.source) if record is not None and Path(record.source).is_dir() else None
        if record is None or not Path(record.source).is_dir() or record.url not in endpoints:
            raise SpecTodError("pass --model-dir (the served model's folder, for its chat template) or --template llama3")
        model_dir = Path(record.source)
    return endpoints, model_dir
