"""Dataset readers: MultiWOZ 2.1, MultiWOZ 2.2 and SGD into the internal dialogue model::

    result = load_dialogues("multiwoz21", Path("../shared/data"), "test")
    result.dialogues[0].turns[1].system_delex
    # 'Booking completed ! your taxi will be [value_car] Contact number is [value_phone]'

Every reader gives ``Dialogue`` objects (:mod:`spec_tod.data.dialogue`) in file order, the list
of files it read and, with ``skip_invalid``, the dialogues it left out. Bad input (a missing
folder or file, malformed JSON, a dialogue without the fields a reader needs) raises
``SpecTodError`` naming the file, the dialogue and what was expected.

MultiWOZ turns get ``db_count`` from the venue database (:mod:`spec_tod.data.database`), found
beside the data unless ``db_dir`` is given; without one the count stays ``None`` and a warning
says so.
"""

from __future__ import annotations

import os
import warnings
from functools import lru_cache
from pathlib import Path
from types import ModuleType

from spec_tod.cache import cached
from spec_tod.data.database import DB_DOMAINS, VenueDatabase
from spec_tod.data.readers import multiwoz21, multiwoz22, sgd
from spec_tod.data.readers.collect import LoadResult, Progress
from spec_tod.data.readers.locate import SPLITS, find_db_dir, find_schema, multiwoz21_dir, multiwoz22_dir, sgd_dir
from spec_tod.errors import SpecTodError

__all__ = ["DATASETS", "SPLITS", "LoadResult", "find_db_dir", "find_schema", "load_database", "load_dialogues"]

DATASETS = ("multiwoz21", "multiwoz22", "sgd")


def load_dialogues(
    dataset: str,
    data_dir: Path,
    split: str,
    *,
    schema_path: Path | None = None,
    db_dir: Path | None = None,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> LoadResult:
    """Read one split (``train``, ``dev`` or ``test``) of ``dataset`` from ``data_dir``.

    ``data_dir`` is the corpus folder or the folder holding it (``multiwoz21/``, ``multiwoz22/``,
    ``sgd/``). ``schema_path`` overrides :func:`find_schema`; the schema is listed in ``files``
    when found, and SGD dialogues are checked against it. ``db_dir`` overrides
    :func:`find_db_dir` (MultiWOZ only). With ``skip_invalid`` invalid dialogues are left out and
    listed in ``skipped`` instead of raising. ``progress`` is called as dialogues are read.
    """
    if dataset not in DATASETS:
        raise SpecTodError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise SpecTodError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise SpecTodError(f"data folder {data_dir} does not exist; pass the folder holding the {dataset} corpus")
    if dataset == "sgd":
        folder = sgd_dir(data_dir)
        return cached(
            "split",
            {"dataset": dataset, "folder": _listing(folder), "split": split, "skip_invalid": skip_invalid,
             "schema": schema_path.resolve() if schema_path else None},
            lambda: _with_files(
                sgd.read(folder, split, schema_path=schema_path, skip_invalid=skip_invalid, progress=progress)
            ),
        )
    reader: ModuleType
    if dataset == "multiwoz21":
        folder, reader = multiwoz21_dir(data_dir), multiwoz21
    else:
        folder, reader = multiwoz22_dir(data_dir), multiwoz22
    schema_files = [find_schema(dataset, data_dir, schema_path)] if schema_path else _found_schema(dataset, data_dir)
    db_folder = _db_folder(data_dir, db_dir)
    db_files = [db_folder / f"{domain}_db.json" for domain in DB_DOMAINS] if db_folder else []

    def read() -> tuple[LoadResult, list[Path]]:
        db = load_database(db_folder.resolve()) if db_folder else None
        result = reader.read(folder, split, db=db, skip_invalid=skip_invalid, progress=progress)
        result.files.extend([*schema_files, *db_files])
        return _with_files(result)

    # The parsed split (venue counts included) is kept on disk: reading it again costs a fraction.
    identity = {"dataset": dataset, "folder": _listing(folder), "split": split, "skip_invalid": skip_invalid,
                "schema": [p.resolve() for p in schema_files], "db": db_folder.resolve() if db_folder else None}
    return cached("split", identity, read)


def _listing(folder: Path) -> tuple[str, list[str]]:
    # A file added beside the data (data.json next to the zips) can change what a reader reads.
    return str(folder.resolve()), sorted(os.listdir(folder))


def _with_files(result: LoadResult) -> tuple[LoadResult, list[Path]]:
    return result, result.files


def _found_schema(dataset: str, data_dir: Path) -> list[Path]:
    try:
        return [find_schema(dataset, data_dir)]
    except SpecTodError:
        return []  # MultiWOZ dialogues are read without it; the stages that need it will say so


def _db_folder(data_dir: Path, db_dir: Path | None) -> Path | None:
    if db_dir is not None:
        return find_db_dir(data_dir, db_dir)
    try:
        return find_db_dir(data_dir)
    except SpecTodError as exc:
        warnings.warn(f"{exc}; db_count stays None", stacklevel=3)
        return None


@lru_cache(maxsize=2)
def load_database(db_dir: Path) -> VenueDatabase:
    """The venue database of ``db_dir``: built once per process, and kept on disk between commands."""
    # Kept between calls: building dev and test reads the same tables, and the database caches
    # its query results, which repeat across splits. On disk: building it (normalising every
    # column of every venue) took bench, score and build-data 50-100 ms each; unpickling, a fifth.
    db_dir = Path(db_dir).resolve()
    files = [db_dir / f"{domain}_db.json" for domain in DB_DOMAINS]
    return cached("venue-database", {"db_dir": db_dir}, lambda: (VenueDatabase.load(db_dir), files))
