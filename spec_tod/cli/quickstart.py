"""``spec-tod quickstart``: the whole pipeline on a tiny model, on the CPU, in a few minutes."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()


def quickstart_command(
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        help="Folder with multiwoz21/, multiwoz22/schema.json and multiwoz_db/. Default: $SPEC_TOD_DATA_DIR, "
        "else ../shared/data beside a source checkout, else the files are downloaded from their public repositories "
        "into $SPEC_TOD_HOME/data.",
    ),
    workdir: Path = typer.Option(
        Path("runs/quickstart"), "--workdir", help="Folder for every output; emptied when it holds an earlier quickstart."
    ),
    dialogues: int = typer.Option(3, "--dialogues", min=1, help="Test dialogues to bench and score."),
    steps: int = typer.Option(8, "--steps", min=1, help="Fine-tuning steps (2 dialogues each)."),
    port: int | None = typer.Option(None, "--port", min=1, max=65535, help="Port for transformers serve (default: a free one)."),
) -> None:
    """Build data, build a tiny model, fine-tune, merge, serve, bench and score, printing each command first."""
    from spec_tod.quickstart import QuickstartOptions, run_quickstart

    if port is not None:
        from spec_tod.serve.local import check_port_free

        check_port_free(port)  # before minutes of training, not after
    options = QuickstartOptions(workdir=workdir, data_dir=data_dir, dialogues=dialogues, steps=steps, port=port)
    with console.status("starting ...") as status:

        def announce(command: str) -> None:
            console.print(f"[bold cyan]$[/] {escape(command)}", highlight=False)
            status.update(f"running {escape(command.split(' --')[0])} ...")

        result = run_quickstart(options, announce)
    table = Table(title="spec-tod quickstart")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    table.add_column("result", overflow="fold")
    for stage in result.stages:
        table.add_row(stage.name, f"{stage.seconds:.1f}", escape(stage.figure))
    table.add_row("total", f"{sum(s.seconds for s in result.stages):.1f}", "")
    console.print(table)
    console.print(f"report: {escape(str(result.report))}\nscores: {escape(str(result.scores))}", highlight=False)
    console.print(
        "logs of every stage: " + escape(str(options.workdir.expanduser().absolute() / "logs")), highlight=False
    )


def register(app: typer.Typer) -> None:
    """Add ``quickstart`` to the ``spec-tod`` app."""
    app.command("quickstart")(quickstart_command)
