"""Shared objects of the dialogue-understanding tests: SGD dev exemplars and their BM25 index."""

from __future__ import annotations

from pathlib import Path

import pytest

from spec_tod.du.exemplars import ExemplarSet, split_exemplars
from spec_tod.du.index import ExemplarIndex, IndexSettings, Retriever, retriever_for
from tests.serve.conftest import port, serve_home, spec_tod  # noqa: F401  (the serving tests' fixtures)
from tests.train.conftest import cli  # noqa: F401  (spec-tod in this process)


@pytest.fixture(scope="session")
def sgd_dev(data_dir: Path) -> ExemplarSet:
    return split_exemplars("sgd", data_dir, "dev")[0]


@pytest.fixture(scope="session")
def dev_index(sgd_dev: ExemplarSet) -> ExemplarIndex:
    return ExemplarIndex.build(sgd_dev.exemplars, sgd_dev.skills, IndexSettings())


@pytest.fixture(scope="session")
def retriever(dev_index: ExemplarIndex, sgd_dev: ExemplarSet) -> Retriever:
    return retriever_for(dev_index, sgd_dev.skills)
