"""Checkpoint files: durable appends, a torn last line after a kill, corruption, latest record wins."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from spec_tod.bench.store import ShardWriter, TurnRecord, load_records, shard_path
from spec_tod.errors import SpecTodError


def _record(dialogue: str, turn: int, status: str = "done") -> TurnRecord:
    return TurnRecord(dialogue_id=dialogue, turn=turn, status=status, response=f"r{turn}")


def _append(path: Path, records: list[TurnRecord]) -> None:
    async def write() -> None:
        writer = ShardWriter(path, TurnRecord)
        await asyncio.gather(*(writer.append(record) for record in records))
        await writer.close()

    asyncio.run(write())


def test_shard_path_names_the_shard_and_the_count(tmp_path: Path) -> None:
    assert shard_path(tmp_path, 3, 12).name == "shard-03-of-12.jsonl"
    assert shard_path(tmp_path, 0, 1).name == "shard-0-of-1.jsonl"


def test_appends_keep_queue_order_and_the_latest_record_of_a_turn_wins(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    _append(path, [_record("A", 0), _record("A", 1, "failed"), _record("B", 0)])
    _append(path, [_record("A", 1)])
    lines = path.read_text().splitlines()
    assert len(lines) == 4
    records = load_records([path])
    assert sorted(records) == [("A", 0), ("A", 1), ("B", 0)]
    assert records["A", 1].status == "done"


def test_a_torn_last_line_is_dropped_and_truncated_before_the_next_append(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    _append(path, [_record("A", 0), _record("A", 1)])
    intact = path.read_bytes()
    path.write_bytes(intact + b'{"dialogue_id": "A", "tu')  # what a SIGKILL mid-write leaves
    assert sorted(load_records([path])) == [("A", 0), ("A", 1)]
    _append(path, [_record("A", 2)])
    assert path.read_bytes().startswith(intact)
    assert sorted(load_records([path])) == [("A", 0), ("A", 1), ("A", 2)]


def test_a_corrupt_line_in_the_middle_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    _append(path, [_record("A", 0)])
    path.write_bytes(path.read_bytes() + b"garbage\n" + path.read_bytes())
    with pytest.raises(SpecTodError, match=r"s\.jsonl: line 2"):
        load_records([path])


def test_a_writer_keeps_its_files_records_as_a_fresh_read_finds_them(tmp_path: Path) -> None:
    path, other = tmp_path / "s.jsonl", tmp_path / "t.jsonl"
    _append(path, [_record("A", 0), _record("A", 1, "failed")])
    _append(other, [_record("C", 0)])
    path.write_bytes(path.read_bytes() + b'{"dialogue_id": "A", "tu')  # a torn tail, cut when the writer opens

    async def write() -> list[TurnRecord]:
        writer = ShardWriter(path, TurnRecord)
        await asyncio.gather(*(writer.append(record) for record in [_record("A", 1), _record("B", 0)]))
        await writer.close()
        return writer.records

    written = asyncio.run(write())
    assert [(*r.key, r.status) for r in written] == [("A", 0, "done"), ("A", 1, "failed"), ("A", 1, "done"), ("B", 0, "done")]
    path.write_text("")  # proves the file itself is not read again: its records come from the writer
    kept = load_records([path, other], {path: written})
    assert list(kept) == [("A", 0), ("A", 1), ("B", 0), ("C", 0)] and kept["A", 1].status == "done"


@pytest.mark.parametrize(
    ("raised", "expected", "message"),
    [(OSError(28, "No space left on device"), SpecTodError, r"s\.jsonl: cannot write the checkpoint \(No space"),
     (TypeError("a defect"), TypeError, "a defect")],
)  # fmt: skip
def test_a_failed_write_fails_the_waiting_appends_and_the_next_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raised: Exception, expected: type[Exception], message: str
) -> None:
    def fail(self: ShardWriter[TurnRecord], data: bytes) -> None:
        raise raised

    monkeypatch.setattr(ShardWriter, "_write", fail)

    async def write() -> list[BaseException | None]:
        writer = ShardWriter(tmp_path / "s.jsonl", TurnRecord)
        first = await asyncio.gather(*(writer.append(_record("A", turn)) for turn in range(3)), return_exceptions=True)
        later = await asyncio.gather(writer.append(_record("B", 0)), return_exceptions=True)
        await writer.close()
        return [*first, *later]

    # bounded: before the fix a write failing with anything but OSError left every append waiting forever
    outcomes = asyncio.run(asyncio.wait_for(write(), timeout=30))
    assert len(outcomes) == 4 and all(isinstance(outcome, expected) for outcome in outcomes)
    assert all(re.search(message, str(outcome)) for outcome in outcomes)
    assert (tmp_path / "s.jsonl").read_bytes() == b""
