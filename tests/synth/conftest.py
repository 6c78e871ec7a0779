"""Fixtures of the synth tests: the packaged example graphs and small graphs written on the fly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from spec_tod.synth.graph import Graph, load_graph
from spec_tod.synth.resources import graph_file
from spec_tod.synth.retrieve import load_corpus
from spec_tod.synth.simulate import SimulateOptions, Summary, simulate
from tests.synth.stand_in import StandIn

COUNT = 24
SEED = 5


@pytest.fixture(scope="session")
def recipe_graph() -> Graph:
    with graph_file("recipe") as path:
        return load_graph(path)


@pytest.fixture(scope="session")
def restaurant_graph() -> Graph:
    with graph_file("multiwoz_restaurant") as path:
        return load_graph(path)


@pytest.fixture()
def write_graph(tmp_path: Path) -> Callable[[dict], Path]:
    """Write a graph given as a dict to a YAML file; returns its path."""

    def write(graph: dict, name: str = "graph.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(graph, sort_keys=False))
        return path

    return write


@pytest.fixture(scope="session")
def corpus_file(data_dir: Path) -> Path:
    return data_dir / "multiwoz_db" / "restaurant_db.json"


@pytest.fixture(scope="session")
def stand_in():
    with StandIn() as running:
        yield running


@pytest.fixture(scope="session")
def simulated_run(
    restaurant_graph: Graph, corpus_file: Path, stand_in: StandIn, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Summary]:
    """COUNT restaurant dialogues simulated against the stand-in: the run folder and the summary."""
    run_dir = tmp_path_factory.mktemp("sim") / "run"
    options = SimulateOptions(
        graph=restaurant_graph,
        corpus=load_corpus(corpus_file, restaurant_graph.spec.corpus),
        run_dir=run_dir,
        endpoints=[stand_in.url],
        count=COUNT,
        seed=SEED,
    )
    return run_dir, simulate(options)
