"""A command group that runs a default subcommand when none is named.

``spec-tod serve MODEL`` and ``spec-tod serve stop`` share one name; click has no such
group, so unknown first arguments are routed to the default subcommand.
"""

from __future__ import annotations

import click
from typer.core import TyperGroup


class DefaultCommandGroup(TyperGroup):
    default_command: str = ""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in ("--help", "-h") and args[0] not in self.commands:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


def default_group(name: str) -> type[DefaultCommandGroup]:
    """A group class whose default subcommand is ``name``."""
    return type(f"DefaultGroup_{name}", (DefaultCommandGroup,), {"default_command": name})
