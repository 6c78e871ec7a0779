"""Presets, profiles and field-by-field overrides resolve to the settings they promise."""

from __future__ import annotations

from pathlib import Path

import pytest

from spec_tod.errors import SpecTodError
from spec_tod.resources import CONFIGS, names, resource
from spec_tod.train.presets import load_settings, resolve_settings

BASE = {"base_model": "meta-llama/Meta-Llama-3-8B-Instruct", "data": [{"path": "data"}], "output_dir": "out"}


def test_spec_tod_preset_is_the_release_recipe() -> None:
    # docs/method-reference.md §6 (finetune_axolotl/fine_tune_10_percent.yml).
    s = resolve_settings(BASE, "test")
    assert (s.adapter, s.lora.r, s.lora.alpha, s.lora.dropout) == ("lora", 32, 16, 0.05)
    assert s.lora.target_modules == ["q_proj", "v_proj"] and s.lora.target_linear is False
    assert (s.learning_rate, s.lr_scheduler, s.warmup_steps, s.num_epochs) == (3e-4, "cosine", 100, 4)
    assert (s.micro_batch_size, s.gradient_accumulation_steps, s.sequence_len) == (1, 2, 4096)
    assert (s.optimizer, s.weight_decay, s.val_set_size) == ("paged_adamw_32bit", 0.01, 0.01)
    assert (s.bf16, s.fp16, s.tf32, s.flash_attention, s.gradient_checkpointing) == ("auto", False, False, False, True)
    assert (s.sample_packing, s.pad_to_sequence_len, s.evals_per_epoch, s.saves_per_epoch) == (False, True, 10, 1)
    assert s.special_tokens == {}


def test_qlora_and_full_presets() -> None:
    qlora = resolve_settings({**BASE, "preset": "qlora"}, "test")
    assert qlora.adapter == "qlora" and qlora.gradient_accumulation_steps == 4 and qlora.lora.r == 32
    full = resolve_settings({**BASE, "preset": "full"}, "test")
    assert full.adapter is None and full.learning_rate == 2e-5


def test_cpu_profile_overlays_any_preset_and_user_keys_win() -> None:
    s = resolve_settings({**BASE, "preset": "qlora", "profile": "cpu", "max_steps": 7, "lora": {"r": 8}}, "test")
    assert s.adapter == "qlora"  # from the preset
    assert (s.bf16, s.lora.kernels, s.optimizer, s.val_set_size) == (False, False, "adamw_torch", 0)  # from the profile
    assert (s.max_steps, s.lora.r, s.lora.alpha) == (7, 8, 16)  # user keys, merged into the nested section


def test_paths_are_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model").mkdir()
    s = resolve_settings({**BASE, "base_model": "model"}, "test")
    assert s.output_dir == tmp_path / "out" and s.data[0].path == tmp_path / "data"
    assert s.base_model == str(tmp_path / "model")


def test_invalid_settings_are_listed_in_plain_words() -> None:
    raw = {**BASE, "lr": 1, "lora": {"r": "eight"}, "data": [{"path": "d", "roles_to_train": ["gpt"]}]}
    with pytest.raises(SpecTodError) as raised:
        resolve_settings(raw, "my.yaml")
    message = str(raised.value)
    assert message.startswith("my.yaml has invalid settings: ")
    assert "lr: unknown key" in message
    assert "lora.r: Input should be a valid integer" in message and "'eight'" in message
    assert "data.0.roles_to_train.0: Input should be 'system', 'user', 'function', 'observation' or 'assistant'" in message


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"preset": "huge"}, "unknown preset 'huge'; choose one of spec-tod, qlora, full"),
        ({"base_model": "./no/such/model"}, "the model folder ./no/such/model does not exist"),
        ({"distributed": {"num_machines": 2}}, "num_machines > 1 needs main_process_ip"),
        ({"saves_per_epoch": 1, "save_steps": 10}, "set saves_per_epoch or save_steps, not both"),
    ],
)
def test_contradictions_are_rejected(raw: dict, words: str) -> None:
    with pytest.raises(SpecTodError, match=words.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        resolve_settings({**BASE, **raw}, "test")


def test_missing_required_settings() -> None:
    with pytest.raises(SpecTodError, match="base_model: required but not given"):
        resolve_settings({"data": [{"path": "d"}], "output_dir": "o"}, "test")


def test_the_three_configs_ship() -> None:
    assert names(CONFIGS) == ["cpu-tiny.yaml", "qlora-llama3-8b.yaml", "spec-tod-llama3-8b.yaml"]


@pytest.mark.parametrize("name", ["spec-tod-llama3-8b.yaml", "qlora-llama3-8b.yaml", "cpu-tiny.yaml"])
def test_shipped_configs_load(name: str) -> None:
    settings = load_settings(Path(str(resource(CONFIGS, name))))
    assert settings.data and settings.output_dir.is_absolute()
