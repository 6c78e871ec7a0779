"""``spec-tod du``: labelled exemplars, their retrieval index, find-k statistics and embedding pairs.

Also the two entry points ``build-data --task du-*`` and ``bench --mode du`` hand over to.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, cast

import click
import typer
from rich.console import Console
from rich.table import Table

from spec_tod.settings import DEFAULT_DATA_DIR_HELP, default_data_dir

du_app = typer.Typer(
    help="Retrieval-augmented dialogue understanding (OpenCUI-style): exemplars -> index -> find-k; then "
    "`build-data --task du-*` and `bench --mode du`.",
    no_args_is_help=True,
)

DataDir = Annotated[
    Path | None,
    typer.Option(help=f"The data folder or the SGD folder. Default: {DEFAULT_DATA_DIR_HELP}."),
]


@du_app.command("exemplars")
def exemplars_command(
    out: Annotated[
        Path, typer.Option(help="Folder to write exemplars.jsonl, skills.json and exemplars.manifest.json.")
    ],
    dataset: Annotated[str, typer.Option(click_type=click.Choice(["sgd"]), help="Corpus (SGD).")] = "sgd",
    split: Annotated[
        str, typer.Option(click_type=click.Choice(["train", "dev", "test"]), help="Split to read.")
    ] = "train",
    data_dir: DataDir = None,
) -> None:
    """Labelled exemplars (owner, utterance, arguments, template) of the split's `_1` services, every skip counted."""
    from spec_tod.du.exemplars import (
        SKIP_REASONS,
        split_exemplars,
        write_exemplar_folder,
    )

    data_dir = data_dir or default_data_dir()
    found, folder = split_exemplars(dataset, data_dir, split)
    owners = sorted({e.owner for e in found.exemplars})
    manifest = {
        "dataset": dataset,
        "split": split,
        "source": str(folder.resolve()),
        "user_turns": found.user_turns,
        "exemplars": len(found.exemplars),
        "owners": len(owners),
        "skills": len(found.skills),
        "skipped": {reason: found.skipped[reason] for reason in SKIP_REASONS},
    }
    write_exemplar_folder(out, found.exemplars, found.skills, manifest)
    table = Table(title=f"du exemplars: SGD {split}", show_header=False)
    for key in ("user_turns", "exemplars", "owners", "skills"):
        table.add_row(key, str(manifest[key]))
    for reason in SKIP_REASONS:
        table.add_row(f"skipped: {reason}", str(found.skipped[reason]))
    table.add_row("folder", str(out))
    Console().print(table)


@du_app.command("index")
def index_command(
    exemplars: Annotated[Path, typer.Option(help="An exemplar folder (`spec-tod du exemplars --out`).")],
    out: Annotated[Path, typer.Option(help="Index folder to write (replaced when complete).")],
    embedding_model: Annotated[
        Path | None,
        typer.Option(help="Local sentence-transformers model folder: hybrid dense + BM25. Default: BM25 only."),
    ] = None,
    top_k: Annotated[int, typer.Option(min=1, help="Skills and exemplars retrieved per utterance.")] = 8,
    arity: Annotated[int, typer.Option(min=1, help="Exemplars of one owner at most among those retrieved.")] = 8,
) -> None:
    """Index the exemplars for retrieval (BM25 through bm25s; dense too with --embedding-model)."""
    from spec_tod.du.index import ExemplarIndex, IndexSettings

    settings = IndexSettings(top_k, top_k, arity, str(embedding_model) if embedding_model else None)
    index = ExemplarIndex.from_folder(exemplars, settings)
    index.save(out)
    Console().print(
        f"indexed {len(index.exemplars)} exemplars of {len(index.skills)} skills ({settings.kind}) into {out}"
    )


