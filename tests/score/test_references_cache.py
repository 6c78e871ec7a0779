"""Split references from the on-disk cache score exactly as freshly built ones, even after the cache is damaged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from spec_tod.data.database import VenueDatabase
from spec_tod.score import Scorer
from spec_tod.score.bleu import ReferenceIndex
from spec_tod.score.references import reference_index, split_references


def test_cached_and_rebuilt_references_give_the_same_scores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path, scorer: Scorer, database: VenueDatabase,
    published: dict[str, dict[str, Any]],
) -> None:
    monkeypatch.setenv("SPEC_TOD_HOME", str(tmp_path))
    monkeypatch.delenv("SPEC_TOD_NO_CACHE", raising=False)
    predictions = dict(list(published["augpt"].items())[:150])
    expected = scorer.score(predictions, allow_subset=True).to_json_dict()

    built = split_references("multiwoz21", data_dir, "test")
    entries = sorted((tmp_path / "cache").rglob("*.pickle"))
    # the BLEU statistics were written by the scoring's BLEU worker
    assert {"normalised-references", "reference-ngrams", "references", "split"} <= {entry.parent.name for entry in entries}
    assert len(built) == 1000 and built == scorer.references

    for entry in entries:  # a damaged cache is rebuilt, not trusted
        blob = entry.read_bytes()
        entry.write_bytes(blob[: len(blob) // 2])
    rebuilt = split_references("multiwoz21", data_dir, "test")
    rescored = Scorer.from_references(rebuilt, database=database).score(predictions, allow_subset=True)
    assert rescored.to_json_dict() == expected

    warm = split_references("multiwoz21", data_dir, "test")
    assert Scorer.from_references(warm, database=database).score(predictions, allow_subset=True).to_json_dict() == (
        expected
    )
    # every reference's BLEU statistics come back from the cache, the counts a fresh count gives
    (table_entry,) = (tmp_path / "cache" / "reference-ngrams").glob("*.pickle")
    inode = table_entry.stat().st_ino  # a rewrite renames a new file over it
    kept = reference_index(warm)
    assert table_entry.stat().st_ino == inode  # read, not rebuilt
    responses = [response for reference in warm.values() for response in reference.responses]
    assert len(kept.slots) == 6824 and set(kept.slots) == set(responses)
    assert kept == ReferenceIndex.of(responses)
