"""The ``spec-tod`` command line: one typer app, one module per pipeline stage.

A subcommand's module (and with it the libraries only it needs: pydantic models, jinja2, sacrebleu,
docker, matplotlib) is imported only when that subcommand runs, so ``spec-tod --version`` and
``spec-tod score ...`` do not pay for ``finetune``'s imports (docs/speed.md).
"""

from __future__ import annotations

from spec_tod import interrupts

interrupts.install_for_startup()  # before the heavy imports below: a Ctrl-C while they load exits quietly

import importlib  # noqa: E402
import sys  # noqa: E402

import click  # noqa: E402
import typer  # noqa: E402
from typer.core import TyperGroup  # noqa: E402

from spec_tod.errors import SpecTodError  # noqa: E402

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
    """Console entry point: user errors become one red line and exit status 1, never a traceback."""
    interrupts.install_for_commands()
    try:
        # Without standalone mode click returns the code of a `typer.Exit` (and typer turns Ctrl-C into
        # Exit(130)) instead of exiting: it must become the process's exit status.
        code = app(standalone_mode=False)
    except BaseException as raised:  # noqa: BLE001 - every way out is turned into an exit status here
        sys.exit(_exit_status(_leaf(raised)))
    if isinstance(code, int) and code != 0:
        if code == 130:  # typer's code for an interruption
            _stderr_line(f"[yellow]{interrupts.MESSAGE}[/]")
            code = interrupts.exit_code()
        sys.exit(code)


def _leaf(error: BaseException) -> BaseException:
    """The error a task group wrapped (asyncio.TaskGroup raises an ExceptionGroup): the first that explains."""
    while isinstance(error, BaseExceptionGroup):
        for kind in (interrupts.Interrupted, KeyboardInterrupt, SpecTodError, OSError):
            matched = [e for e in error.exceptions if isinstance(_leaf(e), kind)]
            if matched:
                error = matched[0]
                break
        else:
            error = error.exceptions[0]
    return error


def _exit_status(error: BaseException) -> int:
    """Print one line for ``error`` and return the exit status, or re-raise a bug."""
    from rich.markup import escape

    if isinstance(error, SpecTodError):
        _stderr_line(f"[bold red]error:[/] {escape(str(error))}")
        return 1
    if isinstance(error, (KeyboardInterrupt, click.exceptions.Abort)):
        _stderr_line(f"[yellow]{interrupts.MESSAGE}[/]")
        return interrupts.exit_code()
    if isinstance(error, (typer.Exit, click.exceptions.Exit)):
        return error.exit_code
    if isinstance(error, click.ClickException):  # usage errors carry their own exit code
        error.show()
        return error.exit_code
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        _stderr_line(f"[bold red]error:[/] {escape(where + (error.strerror or str(error)))}")
        return 1
    raise error
