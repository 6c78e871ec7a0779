"""Append-only checkpoint files: one JSON line per finished turn, one file per shard.

A bench run writes every finished turn (done or failed) to ``<run_dir>/shards/shard-I-of-N.jsonl``
as soon as it ends. Lines go through a writer task per shard that batches whatever is pending,
writes it with one ``os.write`` on an ``O_APPEND`` descriptor and ``fsync``s once per batch (group
commit), so durability costs one sync per batch, not per turn, and the event loop never blocks on
the disk.

After a SIGKILL the file holds a prefix of the lines that were queued, possibly ending in a torn
line; :func:`load_records` drops that tail and :class:`ShardWriter` cuts it off before appending
again. It cuts only bytes it has just read through its own descriptor, and only one process writes a
run directory at a time (:mod:`spec_tod.bench.rundir_lock`), so no line another process appended
is ever lost. A malformed line anywhere else is corruption and a ``SpecTodError``. The same turn may
appear more than once: a failed turn is retried on the next run and its new line follows the old
one; the last line of a turn wins.

A writer also keeps the records of its file (those it found, then those it wrote), so that the run's
end reads back only the shards another session wrote: ``load_records(paths, written)``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from spec_tod.errors import SpecTodError
from spec_tod.fileio import atomic_open

SHARDS_DIR = "shards"
Record = TypeVar("Record", bound=BaseModel)
CallKind = Literal["dst", "response"]


class CallRecord(BaseModel):
    """One model call of a turn: what came back and what it cost."""

    model_config = ConfigDict(extra="forbid")

    kind: CallKind
    text: str
    """The generated text, without the prefill."""
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    generated_tokens: int | None = None
    latency_s: float
    attempts: int = 1
    endpoint: str = ""
    ttft_s: float | None = None
    """Streamed answers: seconds from sending to the first piece of text."""
    itl_s: list[float] = []
    """Streamed answers: seconds between successive pieces of text (inter-token latency)."""


class TurnRecord(BaseModel):
    """The outcome of one system turn; a line of a shard file."""

    model_config = ConfigDict(extra="forbid")

    dialogue_id: str
    turn: int
    status: Literal["done", "failed"]
    domain: str = "general"
    """The domain of the dialogue's last call so far (end-to-end) or of this turn's last call (DST)."""
    updates: dict[str, dict[str, str]] | None = None
    """The validated state of each domain this turn called, in call order; ``{}`` when the model
    called no function, ``None`` when its function message could not be read."""
    db_count: int | None = None
    acts: dict | None = None
    """The parsed action (end-to-end); ``None`` in DST mode or when it did not parse."""
    response: str = ""
    """The delexicalised response (end-to-end); empty in DST mode."""
    problems: list[str] = []
    """Parse and validation problems, each prefixed with the call kind."""
    parse_failed: bool = False
    """True when a call's output could not be read at all (fallbacks were used)."""
    error: str | None = None
    """Why a failed turn failed (the request error after all retries)."""
    calls: list[CallRecord] = []
    session: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0

    @property
    def key(self) -> tuple[str, int]:
        return self.dialogue_id, self.turn


def shard_path(run_dir: Path, shard: int, shards: int) -> Path:
    """``<run_dir>/shards/shard-<I>-of-<N>.jsonl``."""
    width = len(str(shards - 1))
    return run_dir / SHARDS_DIR / f"shard-{shard:0{width}d}-of-{shards}.jsonl"


def _line(record: BaseModel) -> str:
    # pydantic's own serializer: compact and UTF-8 like json.dumps(..., ensure_ascii=False, separators=(",", ":"))
    # of model_dump(mode="json"), 5x faster per turn; it differs only in float spelling (1e-5 for 1e-05), which
    # reads back the same
    return record.model_dump_json() + "\n"


def _read_lines(path: Path, model: type[Record]) -> tuple[list[Record], int]:
    """The records of ``path`` and the byte length of its intact part (a torn last line excluded)."""
    return _parse_lines(path, path.read_bytes(), model)


