"""The ``spec-tod`` command line: one typer app, one module per pipeline stage.

A subcommand's module (and with it the libraries only it needs: pydantic models, jinja2, sacrebleu,
docker, matplotlib) is imported only when that subcommand runs, so ``spec-tod --version`` and
``spec-tod score ...`` do not pay for ``finetune``'s imports (docs/speed.md).
"""

from __future__ import annotations

import importlib
import sys

import click
import typer
from typer.core import TyperGroup

from spec_tod.errors import SpecTodError

_COMMANDS: dict[str, str] = {
    "build-data": "build_data",
    "finetune": "finetune",
    "merge": "finetune",
    "serve": "serve",
    "bench": "bench",
    "score": "score",
    "synth": "synth",
    "du": "du",
    "judge": "judge",
    "quickstart": "quickstart",
}
"""Subcommand -> the module of ``spec_tod.cli`` whose ``register`` adds it, in the order of ``--help``."""


class _LazyCommands(TyperGroup):
    """Imports a subcommand's module when the subcommand is looked up, not when the program starts."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        module = importlib.import_module(f"spec_tod.cli.{_COMMANDS[cmd_name]}")
        holder = typer.Typer()
        module.register(holder)
        return typer.main.get_group(holder).commands[cmd_name]


app = typer.Typer(
    name="spec-tod",
    cls=_LazyCommands,
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
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Spec-TOD task-oriented dialogue: build data, fine-tune, merge, serve, benchmark and score."""


def _stderr_line(markup: str) -> None:
    from rich.console import Console

    Console(stderr=True, soft_wrap=True).print(markup, highlight=False)


def main() -> None:
    """Run the command: user errors become one red line and exit status 1, never a traceback."""
    try:
        # Without standalone mode click returns the code of a `typer.Exit` (and typer turns Ctrl-C into
        # Exit(130)) instead of exiting: it must become the process's exit status.
        code = app(standalone_mode=False)
    except SpecTodError as error:
        from rich.markup import escape

        _stderr_line(f"[bold red]error:[/] {escape(str(error))}")
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        _stderr_line("[yellow]interrupted[/]")
        sys.exit(130)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:  # usage errors carry their own exit code
        error.show()
        sys.exit(error.exit_code)
    if isinstance(code, int) and code != 0:
        if code == 130:
            _stderr_line("[yellow]interrupted[/]")
        sys.exit(code)
