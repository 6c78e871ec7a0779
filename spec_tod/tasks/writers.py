"""Writing instruction records: ShareGPT or OpenAI-messages JSONL, the manifest, an HF datasets folder.

Layouts, one JSON object per line and per dialogue, keys in this order:

* ShareGPT (the release's layout): ``{"id": ..., "conversations": [{"from": role, "value": text}, ...]}``;
* messages (OpenAI chat): ``{"id": ..., "messages": [{"role": role, "content": text}, ...]}``.

Lines are ``json.dumps(..., ensure_ascii=False)`` with default separators, so the same records give
the same bytes. The data file and its manifest are written to temporary files and renamed into place
together (:func:`spec_tod.fileio.atomic_group`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any, Literal

from spec_tod.fileio import AtomicGroup, atomic_open
from spec_tod.json_escape import LineEscapes
from spec_tod.tasks.jsontext import dumps

Layout = Literal["sharegpt", "messages"]
LAYOUTS: tuple[Layout, ...] = ("sharegpt", "messages")


WEIGHT_FIELD = "weight"
"""Each message's training weight (1: trained on, 0: context), OpenAI's fine-tuning field name."""


def sharegpt_messages(messages: Sequence[tuple[str, str]], weights: Sequence[int]) -> list[dict]:
    """ShareGPT ``{"from", "value", "weight"}`` messages."""
    return [
        {"from": role, "value": text, WEIGHT_FIELD: weight}
        for (role, text), weight in zip(messages, weights, strict=True)
    ]


_LINES = LineEscapes(encode_basestring)  # json.dumps(..., ensure_ascii=False)'s escaping
_MARK = "\x00"
_MARK_LITERAL = '"\\u0000"'
_LONG = 1024


def jsonl_line(record_id: str, messages: Sequence[tuple[str, str]], weights: Sequence[int], layout: Layout) -> str:
    """One record as a JSON line (no newline) in ``layout``: ``json.dumps(row, ensure_ascii=False)``.

    A long first message (the system message, most of a record's bytes) is escaped from remembered
    lines (:mod:`spec_tod.json_escape`) and put in place of a NUL placeholder, unless a NUL occurs in the
    record itself; ``tests/tasks/test_writers.py`` checks the lines against ``json.dumps``.
    """
    first = messages[0][1] if messages else ""
    spliced = len(first) >= _LONG and _MARK not in record_id and not any(_MARK in text for _, text in messages)
    if spliced:
        messages = [(messages[0][0], _MARK), *messages[1:]]
    if layout == "sharegpt":
        row = {"id": record_id, "conversations": sharegpt_messages(messages, weights)}
    else:
        row = {
            "id": record_id,
            "messages": [
                {"role": role, "content": text, WEIGHT_FIELD: weight}
                for (role, text), weight in zip(messages, weights, strict=True)
            ],
        }
    line = dumps(row)
    return line.replace(_MARK_LITERAL, _LINES.quoted(first), 1) if spliced else line


def write_lines(path: Path, lines: Iterable[str], group: AtomicGroup | None = None) -> str:
    """Write ``lines`` newline-terminated to ``path`` atomically (as one of ``group``'s files when given); its sha256."""
    digest = hashlib.sha256()
    with (group.open if group is not None else atomic_open)(path, "wb") as handle:
        for line in lines:
            data = (line + "\n").encode("utf-8")
            digest.update(data)
            handle.write(data)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    """The sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class FileEntry:
    path: str
    sha256: str


@dataclass
class Counts:
    dialogues_read: int
    dialogues_skipped: int
    """Invalid dialogues left out under ``--skip-invalid``."""
    dialogues_kept: int
    """After the fraction and the per-domain cap."""
    records_written: int
    dropped_by_length: int
    turns: int
    function_calls: int
    """Function messages in the written records."""


@dataclass(kw_only=True)
class Manifest:
    """What a build read, chose and wrote; rerunning the same command gives the same manifest bytes when
    ``$SOURCE_DATE_EPOCH`` fixes the provenance's date (otherwise only that date differs).

    A dataclass, not a pydantic model: spec-tod only writes manifests, from typed values, and pydantic's
    import (with the asyncio it pulls in) was 80-100 ms of every build-data command's start (docs/speed.md).
    """

    tool: str = "spec-tod"
    version: str
    command: list[str]
    dataset: str
    split: str
    task: str
    layout: Layout | Literal["input_output"]
    """``input_output``: the response task's axolotl rows (:mod:`spec_tod.tasks.response`)."""
    fraction: float
    seed: int
    max_per_domain: int | None
    max_tokens: int | None
    length_method: str
    inputs: list[FileEntry]
    counts: Counts
    skipped: list[tuple[str, str]]
    """``(dialogue id, reason)`` of the skipped dialogues."""
    outputs: list[FileEntry]
    provenance: dict[str, Any] | None = None
    """:mod:`spec_tod.provenance` (label, tool version, git revision, date, command, the --tokenizer model)."""


def write_manifest(path: Path, manifest: Manifest, group: AtomicGroup) -> None:
    """Write the manifest as indented JSON, as one of ``group``'s files."""
    group.write_json(path, dataclasses.asdict(manifest))


def save_hf_dataset(
    path: Path,
    record_ids: Sequence[str],
    conversations: Sequence[Sequence[tuple[str, str]]],
    weights: Sequence[Sequence[int]],
) -> None:
    """Save the records as a Hugging Face ``datasets`` folder (``load_from_disk``; ``push_to_hub`` from there).

    Columns ``id`` and ``conversations`` (ShareGPT). The folder is written beside ``path`` and renamed
    into place; ``datasets`` writes fingerprints into it, so unlike the JSONL its bytes differ per run.
    """
    import datasets

    rows = {
        "id": list(record_ids),
        "conversations": [sharegpt_messages(m, w) for m, w in zip(conversations, weights, strict=True)],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    bars_were_on = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # the CLI shows its own progress
    try:
        datasets.Dataset.from_dict(rows).save_to_disk(str(staging / "data"))
        if path.exists():
            shutil.rmtree(path)
        os.replace(staging / "data", path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if bars_were_on:
            datasets.enable_progress_bars()
