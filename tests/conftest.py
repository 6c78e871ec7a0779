"""Fixtures shared by every test module: the real data folder and the expensive shared objects."""

from __future__ import annotations

from pathlib import Path

import pytest

from spec_tod.settings import default_data_dir


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real data (``$SPEC_TOD_DATA_DIR``, default ``../shared/data``)."""
    path = default_data_dir()
    if not (path / "multiwoz21" / "test.json.zip").is_file():
        pytest.fail(f"shared data not found at {path}: set SPEC_TOD_DATA_DIR to the data folder")
    return path


pytest_plugins = ["tests.fixtures.tiny_model", "tests.fixtures.dockerd"]
