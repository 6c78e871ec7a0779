"""Writing files so that an interruption never leaves a half-written one behind.

Every output goes to a temporary file beside it (``.<name>.<random>.tmp``) and is renamed over the
target once written and synced. :func:`atomic_group` does the same for outputs that belong together
(records and their manifest, predictions and their scores and report): all are written first and
renamed only when every one of them was written, so a full disk leaves none of them rather than some.
A full disk (or another error of the file system) while writing is one ``SpecTodError`` naming the path.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from spec_tod.errors import SpecTodError

_TEMP_SUFFIX = ".tmp"
_DISK_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS})


def disk_error(path: str | Path, error: OSError) -> SpecTodError:
    """The one-line error for an output that could not be written."""
    return SpecTodError(
        f"{path}: cannot write this output ({error.strerror or error}); free some space or pass another path"
    )


@contextmanager
def _temporary(path: Path, mode: str, encoding: str | None) -> Iterator[tuple[IO[Any], str]]:
    """A synced temporary file beside ``path`` (removed if the block fails); yields the handle and its name."""
    if path.is_dir():
        raise SpecTodError(f"{path}: cannot write this output here, a folder of that name exists; pass a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TEMP_SUFFIX, dir=path.parent)
    except OSError as error:
        blocker = next((parent for parent in path.parents if parent.exists() and not parent.is_dir()), None)
        why = f"{blocker} is a file, not a folder" if blocker is not None else error.strerror
        raise SpecTodError(f"{path}: cannot write this output ({why}); pass a path in a writable folder") from None
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle, tmp
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600 files; outputs should get the permissions any new file would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        if error.errno in _DISK_ERRORS:
            raise disk_error(path, error) from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; rename it over ``path`` only if the block succeeds."""
    path = Path(path)
    with _temporary(path, mode, encoding) as (handle, tmp):
        yield handle
    os.replace(tmp, path)


def write_text(path: str | Path, text: str) -> None:
    with atomic_open(path) as handle:
        handle.write(text)


def write_json(path: str | Path, data: Any, *, indent: int | None = 2) -> None:
    with atomic_open(path) as handle:
        _dump_json(handle, data, indent)


def _dump_json(handle: IO[str], data: Any, indent: int | None) -> None:
    # One string, one write: json.dump writes every token to the file object, 20% slower for the same bytes.
    handle.write(json.dumps(data, indent=indent, ensure_ascii=False) + "\n")


class AtomicGroup:
    """Outputs written by :func:`atomic_group`: renamed into place together, in the order they were written."""

    def __init__(self) -> None:
        self._written: list[tuple[str, Path]] = []
        self._removed: list[Path] = []

    @contextmanager
    def open(self, path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
        path = Path(path)
        with _temporary(path, mode, encoding) as (handle, tmp):
            yield handle
        self._written.append((tmp, path))

    def write_text(self, path: str | Path, text: str) -> None:
        with self.open(path) as handle:
            handle.write(text)

    def write_json(self, path: str | Path, data: Any, *, indent: int | None = 2) -> None:
        with self.open(path) as handle:
            _dump_json(handle, data, indent)

    def remove(self, path: str | Path) -> None:
        """Remove ``path`` (if it exists) when the group is committed: an output that no longer belongs."""
        self._removed.append(Path(path))

    def _commit(self) -> None:
        for path in self._removed:
            path.unlink(missing_ok=True)
        for tmp, path in self._written:
            os.replace(tmp, path)

    def _discard(self) -> None:
        for tmp, _ in self._written:
            Path(tmp).unlink(missing_ok=True)


@contextmanager
def atomic_group() -> Iterator[AtomicGroup]:
    """``with atomic_group() as group: group.write_json(...)``: all of the group's files, or none of them."""
    group = AtomicGroup()
    try:
        yield group
    except BaseException:
        group._discard()
        raise
    group._commit()


def check_output_path(path: str | Path, option: str) -> None:
    """Raise unless a file can be written at ``path``: checked before a command's work, not after it."""
    path = Path(path)
    if path.is_dir():
        raise SpecTodError(f"{option} {path}: is a folder; pass a file path")
    parent = next((folder for folder in path.parents if folder.exists()), None)
    if parent is not None and not parent.is_dir():
        raise SpecTodError(f"{option} {path}: {parent} is a file, not a folder; pass a path in a writable folder")
    if parent is not None and not os.access(parent, os.W_OK | os.X_OK):
        raise SpecTodError(f"{option} {path}: {parent} is not writable; pass a path in a writable folder")


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Remove the temporary files that a killed process left below ``folder``; the paths removed.

    Only for folders that one process owns at a time (a locked run directory, an output folder
    being rewritten): another live writer's temporary file would be removed as well.
    """
    removed = []
    for path in Path(folder).rglob(f".*{_TEMP_SUFFIX}"):
        if path.is_file() and is_temporary(path):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def is_temporary(path: Path) -> bool:
    """Whether ``path`` is named as the temporary files of :func:`atomic_open` are (``.<name>.<random>.tmp``)."""
    name = path.name
    return name.startswith(".") and name.endswith(_TEMP_SUFFIX) and name.count(".") >= 3
