"""``spec-tod build-data``: Spec-TOD instruction data (DST and/or end-to-end) from one or more corpus splits."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from spec_tod.du.tasks import TASKS as DU_TASKS
from spec_tod.errors import SpecTodError
from spec_tod.settings import DEFAULT_DATA_DIR_HELP, default_data_dir
from spec_tod.tasks.build import BuildOptions, BuildSummary, build_all
from spec_tod.tasks.records import TASKS
from spec_tod.tasks.response import RESPONSE_FORMATS
from spec_tod.tasks.writers import LAYOUTS

DATASET_CHOICES = ("multiwoz21", "multiwoz22", "sgd")
SPLIT_CHOICES = ("train", "dev", "test")


class _RichProgress:
    """The build's progress reports as one rich progress bar per stage."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: TaskID | None = None
        self._done = 0

    def stage(self, description: str, total: int | None) -> None:
        if self._task is not None:
            # A stage of unknown length (reading) shows as complete once the next one starts.
            self._progress.update(self._task, total=self._done, completed=self._done)
        self._task = self._progress.add_task(description, total=total)
        self._done = 0

    def advance(self, count: int = 1) -> None:
        if self._task is not None:
            self._done += count
            self._progress.advance(self._task, count)


def build_data_command(
    dataset: Annotated[
        str,
        typer.Option(click_type=click.Choice(DATASET_CHOICES), help="Corpus to read: MultiWOZ 2.1, MultiWOZ 2.2 or SGD."),
    ],
    split: Annotated[
        list[str],
        typer.Option(help="Split(s) to read: train, dev, test; several as dev,test or a repeated --split (each read once)."),
    ],
    task: Annotated[
        list[str],
        typer.Option(
            help="dst: function calls and lexicalised responses; e2e: function calls, database observations and "
            "'Action: ...' + delexicalised responses (MultiWOZ only). Both: dst,e2e or a repeated --task. "
            "du-knn, du-rag, du-binary, du-slots-one, du-slots-all: dialogue-understanding prompts (SGD, with "
            "--index; docs/du.md). response: plain 'user> ...' / 'bot> ...' text trained on the delexicalised "
            "responses (MultiWOZ only; see --response-format).",
        ),
    ],
    out: Annotated[Path, typer.Option(help="Output folder; files are named <dataset>-<split>-<task>.*")],
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="The corpus folder or the folder holding it (multiwoz21/, multiwoz22/, sgd/). "
            f"Default: {DEFAULT_DATA_DIR_HELP}.",
        ),
    ] = None,
    fraction: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Share of the dialogues to keep, in (0, 1], drawn by dialogue id with --seed."),
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of the one random generator: fraction, caps, instruction choice.")] = 42,
    layout: Annotated[
        str,
        typer.Option(
            "--format",
            click_type=click.Choice(LAYOUTS),
            help="sharegpt: {id, conversations: [{from, value}]} in <name>.jsonl; "
            "messages: {id, messages: [{role, content}]} in <name>.messages.jsonl.",
        ),
    ] = "sharegpt",
    schema: Annotated[
        Path | None, typer.Option(help="schema.json to build functions from. Default: found beside the data.")
    ] = None,
    db_dir: Annotated[
        Path | None,
        typer.Option(help="MultiWOZ venue database folder for entity counts. Default: multiwoz_db/ beside the data."),
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option(help="Skip and count invalid dialogues instead of stopping at the first one.")
    ] = False,
    max_per_domain: Annotated[
        int | None,
        typer.Option(min=1, help="Keep at most this many dialogues per domain (SGD: per service), drawn with --seed."),
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option(min=1, help="Drop records longer than this many tokens (counted in the manifest).")
    ] = None,
    tokenizer: Annotated[
        Path | None,
        typer.Option(help="Local model folder whose tokenizer counts --max-tokens. Default: a word/punctuation estimate."),
    ] = None,
    hf_dataset: Annotated[
        bool, typer.Option(help="Also save a Hugging Face datasets folder <name>.hf/ (load_from_disk, push_to_hub).")
    ] = False,
    label: Annotated[
        str | None, typer.Option(help="A name for this data set, stored with the provenance in the manifest.")
    ] = None,
    push_to_hub: Annotated[
        str | None,
        typer.Option(
            "--push-to-hub",
            metavar="REPO",
            help="Then upload the data file, the manifest (and the .hf folder) to this Hub dataset repo (user/name), "
            "created if missing. Token: $HF_TOKEN; another Hub: $HF_ENDPOINT; needs HF_HUB_OFFLINE unset or 0.",
        ),
    ] = None,
    index: Annotated[
        Path | None, typer.Option(help="du-* tasks: the retrieval index folder (`spec-tod du index`).")
    ] = None,
    response_format: Annotated[
        str,
        typer.Option(
            click_type=click.Choice(RESPONSE_FORMATS),
            help="--task response only: turns = one record per system turn (history + the response); "
            "dialogues = one record per dialogue, trained on every response.",
        ),
    ] = "turns",
    max_context_tokens: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="--task response --response-format turns: drop the oldest exchanges of a prompt longer than this "
            "(counted with --tokenizer, else estimated); the current user turn always stays. "
            "Bench with the same value.",
        ),
    ] = None,
) -> None:
    """Build Spec-TOD instruction data: one record per dialogue, with a manifest of inputs, counts and hashes.

    Several splits and tasks (--split dev,test --task dst,e2e) build every combination from one read of
    each split; each file gets the manifest of its own one-split, one-task command.
    The same command always writes the same bytes. Bad input stops with one message naming the file and dialogue,
    and nothing is written.
    """
    data_dir = data_dir if data_dir is not None else default_data_dir().resolve()
    splits, tasks = _choices(split, SPLIT_CHOICES, "--split"), _choices(task, (*TASKS, *DU_TASKS, "response"), "--task")
    flags = ["--fraction", repr(fraction), "--seed", str(seed), "--out", str(out), "--format", layout]
    for flag, value in (
        ("--schema", schema),
        ("--db-dir", db_dir),
        ("--max-per-domain", max_per_domain),
        ("--max-tokens", max_tokens),
        ("--tokenizer", tokenizer),
    ):
        if value is not None:
            flags += [flag, str(value)]
    flags += ["--skip-invalid"] if skip_invalid else []
    flags += ["--hf-dataset"] if hf_dataset else []
    flags += ["--label", label] if label is not None else []
    flags += ["--push-to-hub", push_to_hub] if push_to_hub is not None else []
    du_tasks = [one for one in tasks if one in DU_TASKS]
    tasks = [one for one in tasks if one not in DU_TASKS]
    for one_split in splits:
        for one_task in du_tasks:
            from spec_tod.cli.du import build_du

            build_du(one_task, dataset, data_dir, one_split, index, out, layout, fraction, seed, [
                "spec-tod", "build-data", "--dataset", dataset, "--data-dir", str(data_dir), "--split", one_split,
                "--task", one_task, *flags,
            ])
    if "response" in tasks:
        tasks.remove("response")
        arguments = {**locals()}
        for one_split in splits:
            _build_response({**arguments, "split": one_split}, [
                "spec-tod", "build-data", "--dataset", dataset, "--data-dir", str(data_dir), "--split", one_split,
                "--task", "response", *flags,
            ], data_dir)
    if not tasks:
        return
    builds = [
        BuildOptions(
            dataset=dataset,
            data_dir=data_dir,
            split=one_split,
            task=one_task,  # type: ignore[arg-type]
            out=out,
            fraction=fraction,
            seed=seed,
            layout=layout,  # type: ignore[arg-type]
            schema_path=schema,
            db_dir=db_dir,
            skip_invalid=skip_invalid,
            max_per_domain=max_per_domain,
            max_tokens=max_tokens,
            tokenizer=tokenizer,
            hf_dataset=hf_dataset,
            # each manifest records the one-split, one-task command that rebuilds its file byte for byte
            command=("spec-tod", "build-data", "--dataset", dataset, "--data-dir", str(data_dir), "--split", one_split,
                     "--task", one_task, *flags),
            label=label,
        )
        for one_split in splits
        for one_task in tasks
    ]
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        summaries = build_all(builds, _RichProgress(progress))
    for summary in summaries:
        Console().print(summary_table(summary))
    if push_to_hub is not None:
        from spec_tod.hub import push_folder

        for summary in summaries:
            stem = summary.manifest.name.removesuffix(".manifest.json")
            url = push_folder(out, push_to_hub, message=f"spec-tod build-data: {stem}", allow_patterns=[f"{stem}.*"])
            Console().print(f"pushed to {url}")


