"""The example graphs shipped with spec-tod (``spec_tod/resources/synth/``)."""

from __future__ import annotations

from pathlib import Path

from spec_tod.errors import SpecTodError

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "resources" / "synth"


def example_names() -> list[str]:
    return sorted(path.stem for path in EXAMPLES_DIR.glob("*.yaml"))


def example_graph(name: str) -> Path:
    """The path of example graph ``name`` (``recipe``, ``multiwoz_restaurant``)."""
    path = EXAMPLES_DIR / f"{name}.yaml"
    if not path.is_file():
        raise SpecTodError(f"no example graph {name!r}: the examples are {', '.join(example_names())}")
    return path


def graph_path(value: str) -> Path:
    """A graph argument: a YAML file, else the name of an example graph."""
    path = Path(value)
    if path.is_file() or path.suffix in (".yaml", ".yml") or "/" in value:
        return path
    return example_graph(value)
