"""The ``spec-tod`` command line: one typer app, one module per pipeline stage."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

from spec_tod.errors import SpecTodError

app = typer.Typer(
    name="spec-tod",
    help="Spec-TOD task-oriented dialogue: build data, fine-tune, merge, serve, benchmark and score.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)



def _version(value: bool) -> None:
    if value:
        from spec_tod import __version__

        typer.echo(f"spec-tod {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Spec-TOD task-oriented dialogue: build data, fine-tune, merge, serve, benchmark and score."""


from spec_tod.cli import bench, build_data, finetune, judge, quickstart, score, serve  # noqa: E402

for _module in (build_data, finetune, serve, bench, score, judge, quickstart):
    _module.register(app)


def main() -> None:
    """Console entry point: user errors become one red line and exit status 1, never a traceback."""
    try:
        # Without standalone mode click returns the code of a `typer.Exit` (and typer turns Ctrl-C into
        # Exit(130)) instead of exiting: it must become the process's exit status.
        code = app(standalone_mode=False)
    except SpecTodError as error:
        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        Console(stderr=True).print("[yellow]interrupted[/]")
        sys.exit(130)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except Exception as error:  # click usage errors carry their own exit code
        import click

        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(error.exit_code)
        raise
    if isinstance(code, int) and code != 0:
        if code == 130:
            Console(stderr=True).print("[yellow]interrupted[/]")
        sys.exit(code)
