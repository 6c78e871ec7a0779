"""The ``spec-tod`` command line: one typer app, one module per pipeline stage.

A subcommand's module (and with it the libraries only it needs: pydantic models, jinja2, sacrebleu,
docker, matplotlib) is imported only when that subcommand runs, so ``spec-tod --version`` and
``spec-tod score ...`` do not pay for ``finetune``'s imports (docs: speed.md).
"""

from __future__ import annotations

import importlib
import os
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
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
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


def console_main() -> None:
    """The ``spec-tod`` console script: :func:`main`, then an exit that skips the interpreter's teardown.

    Tearing down a process that holds a loaded corpus costs 0.4-0.5 s of freeing objects one by one,
    for nothing. Once the command has returned, its outputs are flushed and the ``atexit`` handlers
    run (logging, multiprocessing, temporary folders), the process ends at once. It exits normally
    when a non-daemon thread is still running, since the interpreter would wait for that thread.
    """
    try:
        main()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if done.code is not None and not isinstance(done.code, int):
            print(done.code, file=sys.stderr)
    import threading

    if any(thread.is_alive() and not thread.daemon for thread in threading.enumerate() if thread is not threading.main_thread()):
        sys.exit(code)
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing left to deliver
            pass
    os._exit(code)
