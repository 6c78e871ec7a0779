"""Placeholder until this stage's command lands."""

import typer


def register(app: typer.Typer) -> None:
    pass
