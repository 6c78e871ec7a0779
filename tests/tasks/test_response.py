"""The response-LM task's text: record counts from the data, the first test record, left truncation."""

from __future__ import annotations

import json
from pathlib import Path

from spec_tod.data.readers import LoadResult
from spec_tod.tasks.length import TokenCounter
from spec_tod.tasks.response import (
    ContextBudget,
    dialogue_record,
    read_response,
    record_line,
    response_prompt,
    turn_records,
)
from spec_tod.tasks.response_data import ResponseBuildOptions, added_bos, build_response_data

FIRST_TEST_RECORD = (
    '{"id": "SNG0073/0", "segments": [{"label": false, "text": "user> I would like a taxi from Saint John \'s '
    'college to Pizza Hut Fen Ditton .\\nbot>"}, {"label": true, "text": " What time do you want to leave and '
    'what time do you want to arrive by ?\\n"}]}'
)


def test_one_record_per_system_turn_and_per_dialogue(mwz21_test_split: LoadResult) -> None:
    dialogues = mwz21_test_split.dialogues
    assert sum(len(turn_records(dialogue)) for dialogue in dialogues) == 7372
    assert len([dialogue_record(dialogue) for dialogue in dialogues]) == 1000
    assert record_line(turn_records(dialogues[0])[0]) == FIRST_TEST_RECORD


def test_targets_are_delexicalised_and_the_prompt_is_the_bench_prompt(dialogue_by_id) -> None:
    dialogue = dialogue_by_id("SNG0073")
    records = turn_records(dialogue)
    assert records[1].segments[1] == (
        True,
        " Booking completed ! your taxi will be [value_car] Contact number is [value_phone]\n",
    )
    for turn, record in enumerate(records):
        (unlabelled, prompt), (labelled, target) = record.segments
        assert (unlabelled, labelled) == (False, True)
        assert prompt == response_prompt(dialogue, turn)
        assert read_response(target + "user> more text") == target.strip()
    whole = "".join(text for _, text in dialogue_record(dialogue).segments)
    assert whole.startswith(
        "user> I would like a taxi from Saint John 's college to Pizza Hut Fen Ditton .\nbot> What time"
    )
    assert whole == records[-1].segments[0][1] + records[-1].segments[1][1]


def test_left_truncation_drops_whole_early_exchanges_and_keeps_the_current_user_turn(dialogue_by_id) -> None:
    dialogue = dialogue_by_id("MUL0003")
    last = len(dialogue.turns) - 1
    full = response_prompt(dialogue, last)
    counter = TokenCounter()
    budget = ContextBudget(60, counter.count_texts)
    cut = response_prompt(dialogue, last, budget)
    current = "user> " + " ".join(dialogue.turns[last].user.split()) + "\nbot>"
    assert full.endswith(current) and cut.endswith(current)
    assert len(cut) < len(full) and full.endswith(cut) and cut.startswith("user> ")
    assert sum(counter.count_texts([cut])) <= 60 < sum(counter.count_texts([full]))
    # A budget smaller than the current turn keeps that turn alone.
    assert response_prompt(dialogue, last, ContextBudget(1, counter.count_texts)) == current
    assert any(record.truncated for record in turn_records(dialogue, budget))


def test_build_data_writes_the_records_and_the_manifest(
    data_dir: Path, tmp_path: Path, mwz21_test_split: LoadResult
) -> None:
    built = build_response_data(
        ResponseBuildOptions(
            dataset="multiwoz21", data_dir=data_dir, split="test", out=tmp_path, max_context_tokens=200
        ),
        loaded=mwz21_test_split,
    )
    lines = built.summary.data_file.read_text(encoding="utf-8").splitlines()
    assert built.summary.data_file.name == "multiwoz21-test-response-turns.jsonl"
    assert len(lines) == built.summary.counts.records_written == built.summary.counts.turns == 7372
    assert lines[0] == FIRST_TEST_RECORD
    assert 0 < built.truncated < 7372
    manifest = json.loads(built.summary.manifest.read_text())
    assert (manifest["task"], manifest["layout"]) == ("response-turns", "input_output")
    whole = build_response_data(
        ResponseBuildOptions(
            dataset="multiwoz21", data_dir=data_dir, split="test", out=tmp_path, response_format="dialogues"
        ),
        loaded=mwz21_test_split,
    )
    assert whole.summary.counts.records_written == 1000


def test_records_start_with_the_bos_a_server_would_add(
    dialogue_by_id, tmp_path: Path, word_tokenizer_dir: Path
) -> None:
    from tokenizers import Tokenizer, processors

    tokenizer = Tokenizer.from_file(str(word_tokenizer_dir / "tokenizer.json"))
    tokenizer.add_special_tokens(["<s>"])
    tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 6)])
    (tmp_path / "bos").mkdir()
    tokenizer.save(str(tmp_path / "bos" / "tokenizer.json"))
    assert (added_bos(tmp_path / "bos"), added_bos(word_tokenizer_dir)) == ("<s>", "")
    dialogue = dialogue_by_id("SNG0073")
    first = turn_records(dialogue, bos="<s>")[1].segments[0][1]
    assert first == "<s>" + response_prompt(dialogue, 1)
    assert dialogue_record(dialogue, bos="<s>").segments[0][1].startswith("<s>user> I would like a taxi")
