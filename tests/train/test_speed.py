"""``speed: fast`` (``finetune --speed fast``): rows not padded, SDPA, Liger on GPUs; sample packing as a switch
with per-record attention; the release's recipe stays the default, key for key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from spec_tod.errors import SpecTodError
from spec_tod.train.axolotl_config import axolotl_config
from spec_tod.train.presets import PRESETS, PROFILES, resolve_settings
from spec_tod.train.validate import config_problems


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    (folder / "multiwoz21-train-dst.jsonl").write_text('{"id": "a", "conversations": []}\n')
    return folder


def _config(data_folder: Path, **raw) -> dict:
    settings = resolve_settings(
        {"base_model": "meta-llama/Meta-Llama-3-8B-Instruct", "data": [{"path": str(data_folder)}],
         "output_dir": str(data_folder.parent / "run"), **raw},
        "test",
    )  # fmt: skip
    return axolotl_config(settings)


def test_release_is_the_default_and_unchanged(data_folder: Path) -> None:
    default, release = _config(data_folder), _config(data_folder, speed="release")
    assert default == release
    assert (default["sample_packing"], default["flash_attention"], default["micro_batch_size"]) == (False, False, 1)
    assert "attn_implementation" not in default and "plugins" not in default
    assert not any(key.startswith("liger_") for key in default)


def test_fast_on_gpus_drops_the_padding_and_adds_sdpa_and_liger_kernels(data_folder: Path) -> None:
    cfg = _config(data_folder, speed="fast")
    assert (cfg["sample_packing"], cfg["pad_to_sequence_len"], cfg["attn_implementation"]) == (False, False, "sdpa")
    assert "flash_attention" not in cfg  # axolotl refuses its legacy flags beside attn_implementation
    assert cfg["plugins"] == ["axolotl.integrations.liger.LigerPlugin"]
    assert all(cfg[key] for key in ("liger_rope", "liger_rms_norm", "liger_glu_activation", "liger_fused_linear_cross_entropy"))
    release = _config(data_folder)
    changed = {key for key in cfg.keys() | release.keys() if cfg.get(key) != release.get(key)}
    # the records, their order, batches and labels are the release's
    assert changed == {"pad_to_sequence_len", "attn_implementation", "flash_attention", "plugins", "liger_rope",
                       "liger_rms_norm", "liger_glu_activation", "liger_fused_linear_cross_entropy"}  # fmt: skip


def test_fast_on_cpu_leaves_the_cuda_kernels_out(data_folder: Path) -> None:
    cfg = _config(data_folder, speed="fast", profile="cpu")
    assert (cfg["pad_to_sequence_len"], cfg["attn_implementation"]) == (False, "sdpa")
    assert "plugins" not in cfg and not any(key.startswith("liger_") for key in cfg)


def test_packing_leaves_the_evaluation_set_unpacked(data_folder: Path) -> None:
    # axolotl would build a packing sampler, forking workers, at every evaluation (docs/speed.md); the losses are the same
    cfg = _config(data_folder, speed="fast", sample_packing=True)
    assert (cfg["sample_packing"], cfg["eval_sample_packing"]) == (True, False)
    assert "eval_sample_packing" not in _config(data_folder, speed="fast")
    assert _config(data_folder, sample_packing=True, eval_sample_packing=True)["eval_sample_packing"] is True


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_fast_passes_axolotls_schema_and_packing_isolates_records(data_folder: Path, preset: str, profile: str) -> None:
    assert config_problems(_config(data_folder, preset=preset, profile=profile, speed="fast")) == []
    cfg = _config(data_folder, preset=preset, profile=profile, speed="fast", sample_packing=True, pad_to_sequence_len=True)
    assert config_problems(cfg) == []
    from axolotl.utils.schemas.config import AxolotlInputConfig  # noqa: PLC0415 (installed with spec-tod's train extra)

    validated = AxolotlInputConfig(**{**cfg, "datasets": [{"path": "x.jsonl", "type": "chat_template"}]})
    assert validated.sample_packing and validated.attn_decontaminates_packing


def test_the_user_keys_win_and_conflicts_are_plain_errors(data_folder: Path) -> None:
    assert (
        _config(data_folder, speed="fast", attn_implementation="flash_attention_2")["attn_implementation"] == "flash_attention_2"
    )
    assert _config(data_folder, speed="fast", pad_to_sequence_len=True)["pad_to_sequence_len"] is True
    with pytest.raises(SpecTodError, match="attn_implementation: flash_attention_2"):
        _config(data_folder, speed="fast", flash_attention=True)
    with pytest.raises(SpecTodError, match="unknown speed 'turbo'"):
        _config(data_folder, speed="turbo")


def test_cli_speed_option(cli, data_folder: Path, tmp_path: Path) -> None:
    done = cli(
        "finetune", "--speed", "fast", "--profile", "cpu", "--base-model", "meta-llama/Meta-Llama-3-8B-Instruct",
        "--data", str(data_folder), "--output-dir", str(tmp_path / "run"), "--backend", "local", "--dry-run",
    )  # fmt: skip
    assert done.code == 0, done.err
    printed = yaml.safe_load(done.out)
    assert (printed["sample_packing"], printed["pad_to_sequence_len"], printed["attn_implementation"]) == (False, False, "sdpa")
