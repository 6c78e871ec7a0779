"""Training lines are ``json.dumps(row, ensure_ascii=False)`` byte for byte, long system messages included."""

from __future__ import annotations

import json
import random
from json.encoder import encode_basestring, encode_basestring_ascii
from pathlib import Path

import pytest

from spec_tod.data.readers import LoadResult, load_database
from spec_tod.data.schema import Service
from spec_tod.json_escape import LineEscapes
from spec_tod.tasks.records import build_record
from spec_tod.tasks.writers import WEIGHT_FIELD, jsonl_line, sharegpt_messages


def _dumped(record_id: str, messages: list[tuple[str, str]], weights: list[int], layout: str) -> str:
    if layout == "sharegpt":
        row = {"id": record_id, "conversations": sharegpt_messages(messages, weights)}
    else:
        row = {"id": record_id, "messages": [{"role": r, "content": t, WEIGHT_FIELD: w} for (r, t), w in zip(messages, weights, strict=True)]}  # fmt: skip
    return json.dumps(row, ensure_ascii=False)


@pytest.mark.parametrize("task", ["dst", "e2e"])
def test_every_record_of_the_test_split_is_written_as_json_dumps(
    task: str, mwz21_test_split: LoadResult, mwz_schema: dict[str, Service], data_dir: Path
) -> None:
    database = load_database(data_dir / "multiwoz_db") if task == "e2e" else None
    compared = 0
    for dialogue in mwz21_test_split.dialogues:
        record = build_record(dialogue, task, mwz_schema, 42, database)
        assert len(record.messages[0][1]) >= 1024  # the system message takes the spliced path
        for layout in ("sharegpt", "messages"):
            line = jsonl_line(record.id, record.messages, record.weights, layout)
            assert line == _dumped(record.id, list(record.messages), list(record.weights), layout), record.id
            compared += 1
    assert compared == 2 * len(mwz21_test_split.dialogues)


def test_a_nul_in_the_record_falls_back_to_plain_json() -> None:
    system = "instructions\n" + "{\"name\": \"f\"}\n" * 100
    for messages, record_id in (
        ([("system", system), ("user", "a \x00 b"), ("assistant", "x")], "id"),
        ([("system", system + "\x00"), ("user", "u"), ("assistant", "x")], "id"),
        ([("system", system), ("user", "u"), ("assistant", "x")], "id\x00"),
    ):
        weights = [0, 0, 1]
        assert jsonl_line(record_id, messages, weights, "sharegpt") == _dumped(record_id, messages, weights, "sharegpt")


@pytest.mark.parametrize("escape", [encode_basestring, encode_basestring_ascii])
def test_line_escapes_are_the_escape_of_the_whole_text(escape) -> None:
    rng = random.Random(11)
    alphabet = ['"', "\\", "\n", "\r", "\t", "\x00", "\x1f", "é", "\u2028", "\U0001f600", "\ud800", "a", " "]
    lines = LineEscapes(escape)
    lines.max_lines = 40
    texts = ["", "\n", "\n\n", "a\n", *("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400))) for _ in range(500))]
    for text in texts * 2:
        assert lines.quoted(text) == escape(text)
