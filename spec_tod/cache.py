"""Tables derived from the corpus, kept on disk between commands and never trusted blindly.

``cached(kind, identity, build)`` returns what ``build()`` returns, from
``$SPEC_TOD_HOME/cache/<kind>/<key>.pickle`` when that entry is still valid. ``build`` returns the
value and the input files it read; an entry is valid only when

* its key matches: the ``identity`` (what was asked: dataset, folder, split, options) and the
  fingerprint of spec-tod's own code and resources (so a new version, or an edited module, never
  reads a table an older one wrote);
* every input file it recorded still has the SHA-256 it had when the entry was written;
* its payload still has the SHA-256 recorded beside it (a truncated or overwritten file is caught
  before it is unpickled).

Anything else (a missing, stale, truncated or unreadable entry) is rebuilt and rewritten; writes go
to a temporary file and are renamed, so concurrent commands never read a half-written entry. A cache
folder that cannot be written costs the speed, not the command. ``SPEC_TOD_NO_CACHE=1`` turns the
cache off (benchmarks of the cold path).

The cache does not grow without end. A read touches the entry's time, and when an entry is written
the entries of its kind that no command has read for :data:`UNUSED_DAYS` days are removed, and those
unread for a day that an identity has beside a newer one: another code version's, which this version
never reads (an entry's name starts with a hash of its identity alone).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from spec_tod import __version__
from spec_tod.data.gc_pause import gc_paused
from spec_tod.errors import SpecTodError
from spec_tod.fileio import atomic_open, is_temporary
from spec_tod.settings import state_dir

NO_CACHE_ENV = "SPEC_TOD_NO_CACHE"
UNUSED_DAYS = 30
"""An entry no command has read for this many days is removed when another entry of its kind is written."""
_FORMAT = 2
_NAME_PART = 16
"""Hex digits of each of the two hashes in an entry's name: ``<identity>-<identity and code>.pickle``."""
_PACKAGE = Path(__file__).resolve().parent

T = TypeVar("T")


def cache_dir() -> Path:
    """Where the entries live: ``$SPEC_TOD_HOME/cache``."""
    return state_dir() / "cache"


def enabled() -> bool:
    return os.environ.get(NO_CACHE_ENV, "") in ("", "0")


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 over the version and every source and resource file of the installed package."""
    # os.walk and plain strings rather than Path.rglob, in every command that reads the cache (spec-tod
    # score: in both of its processes): half the time (docs/speed.md).
    digest = hashlib.sha256(f"{__version__}\0{_FORMAT}".encode())
    package = str(_PACKAGE)
    found: list[str] = []
    for folder, folders, files in os.walk(package):
        folders[:] = [name for name in folders if name != "__pycache__"]
        found += [os.path.join(folder, name) for name in files if not name.endswith(".pyc")]
    for path in sorted(found):
        digest.update(os.path.relpath(path, package).encode() + b"\0")
        with open(path, "rb") as handle:
            digest.update(handle.read())
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def cached(
    kind: str, identity: dict[str, Any], build: Callable[[], tuple[T, Sequence[Path]]], *, derived_from: str = ""
) -> T:
    """``build()``'s value, from the cache when the entry for ``identity`` is valid (see the module doc).

    ``derived_from``: the digest of another entry's value (:func:`payload_digest`) that ``build`` reads.
    It is part of the key, not of the identity: an entry built from a newer value supersedes the
    older one, which is then pruned as another code version's would be."""
    if not enabled():
        return build()[0]
    entry = _entry(kind, identity, derived_from)
    found = _read(entry)
    if found is not None:
        return found
    value, files = build()
    if _write(entry, value, files):
        _prune(entry)
    return value


def lookup(kind: str, identity: dict[str, Any], *, derived_from: str = "") -> Any | None:
    """The value of the valid entry for ``identity`` (and ``derived_from``, as in :func:`cached`), or ``None``
    (nothing is built or written)."""
    return _read(_entry(kind, identity, derived_from)) if enabled() else None


