"""The on-disk cache of corpus-derived tables: reused while valid, rebuilt when anything it depends on changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from spec_tod import cache


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SPEC_TOD_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(cache.NO_CACHE_ENV, raising=False)
    return tmp_path / "home"


class Builder:
    """Builds a table from one input file and counts how often it had to."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self.builds = 0

    def __call__(self) -> tuple[dict[str, int], list[Path]]:
        self.builds += 1
        return {"lines": len(self.source.read_text().splitlines())}, [self.source]


def _entries(home: Path) -> list[Path]:
    return sorted((home / "cache").rglob("*.pickle"))


def test_a_valid_entry_is_reused(home: Path, tmp_path: Path) -> None:
    source = tmp_path / "corpus.txt"
    source.write_text("a\nb\n")
    build = Builder(source)
    assert cache.cached("table", {"split": "test"}, build) == {"lines": 2}
    assert cache.cached("table", {"split": "test"}, build) == {"lines": 2}
    assert build.builds == 1 and len(_entries(home)) == 1
    assert cache.cached("table", {"split": "dev"}, build) == {"lines": 2}  # another identity, another entry
    assert build.builds == 2 and len(_entries(home)) == 2


def test_a_changed_input_file_is_rebuilt(home: Path, tmp_path: Path) -> None:
    source = tmp_path / "corpus.txt"
    source.write_text("a\nb\n")
    build = Builder(source)
    cache.cached("table", {}, build)
    source.write_text("a\nb\nc\n")
    assert cache.cached("table", {}, build) == {"lines": 3}
    assert build.builds == 2
    assert cache.cached("table", {}, build) == {"lines": 3} and build.builds == 2


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "garbage header"])
def test_a_corrupt_entry_is_rebuilt_never_trusted(home: Path, tmp_path: Path, damage: str) -> None:
    source = tmp_path / "corpus.txt"
    source.write_text("a\nb\n")
    build = Builder(source)
    cache.cached("table", {}, build)
    [entry] = _entries(home)
    blob = entry.read_bytes()
    entry.write_bytes(
        {
            "truncate": blob[: len(blob) - 5],
            "flip": blob[:-3] + bytes([blob[-3] ^ 0xFF]) + blob[-2:],
            "empty": b"",
            "garbage header": b"\x00" * 8 + b"not json" + blob[16:],
        }[damage]
    )
    assert cache.cached("table", {}, build) == {"lines": 2}
    assert build.builds == 2
    assert entry.read_bytes() == blob  # rewritten whole
    assert cache.cached("table", {}, build) == {"lines": 2} and build.builds == 2


def test_another_code_version_does_not_read_the_entry(home: Path, tmp_path: Path, monkeypatch) -> None:
    source = tmp_path / "corpus.txt"
    source.write_text("a\n")
    build = Builder(source)
    cache.cached("table", {}, build)
    monkeypatch.setattr(cache, "code_fingerprint", lambda: "an edited module")
    cache.cached("table", {}, build)
    assert build.builds == 2 and len(_entries(home)) == 2


def test_the_cache_can_be_turned_off_and_an_unwritable_folder_costs_nothing_but_time(
    home: Path, tmp_path: Path, monkeypatch
) -> None:
    source = tmp_path / "corpus.txt"
    source.write_text("a\n")
    build = Builder(source)
    monkeypatch.setenv(cache.NO_CACHE_ENV, "1")
    cache.cached("table", {}, build)
    cache.cached("table", {}, build)
    assert build.builds == 2 and not _entries(home)
    monkeypatch.delenv(cache.NO_CACHE_ENV)
    home.mkdir(parents=True)
    (home / "cache").write_text("a file where the folder should be")
    assert cache.cached("table", {}, build) == {"lines": 1}


def test_the_venue_database_from_the_cache_answers_as_a_built_one(home: Path, data_dir: Path) -> None:
    from spec_tod.data.database import VenueDatabase
    from spec_tod.data.readers import find_db_dir, load_database

    db_dir = find_db_dir(data_dir)
    built = VenueDatabase.load(db_dir)
    load_database.cache_clear()
    load_database(db_dir)  # builds and writes the entry
    load_database.cache_clear()
    cached = load_database(db_dir)  # reads it
    assert [path.parent.name for path in _entries(home)] == ["venue-database"]
    queries = [("restaurant", {"area": "centre", "food": "chinese"}), ("hotel", {"stars": "4", "parking": "yes"}),
               ("attraction", {"type": "museum"}), ("train", {"day": "monday", "destination": "cambridge"})]  # fmt: skip
    assert [cached.count(domain, constraints) for domain, constraints in queries] == [
        built.count(domain, constraints) for domain, constraints in queries
    ]
    assert cached.count("restaurant", {"area": "centre"}) > 0
    load_database.cache_clear()
