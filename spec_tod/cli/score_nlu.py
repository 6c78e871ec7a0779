"""``spec-tod score nlu``: intent and slot scores of a model's function messages (synth or build-data records).

Kept apart from :mod:`spec_tod.cli.synth` so that ``spec-tod score`` does not import the graph code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spec_tod.fileio import write_json


def score_nlu_command(
    predictions: Annotated[
        Path,
        typer.Argument(
            help='JSONL, one line per dialogue: {"id": ..., "functions": [the model\'s function message for each '
            "user turn, in order]}."
        ),
    ],
    gold: Annotated[
        Path, typer.Option("--gold", help="The records the predictions are for (synth convert or build-data output).")
    ],
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the scores as JSON.")] = None,
    judge_endpoint: Annotated[
        str | None,
        typer.Option(
            "--judge-endpoint",
            help="Score response relevance 0-2 with an LLM judge at this server "
            '(needs "responses" in the predictions).',
        ),
    ] = None,
    judge_template: Annotated[
        str | None, typer.Option("--judge-template", help="Chat template (model folder or llama3) of the judge.")
    ] = None,
    judge_model: Annotated[
        str | None, typer.Option("--judge-model", help="The `model` field of judge requests.")
    ] = None,
) -> None:
    """Intent and slot precision, recall and F1 (micro, and macro per conversation as SynTOD) by user-turn position."""
    # Imported here: registering this command (with every `spec-tod score`) should not import rich's console.
    from rich.console import Console
    from rich.table import Table

    from spec_tod.synth.nlu import judge_relevance, load_gold, load_predictions, score_nlu

    console = Console()

    gold_dialogues = load_gold(gold)
    predicted = load_predictions(predictions, gold_dialogues)
    scores = score_nlu(gold_dialogues, predicted)
    if judge_endpoint is not None:
        scores["relevance"] = judge_relevance(gold_dialogues, predicted, judge_endpoint, judge_template, judge_model)
    table = Table(title=f"NLU scores of {predictions}")
    for column in (
        "turns",
        "position",
        "intent acc",
        "intent P/R/F1 micro",
        "intent P/R/F1 macro",
        "slot P/R/F1 micro",
    ):
        table.add_column(column, justify="right")
    for position, row in scores["by_position"].items():
        table.add_row(
            str(row["turns"]),
            position,
            f"{row['intent_accuracy']:.3f}",
            _prf(row["intent_micro"]),
            _prf(row["intent_macro"]),
            _prf(row["slot_micro"]),
        )
    console.print(table)
    if "relevance" in scores:
        console.print(
            f"relevance (0-2): mean {scores['relevance']['mean']:.3f} over {scores['relevance']['judged']} responses"
        )
    if json_out is not None:
        write_json(json_out, scores)
        console.print(f"scores written to {json_out}")


def _prf(values: dict[str, float] | None) -> str:
    if not values:
        return "-"
    return f"{values['precision']:.3f} / {values['recall']:.3f} / {values['f1']:.3f}"
