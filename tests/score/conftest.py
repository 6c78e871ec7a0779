"""Shared, expensive objects of the scoring tests: the MultiWOZ 2.1 test split, its scorer, the
published prediction files (each loaded once per session)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from spec_tod.data.database import VenueDatabase
from spec_tod.data.dialogue import Dialogue
from spec_tod.data.readers import load_dialogues
from spec_tod.score import Scorer, ScoreResult

SYSTEMS = ("augpt", "mintl", "sfn")


@pytest.fixture(scope="session")
def database(data_dir: Path) -> VenueDatabase:
    return VenueDatabase.load(data_dir / "multiwoz_db")


@pytest.fixture(scope="session")
def test_dialogues(data_dir: Path) -> list[Dialogue]:
    return load_dialogues("multiwoz21", data_dir, "test").dialogues


@pytest.fixture(scope="session")
def scorer(test_dialogues: list[Dialogue], database: VenueDatabase) -> Scorer:
    return Scorer(test_dialogues, database=database)


@pytest.fixture(scope="session")
def published(data_dir: Path) -> dict[str, dict[str, Any]]:
    """The raw JSON of the three published prediction files."""
    return {name: json.loads((data_dir / "mwz_predictions" / f"{name}.json").read_text()) for name in SYSTEMS}


@pytest.fixture(scope="session")
def published_scores(scorer: Scorer, published: dict[str, dict[str, Any]]) -> dict[str, ScoreResult]:
    return {name: scorer.score(data, allow_subset=name == "mintl") for name, data in published.items()}
