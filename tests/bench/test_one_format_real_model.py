"""A real model proves the one format, tokenizer included: trained until it memorises a few
dialogues' DST records, served by ``transformers serve`` (whose tokenizer adds its own BOS), and
benchmarked by ``spec-tod bench`` on the same dialogues, it reproduces every gold call.

Full fine-tuning (axolotl, CPU) of a small Llama whose tokenizer has Llama 3's pre-tokenization
and BOS handling; 150 optimizer steps on the two records.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from spec_tod.data.readers import find_schema, load_dialogues
from spec_tod.data.schema import load_schema
from spec_tod.models.tiny import build_tiny_model
from spec_tod.tasks.records import build_record
from spec_tod.tasks.writers import jsonl_line, write_lines
from tests.bench.conftest import bench, served
from tests.train.conftest import spec_tod

pytestmark = pytest.mark.slow

DIALOGUES = 2  # SNG0073 (4 turns) and PMUL4648 (10 turns), the first of the test split


def test_a_model_that_learnt_its_records_reproduces_their_calls(tmp_path: Path, data_dir: Path) -> None:
    dialogues = load_dialogues("multiwoz21", data_dir, "test").dialogues[:DIALOGUES]
    schema = load_schema(find_schema("multiwoz21", data_dir, split="test"))
    records = [build_record(dialogue, "dst", schema, 42) for dialogue in dialogues]
    data = tmp_path / "data" / "memorise-dst.jsonl"
    write_lines(data, [jsonl_line(r.id, r.messages, r.weights, "sharegpt") for r in records])
    base = build_tiny_model(tmp_path / "base", [c for r in records for _, c in r.messages], hidden_size=128)

    settings = {
        "preset": "full", "profile": "cpu", "base_model": str(base), "data": [{"path": str(data)}],
        "output_dir": str(tmp_path / "run"), "max_steps": 150, "learning_rate": 3e-3, "micro_batch_size": 1,
        "num_epochs": 1000, "save_steps": 150, "sequence_len": 8192,
    }
    config = tmp_path / "memorise.yaml"
    config.write_text(yaml.safe_dump(settings))
    trained = spec_tod("finetune", str(config), "--backend", "local")
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]

    with served(tmp_path / "run", tmp_path) as url:
        run = bench(
            "--endpoint", url, "--model-dir", str(tmp_path / "run"), "--data-dir", str(data_dir), "--split", "test",
            "--mode", "dst", "--limit-dialogues", str(DIALOGUES), "--run-dir", str(tmp_path / "bench"),
            "--concurrency", "4",
        )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    generations = json.loads((tmp_path / "bench" / "generations.json").read_text())
    calls = [turn["calls"]["dst"] for turns in generations.values() for turn in turns]
    gold = [content for record in records for role, content in record.messages if role == "function"]
    assert calls == gold  # every call, and every "no call", exactly as trained
    scores = json.loads((tmp_path / "bench" / "scores.json").read_text())
    assert round(scores["dst"]["joint_accuracy"], 6) == 100.0
