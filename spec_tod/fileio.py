"""Writing files so that an interruption never leaves a half-written one behind."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from spec_tod.errors import SpecTodError


@contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; rename it over ``path`` only if the block succeeds."""
    path = Path(path)
    if path.is_dir():
        raise SpecTodError(f"{path}: cannot write this output here, a folder of that name exists; pass a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        blocker = next((parent for parent in path.parents if parent.exists() and not parent.is_dir()), None)
        why = f"{blocker} is a file, not a folder" if blocker is not None else error.strerror
        raise SpecTodError(f"{path}: cannot write this output ({why}); pass a path in a writable folder") from None
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600 files; outputs should get the permissions any new file would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    with atomic_open(path) as handle:
        handle.write(text)


def write_json(path: str | Path, data: Any, *, indent: int | None = 2) -> None:
    with atomic_open(path) as handle:
        json.dump(data, handle, indent=indent, ensure_ascii=False)
        handle.write("\n")
