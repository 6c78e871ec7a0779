"""The example graphs shipped with spec-tod (``spec_tod/resources/synth/``), read as package data."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import as_file
from importlib.resources.abc import Traversable
from pathlib import Path

from spec_tod.errors import SpecTodError
from spec_tod.resources import SYNTH, names, resource


def example_names() -> list[str]:
    return [name.removesuffix(".yaml") for name in names(SYNTH) if name.endswith(".yaml")]


def example_graph(name: str) -> Traversable:
    """The shipped example graph ``name`` (``recipe``, ``multiwoz_restaurant``)."""
    shipped = resource(SYNTH, f"{name}.yaml")
    if not shipped.is_file():
        raise SpecTodError(f"no example graph {name!r}: the examples are {', '.join(example_names())}")
    return shipped


@contextmanager
def graph_file(value: str) -> Iterator[Path]:
    """A graph argument as a file on disk: a YAML file, else the name of an example graph."""
    path = Path(value)
    if path.is_file() or path.suffix in (".yaml", ".yml") or "/" in value:
        yield path
        return
    with as_file(example_graph(value)) as shipped:
        yield shipped
