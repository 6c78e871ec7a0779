"""Finding a corpus, its schema and the venue database from the folder the user named.

``--data-dir`` may point at the corpus folder itself (``shared/data/multiwoz21``), at the folder
that holds the corpora (``shared/data``), or into a clone of the original repositories
(``multiwoz/data/MultiWOZ_2.2``). Every function tries a short fixed list of places, takes the
first that fits, and otherwise raises a ``SpecTodError`` that lists where it looked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from spec_tod.errors import SpecTodError

SPLITS = ("train", "dev", "test")
MULTIWOZ21_FILES = tuple(
    f"{stem}.json{zipped}" for stem in ("test", "val", "train", "data") for zipped in ("", ".zip")
)
"""Any of these marks a MultiWOZ 2.1 folder."""


def multiwoz21_dir(data_dir: Path) -> Path:
    """The folder holding MultiWOZ 2.1's split files or its original ``data.json``."""
    return _first(
        "MultiWOZ 2.1 (test.json, val.json, train.json or data.json, optionally zipped)",
        data_dir,
        [data_dir, data_dir / "multiwoz21", data_dir / "MultiWOZ_2.1"],
        lambda folder: any((folder / name).is_file() for name in MULTIWOZ21_FILES),
    )


def multiwoz22_dir(data_dir: Path) -> Path:
    """The folder holding MultiWOZ 2.2's ``train/ dev/ test/`` and ``dialog_acts.json``."""
    return _first(
        "MultiWOZ 2.2 (dialog_acts.json and train/ dev/ test/ folders)",
        data_dir,
        [data_dir, data_dir / "multiwoz22", data_dir / "MultiWOZ_2.2", data_dir / "data" / "MultiWOZ_2.2"],
        lambda folder: (folder / "dialog_acts.json").is_file(),
    )


def sgd_dir(data_dir: Path) -> Path:
    """The SGD folder holding one sub-folder per split."""
    return _first(
        "SGD (train/ dev/ test/ folders with schema.json and dialogues_*.json)",
        data_dir,
        [data_dir, data_dir / "sgd", data_dir / "dstc8-schema-guided-dialogue"],
        lambda folder: any((folder / split / "schema.json").is_file() for split in SPLITS),
    )


def find_schema(dataset: str, data_dir: Path, schema_path: Path | None = None, *, split: str | None = None) -> Path:
    """The ``schema.json`` for ``dataset``; an explicit ``schema_path`` wins.

    MultiWOZ (2.1 and 2.2 share the 2.2 schema): ``data_dir/../multiwoz22/schema.json``,
    ``data_dir/multiwoz22/schema.json``, ``data_dir/schema.json``, then the layout of the MultiWOZ
    repository (``data/MultiWOZ_2.2/schema.json`` below or ``MultiWOZ_2.2/schema.json`` beside the
    data folder). SGD: ``<split folder>/schema.json``, where a missing ``split`` means the first of
    train, dev, test that has one (SGD's schemas differ per split).
    """
    if schema_path is not None:
        if not Path(schema_path).is_file():
            raise SpecTodError(f"schema file {schema_path} not found; pass the path of an existing schema.json")
        return Path(schema_path)
    if dataset == "sgd":
        root = sgd_dir(data_dir)
        splits = [split] if split else list(SPLITS)
        candidates = [root / name / "schema.json" for name in splits]
    else:
        candidates = [
            data_dir.parent / "multiwoz22" / "schema.json",
            data_dir / "multiwoz22" / "schema.json",
            data_dir / "schema.json",
            data_dir / "data" / "MultiWOZ_2.2" / "schema.json",
            data_dir.parent / "MultiWOZ_2.2" / "schema.json",
        ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise SpecTodError(
        f"no {dataset} schema.json found; looked at {_listing(candidates)}; pass the schema file explicitly"
    )


def find_db_dir(data_dir: Path, db_dir: Path | None = None) -> Path:
    """The MultiWOZ venue database folder: ``multiwoz_db/`` inside or beside ``data_dir``, or the
    MultiWOZ repository's ``db/`` (inside, beside, or two levels up from ``data/MultiWOZ_2.x``).
    An explicit ``db_dir`` wins."""
    if db_dir is not None:
        if not Path(db_dir).is_dir():
            raise SpecTodError(f"database folder {db_dir} not found; pass the folder holding restaurant_db.json etc.")
        return Path(db_dir)
    candidates = [
        data_dir / "multiwoz_db",
        data_dir.parent / "multiwoz_db",
        data_dir / "db",
        data_dir.parent / "db",
        data_dir.parent.parent / "db",
    ]
    for candidate in candidates:
        if (candidate / "restaurant_db.json").is_file():
            return candidate
    raise SpecTodError(
        f"no MultiWOZ venue database found (a folder with restaurant_db.json); looked at {_listing(candidates)}; "
        "pass the database folder explicitly"
    )


def split_dir(root: Path, split: str) -> Path:
    """``root/<split>``, which must exist (MultiWOZ 2.2 and SGD keep one folder per split)."""
    folder = root / split
    if not folder.is_dir():
        raise SpecTodError(f"{folder}: split folder not found; this copy of the corpus has no {split!r} split")
    return folder


def _first(what: str, data_dir: Path, candidates: list[Path], fits: Callable[[Path], bool]) -> Path:
    if not data_dir.is_dir():
        raise SpecTodError(f"data folder {data_dir} does not exist; pass the folder holding {what}")
    for candidate in candidates:
        if candidate.is_dir() and fits(candidate):
            return candidate
    raise SpecTodError(f"{data_dir}: no {what} found; looked in {_listing(candidates)}")


def _listing(paths: Iterable[Path]) -> str:
    return ", ".join(str(path) for path in dict.fromkeys(paths))
