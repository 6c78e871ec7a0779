"""The record of servers spec-tod started, so that later commands can find, inspect and stop them.

One JSON file, ``$SPEC_TOD_HOME/servers.json`` (default ``~/.cache/spec-tod/servers.json``),
holds one :class:`ServerRecord` per running server. It is rewritten atomically (temp file +
rename) under a lock file, so two ``spec-tod serve`` commands at once cannot lose each other's
entry. ``spec-tod bench`` calls :func:`latest_endpoint` when no ``--endpoint`` is given.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from spec_tod.errors import SpecTodError
from spec_tod.fileio import write_json
from spec_tod.parsing import loads_json
from spec_tod.settings import state_dir


class ServerRecord(BaseModel):
    """One started server: how to reach it and how to stop it."""

    name: str
    engine: str
    url: str
    """Root URL, e.g. ``http://127.0.0.1:8030``; the health route and ``/v1`` hang off it."""
    openai_base_url: str
    """The OpenAI-compatible base URL (``<url>/v1``)."""
    model: str
    """The model name clients send (``served_model``), a folder path or a hub id."""
    source: str
    """The model folder or hub id the user asked to serve."""
    kind: Literal["container", "process"]
    container_id: str | None = None
    docker_host: str | None = None
    pid: int | None = None
    pid_start: str | None = None
    """The process's start time as the kernel reports it, so a reused PID is never mistaken for ours."""
    log_path: str | None = None
    started_at: str = ""


def state_path() -> Path:
    """The servers file."""
    return state_dir() / "servers.json"


def now() -> str:
    """The current time as an ISO string (UTC), for ``started_at``."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextmanager
def _locked() -> Iterator[None]:
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read() -> list[ServerRecord]:
    path = state_path()
    if not path.is_file():
        return []
    try:
        raw = loads_json(path.read_text(encoding="utf-8"))
        return [ServerRecord.model_validate(item) for item in raw.get("servers", [])]
    except (json.JSONDecodeError, ValidationError, AttributeError) as error:
        raise SpecTodError(
            f"{path} is not a spec-tod servers file ({str(error).splitlines()[0]}); "
            "stop the servers by hand (docker rm -f / kill) and delete the file"
        ) from None


def _write(records: list[ServerRecord]) -> None:
    write_json(state_path(), {"servers": [record.model_dump() for record in records]})


def servers() -> list[ServerRecord]:
    """Every recorded server, oldest first."""
    with _locked():
        return _read()


def add(record: ServerRecord) -> None:
    """Record ``record``, replacing any entry with the same name."""
    with _locked():
        _write([r for r in _read() if r.name != record.name] + [record])


def remove(name: str) -> None:
    """Forget the server called ``name`` (nothing happens when there is none)."""
    with _locked():
        records = _read()
        if any(r.name == name for r in records):
            _write([r for r in records if r.name != name])


def get(name: str) -> ServerRecord:
    """The server called ``name``; a plain error listing the known names otherwise."""
    records = servers()
    for record in records:
        if record.name == name:
            return record
    known = ", ".join(r.name for r in records) or "none"
    raise SpecTodError(f"no server named {name!r} was started by spec-tod (known: {known}); see `spec-tod serve status`")


def latest() -> ServerRecord | None:
    """The most recently started server, or ``None``."""
    records = servers()
    return records[-1] if records else None


def latest_endpoint() -> str | None:
    """The root URL of the most recently started server (``http://127.0.0.1:PORT``), or ``None``.

    ``spec-tod bench`` uses it when ``--endpoint`` is omitted.
    """
    record = latest()
    return record.url if record else None
