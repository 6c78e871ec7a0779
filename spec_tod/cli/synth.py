"""``spec-tod synth``: synthetic dialogues from a state-transition graph (walk, simulate, convert)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.table import Table

from spec_tod.errors import SpecTodError
from spec_tod.fileio import atomic_open
from spec_tod.parsing import loads_json
from spec_tod.settings import DEFAULT_DATA_DIR_HELP, default_data_dir
from spec_tod.synth.graph import Graph, Scalar, load_graph
from spec_tod.synth.resources import example_names, graph_file
from spec_tod.tasks.writers import LAYOUTS

synth_app = typer.Typer(
    help="Synthetic task-oriented dialogues (SynTOD): walk a state-transition graph, simulate each turn with an LLM, "
    "convert to Spec-TOD records for `spec-tod finetune`. Graph format: docs/synth.md.",
    no_args_is_help=True,
)
console = Console()

GRAPH_HELP = f"A graph YAML file, or the name of an example graph ({', '.join(example_names())})."


def _graph(value: str) -> Graph:
    with graph_file(value) as path:
        return load_graph(path)


def _params(values: list[str] | None) -> dict[str, Scalar]:
    params: dict[str, Scalar] = {}
    for value in values or []:
        name, sep, raw = value.partition("=")
        if not sep or not name:
            raise SpecTodError(f"--param {value!r}: expected NAME=VALUE, e.g. --param num_steps=4")
        try:
            parsed = loads_json(raw)
        except json.JSONDecodeError:
            parsed = raw
        params[name] = parsed if isinstance(parsed, (str, int, float, bool)) else raw
    return params


@synth_app.command("walk")
def walk_command(
    graph: Annotated[str, typer.Argument(help=GRAPH_HELP)],
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="Number of walks.")] = 4000,
    seed: Annotated[int, typer.Option("--seed", help="Walk i of seed s is the same whatever the count.")] = 0,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Override a graph param, NAME=VALUE (repeatable).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the walks as JSONL (id, seed, index, steps with state).")
    ] = None,
) -> None:
    """Random walks over a graph (dialogue skeletons) and their statistics: lengths and how they ended."""
    from spec_tod.synth.walk import WalkStats, make_walk

    loaded = _graph(graph)
    params = _params(param)
    stats = WalkStats()
    walks = []
    for index in range(count):
        walk = make_walk(loaded, seed, index, params)
        stats.add(walk)
        walks.append(walk)
    if out is not None:
        with atomic_open(out) as handle:
            for walk in walks:
                handle.write(walk.model_dump_json() + "\n")
    summary = stats.summary()
    table = Table(title=f"{count} walks of {loaded.spec.name} (seed {seed})")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row(
        "length (nodes, start and end included) min / mean / max",
        f"{summary['length_min']} / {summary['length_mean']:.3f} / {summary['length_max']}",
    )
    for node, times in list(summary["ended_by"].items())[:8]:
        table.add_row(f"ended after {node}", str(times))
    console.print(table)
    if out is not None:
        console.print(f"walks written to {out}")


@synth_app.command("simulate")
def simulate_command(
    graph: Annotated[str, typer.Argument(help=GRAPH_HELP)],
    run_dir: Annotated[
        Path,
        typer.Option(
            "--run-dir",
            help="Run folder: settings, turns.jsonl (every prompt and answer), dialogues.jsonl. Rerun the same "
            "command to continue an interrupted run.",
        ),
    ],
    corpus: Annotated[
        Path | None,
        typer.Option(
            "--corpus",
            help="Seed corpus (JSONL, or a JSON array). Default: the graph's corpus.data_file in the data folder "
            f"({DEFAULT_DATA_DIR_HELP}).",
        ),
    ] = None,
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="Dialogues to simulate.")] = 100,
    seed: Annotated[
        int, typer.Option("--seed", help="Seeds the walks, the seed items' order, the variants and the gold positions.")
    ] = 0,
    endpoint: Annotated[
        list[str] | None,
        typer.Option(
            "--endpoint",
            help="OpenAI-compatible server base URL (repeatable). Default: the server `spec-tod serve` started last.",
            show_default=False,
        ),
    ] = None,
    model_dir: Annotated[
        Path | None,
        typer.Option(
            "--model-dir",
            help="The served model's folder: its chat template wraps each prompt as a user message. Without it (or "
            "--template) prompts go raw.",
        ),
    ] = None,
    template: Annotated[
        str | None, typer.Option("--template", help="A named chat template (llama3) instead of --model-dir's.")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="The `model` field of requests (servers that need one).")
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Requests in flight at most.")] = 64,
    timeout_s: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds per request attempt.")] = 120.0,
    max_retries: Annotated[
        int, typer.Option("--max-retries", min=0, help="Retries of a request that fails while its server is up.")
    ] = 5,
    outage_budget: Annotated[
        float,
        typer.Option(
            "--outage-budget", min=0.0,
            help="Seconds a request waits in all for a server that is down or busy (429/503) before it fails.",
        ),
    ] = 600.0,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Override a graph param, NAME=VALUE (repeatable).")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=1, help="Cap every node's max_tokens (e.g. for a quick trial).")
    ] = None,
    embedding_model: Annotated[
        Path | None,
        typer.Option(
            "--embedding-model",
            help="A local sentence-transformers folder: dense retrieval instead of BM25 (needs sentence-transformers).",
        ),
    ] = None,
) -> None:
    """Simulate dialogues: one LLM call per turn along each walk, grounded in seed-corpus items."""
    from spec_tod.synth.retrieve import load_corpus
    from spec_tod.synth.simulate import SimulateOptions, simulate

    loaded = _graph(graph)
    if loaded.spec.corpus is None:
        raise SpecTodError(
            f"{loaded.source}: the graph has no corpus section (id and indexed fields of the seed items)"
        )
    if corpus is None:
        if loaded.spec.corpus.data_file is None:
            raise SpecTodError(f"{loaded.source}: pass --corpus (the graph names no corpus.data_file)")
        corpus = default_data_dir() / loaded.spec.corpus.data_file
    if not endpoint:
        from spec_tod.serve.registry import latest

        record = latest()
        if record is None:
            raise SpecTodError("no --endpoint given and no server started by `spec-tod serve`: pass --endpoint URL")
        endpoint = [record.url]
    options = SimulateOptions(
        graph=loaded,
        corpus=load_corpus(corpus, loaded.spec.corpus),
        run_dir=run_dir,
        endpoints=list(endpoint),
        count=count,
        seed=seed,
        params=_params(param),
        chat_template=template or (str(model_dir) if model_dir else None),
        model=model,
        embedding_model=embedding_model,
        concurrency=concurrency,
        timeout_s=timeout_s,
        max_retries=max_retries,
        outage_budget_s=outage_budget,
        max_tokens=max_tokens,
    )
    with console.status(f"simulating {count} dialogues") as status:
        finished = [0]

        def progress(_: object) -> None:
            finished[0] += 1
            status.update(f"simulating: {finished[0]}/{count} dialogues")

        summary = simulate(options, progress)
    console.print(
        f"{summary.dialogues} dialogues: {summary.complete} complete, {summary.failed} failed; "
        f"{summary.turns_run} turns simulated ({summary.turns_reused} reused from the run folder), "
        f"{summary.calls} calls, {summary.repairs} JSON repairs, {summary.turns_per_s:.1f} turns/s"
    )
    console.print(f"dialogues: {run_dir / 'dialogues.jsonl'}; every prompt and answer: {run_dir / 'turns.jsonl'}")
    if summary.failed:
        console.print("[yellow]failed dialogues are left out by convert; rerun the same command to retry them[/]")


@synth_app.command("convert")
def convert_command(
    dialogues: Annotated[Path, typer.Argument(help="A simulate run folder, or its dialogues.jsonl.")],
    out: Annotated[
        Path, typer.Option("--out", help="Folder for synth-<graph>.jsonl and its manifest (a --data for finetune).")
    ],
    graph: Annotated[
        str | None, typer.Option("--graph", help="The graph simulated. Default: the one in the run's settings.json.")
    ] = None,
    layout: Annotated[
        str,
        typer.Option(
            "--layout",
            click_type=click.Choice(LAYOUTS),
            help="sharegpt (conversations/from/value, as build-data) or messages (role/content).",
        ),
    ] = "sharegpt",
) -> None:
    """Convert simulated dialogues to Spec-TOD records: intents -> function calls, results -> observations."""
    from spec_tod.synth.convert import convert
    from spec_tod.synth.simulate import DIALOGUES_FILE, SETTINGS_FILE, RunSettings, read_dialogues

    source = dialogues / DIALOGUES_FILE if dialogues.is_dir() else dialogues
    if not source.is_file():
        raise SpecTodError(f"{source}: no simulated dialogues here; pass a simulate run folder or its dialogues file")
    if graph is None:
        settings_file = source.parent / SETTINGS_FILE
        if not settings_file.is_file():
            raise SpecTodError(f"{source}: no {SETTINGS_FILE} beside it names the graph; pass --graph")
        graph = RunSettings.model_validate_json(settings_file.read_bytes()).graph
    summary = convert(_graph(graph), read_dialogues(source), out, layout, source)  # type: ignore[arg-type]
    console.print(
        f"{summary.records} records ({summary.exchanges} exchanges) written to {summary.data_file}; "
        f"skipped {summary.skipped_failed} failed and {summary.skipped_empty} empty dialogues; "
        f"manifest {summary.manifest}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(synth_app, name="synth")
