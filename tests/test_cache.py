"""The on-disk cache of corpus-derived tables: reused while valid, rebuilt when anything it depends on changes."""

from __future__ import annotations

import hashlib
import os
import pickle
import time
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


def test_an_entrys_payload_digest_is_given_only_while_it_is_valid(home: Path, tmp_path: Path) -> None:
    source = tmp_path / "corpus.txt"
    source.write_text("a\nb\n")
    build = Builder(source)
    assert cache.payload_digest("table", {}) is None  # no entry yet
    cache.cached("table", {}, build)
    digest = cache.payload_digest("table", {})
    [entry] = _entries(home)
    pickled = pickle.dumps({"lines": 2}, protocol=pickle.HIGHEST_PROTOCOL)
    assert digest is not None and digest == hashlib.sha256(pickled).hexdigest()
    assert digest in entry.read_bytes().decode("latin-1")  # the one recorded beside the value
    assert cache.payload_digest("table", {"split": "dev"}) is None
    source.write_text("a\n")  # an input changed: no digest, as no value
    assert cache.payload_digest("table", {}) is None
    assert cache.cached("table", {}, build) == {"lines": 1}
    assert cache.payload_digest("table", {}) not in (None, digest)
    entry.write_bytes(entry.read_bytes()[:-1])
    assert cache.payload_digest("table", {}) is None


def test_the_code_fingerprint_follows_every_source_and_resource_file_and_nothing_compiled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "spec_tod"
    (package / "resources").mkdir(parents=True)
    (package / "__pycache__").mkdir()
    (package / "cache.py").write_text("x = 1\n")
    (package / "resources" / "table.json").write_text("{}")
    monkeypatch.setattr(cache, "_PACKAGE", package)

    def fingerprint() -> str:
        cache.code_fingerprint.cache_clear()
        return cache.code_fingerprint()

    first = fingerprint()
    (package / "__pycache__" / "cache.cpython-311.pyc").write_bytes(b"compiled")
    (package / "resources" / "table.pyc").write_bytes(b"compiled")
    assert fingerprint() == first
    (package / "resources" / "table.json").write_text('{"a": 1}')
    second = fingerprint()
    assert second != first
    (package / "resources" / "table.json").rename(package / "resources" / "other.json")  # same bytes, other name
    assert fingerprint() not in (first, second)
    cache.code_fingerprint.cache_clear()


def test_another_code_version_does_not_read_the_entry(home: Path, tmp_path: Path, monkeypatch) -> None:
    source = tmp_path / "corpus.txt"
    source.write_text("a\n")
    build = Builder(source)
    cache.cached("table", {}, build)
    monkeypatch.setattr(cache, "code_fingerprint", lambda: "an edited module")
    cache.cached("table", {}, build)
    assert build.builds == 2 and len(_entries(home)) == 2  # both versions in use: each keeps its entry


def _age(entry: Path, days: float) -> None:
    stamp = time.time() - days * 86400
    os.utime(entry, (stamp, stamp))


def test_the_cache_removes_what_no_command_reads_when_it_writes(home: Path, tmp_path: Path, monkeypatch) -> None:
    source = tmp_path / "corpus.txt"
    source.write_text("a\n")
    build = Builder(source)
    written = []
    for split in ("dev", "test", "train", "extra"):
        cache.cached("table", {"split": split}, build)
        written.append(max(_entries(home), key=lambda entry: entry.stat().st_mtime_ns))
    dev, test, train, extra = written
    cache.cached("other-kind", {"split": "dev"}, build)
    old_version = dev.with_name(dev.name.split("-")[0] + "-" + "0" * 16 + ".pickle")  # dev's identity, other code
    old_format = dev.with_name("f" * 32 + ".pickle")
    interrupted, writing = dev.with_name(f".{dev.name}.x1.tmp"), dev.with_name(f".{dev.name}.x2.tmp")
    for path in (old_version, old_format, interrupted, writing):
        path.write_bytes(b"")
    ages = {dev: 0.5, test: 40, train: 29, extra: 40, old_version: 1.1, old_format: 1.1, interrupted: 1.1, writing: 0}
    for path, days in ages.items():
        _age(path, days)
    cache.cached("table", {"split": "test"}, build)  # read: its time is now
    assert build.builds == 5 and test.stat().st_mtime > time.time() - 60
    monkeypatch.setattr(cache, "code_fingerprint", lambda: "an edited module")
    cache.cached("table", {"split": "validation"}, build)  # a write prunes its kind
    remaining = {path.name for path in (home / "cache" / "table").iterdir()}
    assert build.builds == 6 and len(remaining) == 5
    # read lately, unread for less than 30 days (dev: for less than a day, beside an older version's), a write going on
    assert {dev.name, test.name, train.name, writing.name} < remaining
    assert len(list((home / "cache" / "other-kind").iterdir())) == 1  # another kind: not touched


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