def payload_digest(kind: str, identity: dict[str, Any]) -> str | None:
    """The SHA-256 of the valid entry for ``identity``'s value, or ``None``; the value is not unpickled.

    For a table derived from an entry's value alone: kept with this digest (``derived_from``) it is
    valid exactly as long as that entry, and is read without reading the entry's value."""
    if not enabled():
        return None
    entry = _entry(kind, identity)
    checked = _checked(entry)
    if checked is None:
        return None
    _touch(entry)
    return checked[0]


def _entry(kind: str, identity: dict[str, Any], derived_from: str = "") -> Path:
    asked = json.dumps(identity, sort_keys=True, default=str)
    family = hashlib.sha256(asked.encode()).hexdigest()[:_NAME_PART]
    key = hashlib.sha256(f"{code_fingerprint()}\0{derived_from}\0{asked}".encode()).hexdigest()[:_NAME_PART]
    return cache_dir() / kind / f"{family}-{key}.pickle"


def _checked(entry: Path) -> tuple[str, bytes] | None:
    """The digest and the pickled value of ``entry`` if it is valid (module doc), else ``None``."""
    try:
        blob = entry.read_bytes()
        header_size = int.from_bytes(blob[:8], "big")
        header = json.loads(blob[8 : 8 + header_size])
        payload = blob[8 + header_size :]
        digest = hashlib.sha256(payload).hexdigest()
        if header["format"] != _FORMAT or digest != header["payload_sha256"]:
            return None
        for name, file_digest in header["files"]:
            if file_sha256(Path(name)) != file_digest:
                return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return digest, payload


def _read(entry: Path) -> Any | None:
    checked = _checked(entry)
    if checked is None:
        return None
    try:
        with gc_paused():  # a split unpickles into millions of objects: no collections while they are made
            value = pickle.loads(checked[1])
    except (ValueError, KeyError, TypeError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None
    _touch(entry)
    return value


def _touch(entry: Path) -> None:
    try:
        os.utime(entry)  # its last use, for the pruning
    except OSError:  # removed meanwhile by another command, or a read-only cache: the value is still good
        pass


def _prune(written: Path) -> None:
    """Remove, beside ``written``, the entries that no command has read for :data:`UNUSED_DAYS` days, and
    for a day those of an identity that has a newer entry (another code version's) or of another format:
    two versions in use side by side keep theirs. And temporary files of writes interrupted a day ago."""
    now = time.time()
    found = []
    try:
        for entry in written.parent.iterdir():
            found.append((entry, entry.stat().st_mtime))
    except OSError:  # an entry removed meanwhile by another command: prune at the next write
        return
    newest: dict[str, float] = {}
    for entry, used in found:
        family = entry.name.partition("-")[0]
        newest[family] = max(used, newest.get(family, used))
    for entry, used in found:
        name = entry.name
        if is_temporary(entry) or (name.endswith(".pickle") and len(name) != 2 * _NAME_PART + 1 + len(".pickle")):
            days = 1.0
        elif name.endswith(".pickle") and entry != written:
            days = UNUSED_DAYS if used == newest[name.partition("-")[0]] else 1.0
        else:
            continue
        if used < now - days * 86400:
            try:
                entry.unlink(missing_ok=True)
            except OSError:
                pass


def _write(entry: Path, value: Any, files: Sequence[Path]) -> bool:
    try:
        recorded = [[str(Path(path).resolve()), file_sha256(Path(path))] for path in dict.fromkeys(files)]
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        header = json.dumps(
            {"format": _FORMAT, "payload_sha256": hashlib.sha256(payload).hexdigest(), "files": recorded}
        ).encode()
        with atomic_open(entry, "wb") as handle:
            handle.write(len(header).to_bytes(8, "big"))
            handle.write(header)
            handle.write(payload)
    except (OSError, SpecTodError, pickle.PicklingError):
        return False  # an unwritable cache folder slows the next command down, nothing more
    return True
