"""Each corpus split read once per test session, shared by the reader tests."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from spec_tod.data.readers import LoadResult, load_dialogues


@pytest.fixture(scope="session")
def mwz21_test(data_dir: Path) -> LoadResult:
    return load_dialogues("multiwoz21", data_dir, "test")


@pytest.fixture(scope="session")
def mwz21_dev(data_dir: Path) -> LoadResult:
    return load_dialogues("multiwoz21", data_dir / "multiwoz21", "dev")


@pytest.fixture(scope="session")
def mwz21_test_raw(data_dir: Path) -> dict:
    """The raw MultiWOZ 2.1 test file, for building small variants of it."""
    with zipfile.ZipFile(data_dir / "multiwoz21" / "test.json.zip") as archive:
        return json.loads(archive.read("test.json"))


@pytest.fixture(scope="session")
def sgd_dev(data_dir: Path) -> LoadResult:
    return load_dialogues("sgd", data_dir, "dev")