@du_app.command("find-k")
def find_k_command(
    index: Annotated[Path, typer.Option(help="An index folder (`spec-tod du index --out`).")],
    out: Annotated[Path, typer.Option(help="Folder for find-k.json and find-k.png.")],
    exemplars: Annotated[
        Path | None, typer.Option(help="Exemplars to evaluate. Default: the index's own, each without itself.")
    ] = None,
    depth: Annotated[
        int, typer.Option(min=16, help="Exemplars ranked per item; a later first hit counts as rank 100.")
    ] = 64,
) -> None:
    """Skill recall, rank of the first same-owner exemplar (hit@1/2/4/8/16), k = its 99th percentile, a plot."""
    from spec_tod.du.exemplars import read_exemplars, read_skills
    from spec_tod.du.find_k import HIT_AT, find_k, plot_hit_rate
    from spec_tod.du.index import ExemplarIndex, retriever_for
    from spec_tod.fileio import write_json

    loaded = ExemplarIndex.load(index)
    items = read_exemplars(exemplars) if exemplars else loaded.exemplars
    retriever = retriever_for(loaded, read_skills(exemplars) if exemplars else {})
    result = find_k(retriever, items, depth)
    write_json(out / "find-k.json", {"index": str(index), "settings": loaded.settings.__dict__, **result.summary()})
    plot_hit_rate(result, out / "find-k.png", depth, f"find-k ({loaded.settings.kind}): {result.items} items")
    table = Table(title=f"du find-k ({loaded.settings.kind}, {result.items} items)")
    for column in ("skill recall", *(f"hit@{k}" for k in HIT_AT), "k (p99 rank)", "threshold (p1 score)"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{result.skill_recall:.3f}",
        *(f"{result.hit_at[k]:.3f}" for k in HIT_AT),
        f"{result.k:g}",
        f"{result.threshold:.3f}",
    )
    Console().print(table)
    Console().print(f"written: {out / 'find-k.json'}, {out / 'find-k.png'}")


@du_app.command("pairs")
def pairs_command(
    index: Annotated[Path, typer.Option(help="An index folder (`spec-tod du index --out`).")],
    out: Annotated[Path, typer.Option(help="JSONL file of {query, positive, negative}.")],
) -> None:
    """Embedding-model training pairs: each utterance, a same-owner positive and a retrieved hard negative."""
    from spec_tod.du.index import ExemplarIndex, retriever_for
    from spec_tod.du.instances import embedding_pairs
    from spec_tod.tasks.writers import write_lines

    loaded = ExemplarIndex.load(index)
    pairs = embedding_pairs(loaded.exemplars, retriever_for(loaded, {}))
    write_lines(out, (json.dumps(pair.__dict__, ensure_ascii=False) for pair in pairs))
    Console().print(f"{len(pairs)} pairs of {len(loaded.exemplars)} exemplars written to {out}")


def build_du(
    task: str,
    dataset: str,
    data_dir: Path,
    split: str,
    index: Path | None,
    out: Path,
    layout: str,
    fraction: float,
    seed: int,
    command: list[str],
) -> None:
    """``build-data --task du-*``."""
    from spec_tod.du.build import DuBuildOptions, build_du_data
    from spec_tod.du.instances import DuTask
    from spec_tod.errors import SpecTodError
    from spec_tod.tasks.writers import Layout

    if index is None:
        raise SpecTodError(f"--task {task} needs --index (an index folder from `spec-tod du index`)")
    command = [*command, "--index", str(index)]
    du_task, du_layout = cast(DuTask, task), cast(Layout, layout)
    options = DuBuildOptions(dataset, data_dir, split, du_task, index, out, du_layout, fraction, seed, tuple(command))
    summary = build_du_data(options)
    table = Table(title=f"build-data {task}", show_header=False)
    for name, value in (
        ("items", summary.items),
        ("records written", summary.records),
        *sorted(summary.by_kind.items()),
        ("data file", summary.data_file),
        ("manifest", summary.manifest),
        ("seconds", f"{summary.seconds:.2f}"),
    ):
        table.add_row(str(name), str(value))
    Console().print(table)


def bench_du(**options: Any) -> None:
    """``bench --mode du``: run and print the scores; exit 1, with no scores, when requests failed."""
    from spec_tod.du.bench import DuBenchOptions, run_du_bench
    from spec_tod.errors import SpecTodError

    result = run_du_bench(DuBenchOptions(**options))
    if result.scores is None:
        raise SpecTodError(
            f"{result.run_dir}: {result.failed} request(s) failed (first: {result.first_failure}); no scores written, "
            "the rows are in predictions.incomplete.jsonl; rerun the same command once the server answers"
        )
    table = Table(title=f"spec-tod bench --mode du: {result.run_dir}")
    table.add_column("group")
    for column in ("rows", "intent acc.", "macro F1", "none P", "none R", "slot F1"):
        table.add_column(column, justify="right")
    for name, group in (("all", result.scores), ("seen", result.scores["seen"]), ("unseen", result.scores["unseen"])):
        if group is None:
            continue
        intent, slots = group["intent"], group["slots"]
        table.add_row(
            name,
            str(intent["rows"]),
            f"{100 * intent['accuracy']:.1f}",
            f"{100 * intent['macro_f1']:.1f}",
            f"{100 * intent['none']['precision']:.1f}",
            f"{100 * intent['none']['recall']:.1f}",
            "" if slots is None else f"{100 * slots['f1']:.1f}",
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(du_app, name="du")
