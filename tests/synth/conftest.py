"""Fixtures of the synth tests: the packaged example graphs and small graphs written on the fly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from spec_tod.synth.graph import Graph, load_graph
from spec_tod.synth.resources import example_graph


@pytest.fixture(scope="session")
def recipe_graph() -> Graph:
    return load_graph(example_graph("recipe"))


@pytest.fixture(scope="session")
def restaurant_graph() -> Graph:
    return load_graph(example_graph("multiwoz_restaurant"))


@pytest.fixture()
def write_graph(tmp_path: Path) -> Callable[[dict], Path]:
    """Write a graph given as a dict to a YAML file; returns its path."""

    def write(graph: dict, name: str = "graph.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(graph, sort_keys=False))
        return path

    return write
