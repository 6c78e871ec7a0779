"""Fixtures shared by every test module: the real data folder and the expensive shared objects."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from spec_tod.fileio import AtomicGroup
from spec_tod.settings import default_data_dir


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real data (``$SPEC_TOD_DATA_DIR``, default ``../shared/data``)."""
    path = default_data_dir()
    if not (path / "multiwoz21" / "test.json.zip").is_file():
        pytest.fail(f"shared data not found at {path}: set SPEC_TOD_DATA_DIR to the data folder")
    return path


@pytest.fixture()
def json_writes_fill_the_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every JSON file of an atomic group (a manifest, say) fails as on a full disk, after any earlier writes."""

    def disk_full(self, path, data, *, indent=2):  # noqa: ANN001, ANN202
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(AtomicGroup, "write_json", disk_full)


pytest_plugins = ["tests.fixtures.tiny_model", "tests.fixtures.dockerd"]
