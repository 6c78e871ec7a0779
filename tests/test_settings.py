"""The default data folder of a source checkout and of an installed package."""

from __future__ import annotations

from pathlib import Path

import pytest

from spec_tod import settings


def _fake_package(tmp_path: Path, checkout: bool, shared: bool) -> Path:
    """The folder above a spec_tod package: a checkout (pyproject.toml beside it) or site-packages."""
    root = tmp_path / "repo"
    (root / "spec_tod").mkdir(parents=True)
    if checkout:
        (root / "pyproject.toml").write_text("[project]\n")
    if shared:
        (tmp_path / "shared" / "data").mkdir(parents=True)
    return root


@pytest.mark.parametrize(
    ("checkout", "shared", "expected"),
    [
        (True, True, "shared/data"),  # a checkout beside the shared folder
        (True, False, "home/data"),  # a checkout alone: the quickstart's download cache
        (False, True, "home/data"),  # site-packages never looks beside itself
    ],
)
def test_default_data_dir(tmp_path: Path, monkeypatch, checkout: bool, shared: bool, expected: str) -> None:
    monkeypatch.setattr(settings, "REPO_ROOT", _fake_package(tmp_path, checkout, shared))
    monkeypatch.delenv(settings.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv(settings.STATE_DIR_ENV, str(tmp_path / "home"))
    assert settings.default_data_dir() == tmp_path / expected
    monkeypatch.setenv(settings.DATA_DIR_ENV, str(tmp_path / "mine"))
    assert settings.default_data_dir() == tmp_path / "mine"
