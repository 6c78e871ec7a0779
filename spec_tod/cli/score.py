"""``spec-tod score``: standardized MultiWOZ scores of a predictions file or a bench run."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer

from spec_tod.data.gc_pause import gc_paused
from spec_tod.data.normalize import standing_normaliser, start_normalising
from spec_tod.fileio import check_output_path, write_json
from spec_tod.process_end import keep_until_exit
from spec_tod.score.bleu_worker import standing_bleu
from spec_tod.settings import DEFAULT_DATA_DIR_HELP, default_data_dir

if TYPE_CHECKING:
    from spec_tod.score.bleu import ReferenceIndex

DATASET_CHOICES = ("multiwoz21", "multiwoz22")
SPLIT_CHOICES = ("train", "dev", "test")


def score_command(
    predictions: Annotated[
        Path,
        typer.Argument(
            help="Predictions in the interchange format ({dialogue id: [{response, state?, active_domains?}, ...]}, "
            "lower-case ids such as sng0073), or a spec-tod bench run directory holding predictions.json.",
        ),
    ],
    dataset: Annotated[
        str,
        typer.Option(
            click_type=click.Choice(DATASET_CHOICES),
            help="Corpus the references and gold states come from. MultiWOZ 2.2 has no goals or booking "
            "records: they are then read from MultiWOZ 2.1 (see --goals-data-dir).",
        ),
    ],
    data_dir: Annotated[
        Path | None,
        typer.Option(help=f"The corpus folder or the folder holding it. Default: {DEFAULT_DATA_DIR_HELP}."),
    ] = None,
    split: Annotated[
        str, typer.Option(click_type=click.Choice(SPLIT_CHOICES), help="Split the predictions are for.")
    ] = "test",
    json_out: Annotated[
        Path | None,
        typer.Option(
            "--json",
            help="Also write the scores as JSON: bleu, inform, success, combined, inform_by_domain, success_by_domain, "
            "richness, dst (null without predicted states), coverage, and provenance (label, tool version, git "
            "revision, date, command line).",
        ),
    ] = None,
    booked_domains: Annotated[
        Path | None,
        typer.Option(
            help="A booked_domains.json (id -> domains booked at each system turn) to use instead of the booking "
            "records of the dataset (which reproduce the evaluator's file on MultiWOZ 2.1).",
        ),
    ] = None,
    goals_data_dir: Annotated[
        Path | None,
        typer.Option(
            help="MultiWOZ 2.1 data (folder with multiwoz21/ or test.json.zip) for goals and booked domains when "
            "--dataset is multiwoz22. Default: --data-dir.",
        ),
    ] = None,
    db_dir: Annotated[
        Path | None, typer.Option(help="Venue database folder (restaurant_db.json, ...). Default: found beside the data.")
    ] = None,
    subset: Annotated[
        bool,
        typer.Option(
            "--subset",
            help="Score only the dialogues present (and only the leading turns of shortened dialogues); coverage is "
            "printed beside every number. Without it, every dialogue of the split must be predicted in full.",
        ),
    ] = False,
    details: Annotated[
        Path | None,
        typer.Option(
            help="Write per-dialogue verdicts to this JSON file ({provenance, dialogues: [...]}): Inform/Success per "
            "domain and why each failed."
        ),
    ] = None,
    label: Annotated[
        str | None, typer.Option(help="A name for these scores, stored with their provenance in the JSON outputs.")
    ] = None,
    show_failures: Annotated[
        int, typer.Option(min=0, help="Print the first N dialogues that failed Inform or Success, with the reasons.")
    ] = 0,
) -> None:
    """Score system responses with the standardized MultiWOZ evaluation (Nekvinda & Dusek, 2021).

    PREDICTIONS is a JSON file {dialogue id: [{"response": ..., "state"?: {domain: {slot: value}},
    "active_domains"?: [...]}, ...]} with lower-case ids (sng0073) and one entry per system turn,
    or a spec-tod bench run directory holding predictions.json.

    Prints BLEU, Inform, Success and Combined, per-domain rates, lexical richness and, when every turn has a
    state, DST. Bad input (unknown ids, too many turns, a non-string response) stops with one message and exit status 1.
    """
    for option, path in (("--json", json_out), ("--details", details)):
        if path is not None:
            check_output_path(path, option)
    data_dir = (data_dir if data_dir is not None else default_data_dir()).resolve()
    split_options = {
        "db_dir": db_dir, "booked_domains_file": booked_domains,
        "goals_data_dir": (goals_data_dir or data_dir) if dataset == "multiwoz22" else None,
    }
    # One worker forked first sets up the Moses rules and reads the references' BLEU statistics while this
    # process reads the predictions, then normalises their responses while this process imports the
    # scorer and reads the references; BLEU then runs there. The collector is paused in both: the command
    # is short and what it builds is acyclic (docs/speed.md).
    with (
        gc_paused(),
        standing_normaliser(),
        standing_bleu(partial(_cached_split_index, dataset, data_dir, split, split_options)),
        ExitStack() as stack,
    ):
        from spec_tod.score.predictions import read_predictions

        loaded = read_predictions(predictions, on_responses=start_normalising)
        # The rest is imported once the responses are on their way to the worker, which has them sooner.
        from rich.console import Console

        from spec_tod.data.readers import find_db_dir, load_database
        from spec_tod.score import Scorer
        from spec_tod.score.references import split_references
        from spec_tod.score.report import render

        # No emoji codes in this output: rendering them would import rich's table of them for the first
        # colon printed. A spinner only where someone sees it: its module and refresh thread cost time
        # (docs/speed.md).
        console = Console(emoji=False)
        status = stack.enter_context(console.status("reading the references")) if console.is_terminal else None
        references = split_references(dataset, data_dir, split, **split_options)
        scorer = Scorer.from_references(references, database=load_database(find_db_dir(data_dir, db_dir)))
        on_stage = (lambda stage: status.update(f"scoring: {stage}")) if status is not None else None
        result = scorer.score(loaded, allow_subset=subset, on_stage=on_stage)
    render(result, console, show_failures=show_failures)
    keep_until_exit(loaded, references, scorer, result)
    if json_out is None and details is None:
        return  # nothing written: no provenance (from a checkout it asks git for the revision)
    from spec_tod.provenance import provenance

    origin = provenance(label=label)
    if json_out is not None:
        write_json(json_out, {**result.to_json_dict(), "provenance": origin})
        console.print(f"scores written to {json_out}")
    if details is not None:
        write_json(details, {"provenance": origin, "dialogues": [asdict(detail) for detail in result.details]})
        console.print(f"per-dialogue details written to {details}")


def _cached_split_index(dataset: str, data_dir: Path, split: str, options: dict[str, Any]) -> ReferenceIndex | None:
    from spec_tod.score.split_index import cached_split_index, split_identity  # in the worker

    return cached_split_index(split_identity(dataset, data_dir, split, **options))


def register(app: typer.Typer) -> None:
    # `spec-tod score PREDICTIONS` stays the MultiWOZ scorer; `spec-tod score nlu` scores intents and slots.
    from spec_tod.cli.groups import default_group
    from spec_tod.cli.score_nlu import score_nlu_command

    score_app = typer.Typer(
        cls=default_group("multiwoz"),
        help="Score predictions: the standardized MultiWOZ scores (`spec-tod score PREDICTIONS`, the default) "
        "or intent and slot scores (`spec-tod score nlu`).",
        no_args_is_help=True,
    )
    score_app.command("multiwoz")(score_command)
    score_app.command("nlu")(score_nlu_command)
    app.add_typer(score_app, name="score")
