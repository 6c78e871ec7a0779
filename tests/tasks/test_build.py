"""Whole builds on the real data: counts, byte-identical reruns, layouts, manifests, caps, length filter."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from spec_tod import __version__
from spec_tod.errors import SpecTodError
from spec_tod.tasks.build import BuildOptions, build_data
from spec_tod.tasks.prompts import parse_calls

TEST_ZIP_SHA256 = "438deb6ff5402cef5ff29cc0d5a10db818c1e9142727c1d631e71b563c66a5b4"
"""sha256 of multiwoz21/test.json.zip, as listed in the data folder's README."""


def _options(data_dir: Path, out: Path, **changes) -> BuildOptions:
    base = BuildOptions(dataset="multiwoz21", data_dir=data_dir, split="test", task="dst", out=out)
    return dataclasses.replace(base, **changes)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_rerun_is_byte_identical(data_dir, tmp_path, mwz21_test_split, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # the provenance's date, fixed as reproducible builds do
    options = _options(data_dir, tmp_path, task="e2e", fraction=0.1, seed=3)
    first = build_data(options, loaded=mwz21_test_split)
    data, manifest = first.data_file.read_bytes(), first.manifest.read_bytes()
    second = build_data(options)  # reads the split again
    assert second.data_file.read_bytes() == data
    assert second.manifest.read_bytes() == manifest
    elsewhere = build_data(dataclasses.replace(options, out=tmp_path / "other"), loaded=mwz21_test_split)
    assert elsewhere.data_file.read_bytes() == data


def test_fraction_picks_100_of_1000_and_the_seed_matters(data_dir, tmp_path, mwz21_test_split):
    summary = build_data(_options(data_dir, tmp_path / "a", fraction=0.1), loaded=mwz21_test_split)
    assert summary.counts.dialogues_read == 1000
    assert summary.counts.dialogues_kept == summary.counts.records_written == 100
    ids = [row["id"] for row in _rows(summary.data_file)]
    other = build_data(_options(data_dir, tmp_path / "b", fraction=0.1, seed=7), loaded=mwz21_test_split)
    assert len(ids) == len(set(ids)) == 100
    assert {row["id"] for row in _rows(other.data_file)} != set(ids)


def test_full_test_split_counts(data_dir, tmp_path, mwz21_test_split):
    summary = build_data(_options(data_dir, tmp_path), loaded=mwz21_test_split)
    counts = summary.counts
    assert (counts.records_written, counts.turns) == (1000, 7372)
    rows = _rows(summary.data_file)
    roles = Counter(turn["from"] for row in rows for turn in row["conversations"])
    assert roles == {"system": 1000, "user": 7372, "assistant": 7372, "function": 7372}
    assert counts.function_calls == 4911  # turns that change some domain's state
    assert summary.data_file.name == "multiwoz21-test-dst.jsonl"


def test_sharegpt_and_messages_layouts_hold_the_same_conversation(data_dir, tmp_path, mwz21_test_split):
    sharegpt = build_data(_options(data_dir, tmp_path, task="e2e", fraction=0.02), loaded=mwz21_test_split)
    messages = build_data(
        _options(data_dir, tmp_path, task="e2e", fraction=0.02, layout="messages"), loaded=mwz21_test_split
    )
    assert messages.data_file.name == "multiwoz21-test-e2e.messages.jsonl"
    for left, right in zip(_rows(sharegpt.data_file), _rows(messages.data_file), strict=True):
        assert list(left) == ["id", "conversations"] and list(right) == ["id", "messages"]
        assert left["id"] == right["id"]
        assert [(turn["from"], turn["value"]) for turn in left["conversations"]] == [
            (message["role"], message["content"]) for message in right["messages"]
        ]


def test_manifest_records_inputs_counts_and_output_hashes(data_dir, tmp_path, mwz21_test_split):
    summary = build_data(_options(data_dir, tmp_path, fraction=0.5, seed=9, command=("spec-tod", "x")), loaded=mwz21_test_split)
    manifest = json.loads(summary.manifest.read_text())
    assert list(manifest) == [
        "tool", "version", "command", "dataset", "split", "task", "layout", "fraction", "seed", "max_per_domain",
        "max_tokens", "length_method", "inputs", "counts", "skipped", "outputs", "provenance",
    ]  # fmt: skip
    assert manifest["tool"] == "spec-tod" and manifest["skipped"] == [] and manifest["max_per_domain"] is None
    assert manifest["version"] == __version__ and manifest["command"] == ["spec-tod", "x"]
    assert (manifest["dataset"], manifest["split"], manifest["task"]) == ("multiwoz21", "test", "dst")
    assert (manifest["fraction"], manifest["seed"]) == (0.5, 9)
    inputs = {Path(entry["path"]).name: entry["sha256"] for entry in manifest["inputs"]}
    assert inputs["test.json.zip"] == TEST_ZIP_SHA256
    assert "schema.json" in inputs
    (output,) = manifest["outputs"]
    assert output["sha256"] == hashlib.sha256(summary.data_file.read_bytes()).hexdigest()
    assert manifest["counts"]["records_written"] == 500 == summary.counts.records_written


def test_sgd_dev_builds_one_record_per_dialogue(data_dir, tmp_path):
    summary = build_data(_options(data_dir, tmp_path, dataset="sgd", split="dev"))
    assert (summary.counts.records_written, summary.counts.turns) == (836, 5964)
    for row in _rows(summary.data_file)[:50]:
        calls = [turn["value"] for turn in row["conversations"] if turn["from"] == "function"]
        system = row["conversations"][0]["value"]
        assert len(calls) == len(row["conversations"]) // 3
        for message in calls:
            for name, _ in parse_calls(message) or []:
                assert f'"name": "{name}"' in system


def test_sgd_cap_per_service(data_dir, tmp_path):
    summary = build_data(_options(data_dir, tmp_path, dataset="sgd", split="dev", max_per_domain=30))
    systems = [row["conversations"][0]["value"] for row in _rows(summary.data_file)]
    services = Counter(system.split('"name": "', 1)[1].split('"', 1)[0] for system in systems)
    # 17 single-service dialogue sets; Hotels_4 (29) and Hotels_1 (27) have fewer than 30 dialogues.
    assert len(services) == 17 and max(services.values()) == 30
    assert summary.counts.records_written == 15 * 30 + 29 + 27


def test_multiwoz22_excerpt_builds(data_dir, tmp_path):
    summary = build_data(_options(data_dir, tmp_path, dataset="multiwoz22", split="train", task="e2e"))
    assert (summary.counts.records_written, summary.counts.turns) == (17, 17)
    first = _rows(summary.data_file)[0]
    assert first["id"] == "PMUL4398"
    assert [turn["from"] for turn in first["conversations"]] == ["system", "user", "function", "observation", "assistant"]
    assert first["conversations"][3]["value"].startswith("There are ")


def test_length_filter_drops_and_counts(data_dir, tmp_path, mwz21_test_split):
    full = build_data(_options(data_dir, tmp_path / "a", fraction=0.2), loaded=mwz21_test_split)
    capped = build_data(_options(data_dir, tmp_path / "b", fraction=0.2, max_tokens=2800), loaded=mwz21_test_split)
    counts = capped.counts
    assert 0 < counts.dropped_by_length < full.counts.records_written
    assert counts.records_written + counts.dropped_by_length == full.counts.records_written
    manifest = json.loads(capped.manifest.read_text())
    assert manifest["counts"]["dropped_by_length"] == counts.dropped_by_length
    assert manifest["length_method"].startswith("estimate")


def test_hf_dataset_folder_loads_back(data_dir, tmp_path, mwz21_test_split):
    from datasets import load_from_disk

    summary = build_data(_options(data_dir, tmp_path, fraction=0.01, hf_dataset=True), loaded=mwz21_test_split)
    dataset = load_from_disk(str(summary.hf_dataset))
    rows = _rows(summary.data_file)
    assert dataset.num_rows == len(rows) == 10
    assert dataset[0] == rows[0]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"dataset": "sgd", "split": "dev", "task": "e2e"}, "--task dst"),
        ({"fraction": 0.0}, "--fraction"),
        ({"max_per_domain": 0}, "--max-per-domain"),
    ],
)
def test_impossible_options_are_rejected_before_reading(data_dir, tmp_path, changes, message):
    with pytest.raises(SpecTodError, match=message):
        build_data(_options(data_dir, tmp_path / "out", **changes))
    assert not (tmp_path / "out").exists()