def _choices(values: list[str], allowed: tuple[str, ...], flag: str) -> list[str]:
    """``["dev,test"]`` or ``["dev", "test"]`` -> ``["dev", "test"]``, each checked, repeats dropped."""
    chosen = list(dict.fromkeys(part.strip() for value in values for part in value.split(",") if part.strip()))
    unknown = [value for value in chosen if value not in allowed]
    if unknown or not chosen:
        given = ", ".join(unknown) or "nothing"
        raise typer.BadParameter(f"{given} given; choose from {', '.join(allowed)}", param_hint=flag)
    return chosen


def _build_response(args: dict, command: list[str], data_dir: Path) -> None:
    from spec_tod.tasks.response_data import ResponseBuildOptions, build_response_data

    if args["layout"] != "sharegpt" or args["hf_dataset"] or args["max_per_domain"] is not None:
        raise SpecTodError(
            "--task response writes axolotl input_output rows only: drop --format, --hf-dataset and --max-per-domain"
        )
    if args["label"] is not None or args["push_to_hub"] is not None:
        raise SpecTodError(
            "--task response does not take --label or --push-to-hub yet: upload the .jsonl and manifest yourself"
        )
    at = command.index("--format")  # does not apply to this task
    command = [*command[:at], *command[at + 2 :], "--response-format", args["response_format"]]
    if args["max_context_tokens"] is not None:
        command += ["--max-context-tokens", str(args["max_context_tokens"])]
    built = build_response_data(
        ResponseBuildOptions(
            dataset=args["dataset"],
            data_dir=data_dir,
            split=args["split"],
            out=args["out"],
            response_format=args["response_format"],
            max_context_tokens=args["max_context_tokens"],
            fraction=args["fraction"],
            seed=args["seed"],
            schema_path=args["schema"],
            db_dir=args["db_dir"],
            skip_invalid=args["skip_invalid"],
            max_tokens=args["max_tokens"],
            tokenizer=args["tokenizer"],
            command=tuple(command),
        )
    )
    table = summary_table(built.summary)
    table.add_row("prompts truncated (history)", str(built.truncated))
    Console().print(table)


def summary_table(summary: BuildSummary) -> Table:
    """The end-of-build table: counts, output files and time."""
    counts = summary.counts
    table = Table(title="build-data", show_header=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    rows = [
        ("dialogues read", counts.dialogues_read),
        ("dialogues skipped (invalid)", counts.dialogues_skipped),
        ("dialogues kept", counts.dialogues_kept),
        ("turns", counts.turns),
        ("function calls", counts.function_calls),
        ("records written", counts.records_written),
        ("records dropped (length)", counts.dropped_by_length),
        ("data file", summary.data_file),
        ("manifest", summary.manifest),
    ]
    if summary.hf_dataset is not None:
        rows.append(("datasets folder", summary.hf_dataset))
    rows.append(("seconds", f"{summary.seconds:.2f}"))
    for name, value in rows:
        table.add_row(name, str(value))
    return table


def register(app: typer.Typer) -> None:
    """Add ``build-data`` to the ``spec-tod`` app."""
    app.command("build-data")(build_data_command)