def _parse_lines(path: Path, data: bytes, model: type[Record]) -> tuple[list[Record], int]:
    records: list[Record] = []
    position = 0
    line_number = 0
    while position < len(data):
        end = data.find(b"\n", position)
        line_number += 1
        if end < 0:
            break  # torn last line: the write of this line never finished
        try:
            records.append(model.model_validate_json(data[position:end]))
        except ValidationError as error:
            raise SpecTodError(
                f"{path}: line {line_number} is not a {model.__name__} line ({error.errors()[0]['msg']}); the checkpoint "
                "is corrupt: remove the line (that turn will be run again) and rerun"
            ) from None
        position = end + 1
    return records, position


def read_intact(path: Path, model: type[Record]) -> list[Record]:
    """The records of an append-only file of ``model`` lines, a torn last line left out; none if it does not exist."""
    return _read_lines(path, model)[0] if path.is_file() else []


def load_records(
    paths: Iterable[Path], written: Mapping[Path, Sequence[TurnRecord]] | None = None
) -> dict[tuple[str, int], TurnRecord]:
    """Every turn's latest record across the shard files that exist, keyed by ``(dialogue id, turn)``.

    ``written`` holds the records of files this process has open for writing (:attr:`ShardWriter.records`):
    those files are not read again.
    """
    latest: dict[tuple[str, int], TurnRecord] = {}
    for path in paths:
        if written is not None and path in written:
            records: Sequence[TurnRecord] = written[path]
        else:
            records = _read_lines(path, TurnRecord)[0] if path.is_file() else []
        for record in records:
            latest[record.key] = record
    return latest


class ShardWriter(Generic[Record]):
    """Appends records (``model`` lines) to one file, durably and in the order they were queued."""

    def __init__(self, path: Path, model: type[Record]) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            found = self._cut_torn_tail(model)
        except BaseException:
            os.close(self._fd)
            raise
        self.records: list[Record] = found
        """The file's records in file order: its intact lines when opened, then each appended one once it is on disk."""
        self._pending: list[tuple[Record, bytes, asyncio.Future[None]]] = []
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task = asyncio.get_running_loop().create_task(self._drain())

    def _cut_torn_tail(self, model: type[Record]) -> list[Record]:
        """Truncate a torn last line, read through this descriptor, so that the next line starts clean; the intact
        lines' records."""
        chunks = []
        offset = 0
        while chunk := os.pread(self._fd, 1 << 20, offset):
            chunks.append(chunk)
            offset += len(chunk)
        data = b"".join(chunks)
        records, intact = _parse_lines(self.path, data, model)
        if intact != len(data):
            os.ftruncate(self._fd, intact)
        return records

    async def append(self, record: Record) -> None:
        """Queue ``record``; returns once it is on disk."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((record, _line(record).encode("utf-8"), done))
        self._wakeup.set()
        await done

    async def _drain(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            batch, self._pending = self._pending, []
            if batch:
                await self._commit(batch)
            if self._closing and not self._pending:
                return

    async def _commit(self, batch: list[tuple[Record, bytes, asyncio.Future[None]]]) -> None:
        failure: Exception
        try:
            await asyncio.to_thread(self._write, b"".join(line for _, line, _ in batch))
        except OSError as error:
            failure = SpecTodError(
                f"{self.path}: cannot write the checkpoint ({error.strerror or error}); free some space and rerun"
            )
        except Exception as error:  # a defect: the turns waiting on this batch must fail, not wait forever
            failure = error
        else:
            for record, _, done in batch:
                self.records.append(record)
                if not done.done():
                    done.set_result(None)
            return
        for _, _, done in batch:
            if not done.done():  # its turn may have been cancelled meanwhile (an earlier failure stops the run)
                done.set_exception(failure)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        os.fsync(self._fd)

    async def close(self) -> None:
        """Write what is queued and close the file."""
        self._closing = True
        self._wakeup.set()
        await self._task
        os.close(self._fd)


def write_records(path: Path, records: Iterable[TurnRecord]) -> None:
    """Write a whole shard file at once (temporary file + rename), for ``bench merge``."""
    with atomic_open(path) as handle:
        for record in records:
            handle.write(_line(record))
