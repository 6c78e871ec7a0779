"""Real training on the CPU: build-data output -> spec-tod finetune --backend local -> spec-tod merge.

One LoRA run and one merge (session fixtures in conftest.py) feed every test here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from spec_tod.train.run import RunFolder, open_run
from spec_tod.train.throughput import log_entries
from tests.train.conftest import spec_tod

pytestmark = pytest.mark.slow


def test_run_folder_holds_settings_config_log_and_adapter(lora_run: Path, tiny_model_dir: Path, dev_data: Path) -> None:
    run, settings = open_run(lora_run)
    assert (settings.preset, settings.profile, settings.base_model) == ("spec-tod", "cpu", str(tiny_model_dir))
    axolotl = yaml.safe_load(run.axolotl_file.read_text())
    assert axolotl["datasets"][0]["path"] == str(dev_data / "multiwoz21-dev-dst.jsonl")
    assert (run.root / "adapter_model.safetensors").is_file() and run.has_adapter()
    assert run.recorded_backend() == "local"  # what `spec-tod merge RUN` uses without --backend
    assert run.last_checkpoint() == run.root / "checkpoint-5"
    log = run.train_log.read_text()
    assert "Training completed!" in log and "Model successfully saved" in log
    adapter = json.loads((run.root / "adapter_config.json").read_text())
    assert (adapter["r"], adapter["lora_alpha"], sorted(adapter["target_modules"])) == (32, 16, ["q_proj", "v_proj"])


def test_exactly_the_weighted_function_turns_are_trained(lora_run: Path, tiny_model_dir: Path, dev_data: Path) -> None:
    from datasets import load_from_disk
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    (prepared,) = [p for p in RunFolder(lora_run).prepared.iterdir() if p.is_dir()]
    rows = load_from_disk(str(prepared))
    records = [json.loads(line) for line in (dev_data / "multiwoz21-dev-dst.jsonl").read_text().splitlines()]
    by_ids = {}
    for record in records:
        messages = [{"role": m["from"], "content": m["value"]} for m in record["conversations"]]
        text = tokenizer.apply_chat_template(messages, tokenize=False)
        by_ids[tuple(tokenizer(text, add_special_tokens=False)["input_ids"])] = record

    assert 10 <= len(rows) <= len(records)  # records over sequence_len (4096 tokens) are dropped by axolotl
    trained_tokens = 0
    for row in rows:
        record = by_ids[tuple(row["input_ids"])]  # every prepared row is one build-data record, unchanged
        spans, current = [], []
        for token, label in zip(row["input_ids"], row["labels"]):
            if label != -100:
                assert label == token
                current.append(token)
            elif current:
                spans.append(current)
                current = []
        if current:
            spans.append(current)
        expected = [m["value"].strip() + "<|eot_id|>" for m in record["conversations"] if m["weight"]]
        assert all(m["from"] == "function" for m in record["conversations"] if m["weight"])  # DST data trains calls
        assert [tokenizer.decode(span) for span in spans] == expected
        trained_tokens += sum(len(span) for span in spans)
    assert 0 < trained_tokens < sum(len(row["input_ids"]) for row in rows) / 2  # the system prompt dominates


def test_merged_model_is_base_plus_adapter(merged_run: Path, tiny_model_dir: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    merged = AutoModelForCausalLM.from_pretrained(RunFolder(merged_run).merged, dtype=torch.float32).state_dict()
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    original = {name: tensor.clone() for name, tensor in base.state_dict().items()}
    expected = PeftModel.from_pretrained(base, merged_run).merge_and_unload().state_dict()

    assert merged.keys() == expected.keys()
    changed = [name for name in expected if not torch.equal(merged[name], original[name])]
    assert changed and all(("q_proj" in name or "v_proj" in name) for name in changed)
    assert len(changed) == 4  # q_proj and v_proj of the 2 layers
    worst = max((merged[name] - expected[name]).abs().max().item() for name in expected)
    assert worst <= 1e-4
    assert "Applied LoRA to 4/" in RunFolder(merged_run).merge_log.read_text()


def test_merge_refuses_a_folder_that_is_not_a_run(cli, tmp_path: Path) -> None:
    done = cli("merge", str(tmp_path), "--backend", "local")
    assert done.code == 1
    assert f"{tmp_path} is not a spec-tod run folder: it has no spec-tod.yaml" in done.err


def _losses_and_tokens(run: Path) -> list[tuple[float, int, int]]:
    """(loss, trainable tokens so far, positions so far) of each logged step of the run's training."""
    entries = log_entries((run / "train.log").read_text())
    return [(float(e["loss"]), int(e["tokens/trainable"]), int(e["tokens/total"])) for e in entries if "loss" in e]


def test_speed_fast_trains_the_releases_records_without_their_padding(
    tmp_path: Path, tiny_model_dir: Path, dev_data: Path
) -> None:
    """The GPU recipe's batches (one record a row, rows padded to sequence_len) against speed: fast, 3 steps each."""
    steps = {}
    for speed, keys in (("release", {"pad_to_sequence_len": True}), ("fast", {})):
        config = tmp_path / f"{speed}.yaml"
        config.write_text(yaml.safe_dump({
            "profile": "cpu", "speed": speed, "base_model": str(tiny_model_dir), "data": [{"path": str(dev_data)}],
            "output_dir": str(tmp_path / speed), "micro_batch_size": 1, "gradient_accumulation_steps": 2, "max_steps": 3,
            **keys,
        }))  # fmt: skip
        done = spec_tod("finetune", str(config), "--backend", "local")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        steps[speed] = _losses_and_tokens(tmp_path / speed)
    release, fast = steps["release"], steps["fast"]
    assert len(release) == len(fast) == 3
    # the same records in the same order: the same labelled tokens step by step, the same losses up to rounding
    assert [trainable for _, trainable, _ in fast] == [trainable for _, trainable, _ in release]
    assert [loss for loss, _, _ in fast] == pytest.approx([loss for loss, _, _ in release], abs=0.01)
    assert [positions for _, _, positions in release] == [4096 * 2 * step for step in (1, 2, 3)]
    assert fast[-1][2] < 0.8 * release[-1][2]  # records of the 2% dev slice fill well under 80% of a row
    for speed in ("release", "fast"):  # 3 steps: the steady rate is step 3's
        assert json.loads((tmp_path / speed / "throughput.json").read_text())["steady_steps"] == 1
