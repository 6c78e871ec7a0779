"""The generated axolotl YAML: its dataset entries, axolotl's schema on every preset, and the unknown-key check."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from spec_tod.errors import SpecTodError
from spec_tod.train.axolotl_config import axolotl_config, dataset_files, merge_config
from spec_tod.train.finetune import plan_training, train_args
from spec_tod.train.local import LocalBackend
from spec_tod.train.presets import PRESETS, PROFILES, resolve_settings
from spec_tod.train.settings import DataSource
from spec_tod.train.validate import check_axolotl_config, config_problems


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    (folder / "multiwoz21-train-dst.jsonl").write_text('{"id": "a", "conversations": []}\n')
    (folder / "multiwoz21-train-e2e.jsonl").write_text('{"id": "a", "conversations": []}\n')
    (folder / "multiwoz21-train-dst.messages.jsonl").write_text('{"id": "a", "messages": []}\n')
    (folder / "multiwoz21-train-dst.manifest.json").write_text("{}\n")
    return folder


def _settings(data_folder: Path, **raw):
    return resolve_settings(
        {"base_model": "meta-llama/Meta-Llama-3-8B-Instruct", "data": [{"path": str(data_folder)}],
         "output_dir": str(data_folder.parent / "run"), **raw},
        "test",
    )


def test_dataset_entries_map_build_data_records(data_folder: Path) -> None:
    cfg = axolotl_config(_settings(data_folder))
    assert [Path(entry["path"]).name for entry in cfg["datasets"]] == [
        "multiwoz21-train-dst.jsonl", "multiwoz21-train-e2e.jsonl"  # not the role/content layout, not the manifest
    ]
    entry = cfg["datasets"][0]
    assert entry == {
        "path": str(data_folder / "multiwoz21-train-dst.jsonl"),
        "ds_type": "json",
        "type": "chat_template",
        "field_messages": "conversations",
        "message_property_mappings": {"role": "from", "content": "value"},
        "roles": {r: [r] for r in ("system", "user", "function", "observation", "assistant")},
        "roles_to_train": [],
        "message_field_training": "weight",
        "train_on_eos": "turn",
    }
    assert cfg["chat_template"] == "tokenizer_default_fallback_llama3"
    assert cfg["train_on_inputs"] is False


def test_release_keys_reach_axolotl(data_folder: Path) -> None:
    cfg = axolotl_config(_settings(data_folder))
    release = {
        "adapter": "lora", "lora_r": 32, "lora_alpha": 16, "lora_dropout": 0.05, "lora_target_modules": ["q_proj", "v_proj"],
        "learning_rate": 3e-4, "lr_scheduler": "cosine", "warmup_steps": 100, "num_epochs": 4, "micro_batch_size": 1,
        "gradient_accumulation_steps": 2, "sequence_len": 4096, "optimizer": "paged_adamw_32bit", "bf16": "auto",
        "gradient_checkpointing": True, "val_set_size": 0.01,
    }
    assert {key: cfg[key] for key in release} == release
    assert "load_in_4bit" not in cfg
    assert "special_tokens" not in cfg  # the pad token is the tokenizer's own (else its eos): no new token


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("strategy", ["single", "ddp", "deepspeed_zero1", "deepspeed_zero3", "fsdp"])
def test_every_preset_passes_axolotls_schema(data_folder: Path, preset: str, profile: str, strategy: str) -> None:
    settings = _settings(data_folder, preset=preset, profile=profile, distributed={"strategy": strategy})
    assert config_problems(axolotl_config(settings)) == []
    if settings.adapter:
        assert config_problems(merge_config(settings)) == []


def test_qlora_and_full_keys(data_folder: Path) -> None:
    qlora = axolotl_config(_settings(data_folder, preset="qlora", profile="cpu"))
    assert (qlora["adapter"], qlora["load_in_4bit"], qlora["lora_qkv_kernel"], qlora["lora_mlp_kernel"]) == ("qlora", True, False, False)
    full = axolotl_config(_settings(data_folder, preset="full"))
    assert not any(key.startswith(("lora_", "adapter", "load_in")) for key in full)


def test_deepspeed_zero3_gathers_weights_for_saving(data_folder: Path) -> None:
    cfg = axolotl_config(_settings(data_folder, distributed={"strategy": "deepspeed_zero3"}))
    assert cfg["deepspeed"]["zero_optimization"]["stage"] == 3
    assert cfg["deepspeed"]["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True


def test_unknown_keys_are_rejected_though_axolotl_would_ignore_them(data_folder: Path) -> None:
    cfg = axolotl_config(_settings(data_folder, axolotl={"lora_rank": 8, "fsdp_config": {"offload_param": True}}))
    cfg["datasets"][0]["field_message"] = "conversations"
    cfg["datasets"][1]["train_on_eos"] = "sometimes"
    with pytest.raises(SpecTodError) as raised:
        check_axolotl_config(cfg, "run.yml")
    lines = str(raised.value).splitlines()
    assert lines[0] == "run.yml is not a valid axolotl configuration:"
    assert lines[1:-1] == [
        "  - lora_rank: axolotl has no such setting (it would be ignored)",
        "  - fsdp_config.offload_param: axolotl has no such setting (it would be ignored)",
        "  - datasets[0].field_message: axolotl has no such setting (it would be ignored)",
        "  - datasets[1].train_on_eos: Input should be 'all', 'turn', 'last' or 'none' (got 'sometimes')",
    ]
    assert lines[-1] == "Nothing was launched."


def test_schema_errors_from_raw_axolotl_keys(data_folder: Path) -> None:
    cfg = axolotl_config(_settings(data_folder, axolotl={"lora_r": "eight", "train_on_inputs": "maybe"}))
    problems = config_problems(cfg)
    assert "lora_r: Input should be a valid integer, unable to parse string as an integer (got 'eight')" in problems
    assert any(p.startswith("train_on_inputs: Input should be a valid boolean") for p in problems)


def test_missing_data_is_a_plain_error(tmp_path: Path) -> None:
    with pytest.raises(SpecTodError, match="does not exist; run `spec-tod build-data`"):
        dataset_files(DataSource(path=tmp_path / "nothing"))
    with pytest.raises(SpecTodError, match="holds no .jsonl files"):
        dataset_files(DataSource(path=tmp_path))


def test_launchers(data_folder: Path) -> None:
    single = _settings(data_folder)
    assert train_args(single, "c.yml", None) == ["train", "c.yml", "--launcher", "python"]
    assert train_args(single, "c.yml", ["0", "1"]) == [
        "train", "c.yml", "--launcher", "accelerate", "--", "--num_machines", "1", "--num_processes", "2", "--multi_gpu"
    ]
    nodes = _settings(data_folder, distributed={
        "strategy": "deepspeed_zero2", "num_machines": 2, "machine_rank": 1, "processes_per_machine": 8,
        "main_process_ip": "10.0.0.1",
    })
    assert train_args(nodes, "c.yml", None)[4:] == [
        "--", "--num_machines", "2", "--num_processes", "16", "--machine_rank", "1", "--main_process_ip", "10.0.0.1",
        "--main_process_port", "29500",
    ]


def test_resume_points_at_the_last_checkpoint(data_folder: Path) -> None:
    settings = _settings(data_folder)
    with pytest.raises(SpecTodError, match="has no checkpoint-N folder to continue from"):
        plan_training(settings, LocalBackend(), None, resume=True)
    for step in (5, 40, 10):
        (settings.output_dir / f"checkpoint-{step}").mkdir(parents=True)
    launch = plan_training(settings, LocalBackend(), None, resume=True)
    assert launch.config["resume_from_checkpoint"] == str(settings.output_dir / "checkpoint-40")


def test_cli_dry_run_prints_the_yaml_and_launches_nothing(cli, data_folder: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    done = cli(
        "finetune", "--preset", "qlora", "--profile", "cpu", "--base-model", "meta-llama/Meta-Llama-3-8B-Instruct",
        "--data", str(data_folder), "--output-dir", str(run), "--backend", "local", "--dry-run",
    )
    assert done.code == 0, done.err
    printed = yaml.safe_load(done.out)
    assert printed["adapter"] == "qlora" and printed["output_dir"] == str(run)
    assert config_problems(printed) == []
    assert not run.exists()


def test_cli_reports_invalid_settings_before_launching(cli, data_folder: Path, tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({
        "base_model": "meta-llama/Meta-Llama-3-8B-Instruct", "data": [{"path": str(data_folder)}],
        "output_dir": str(tmp_path / "run"), "lora": {"rank": 8}, "axolotl": {"lora_dropuot": 0.1},
    }))
    done = cli("finetune", str(config), "--backend", "local")
    assert done.code == 1
    assert "error: " in done.err and "lora.rank: unknown key" in done.err
    config.write_text(config.read_text().replace("rank: 8", "r: 8"))
    done = cli("finetune", str(config), "--backend", "local")
    assert done.code == 1
    assert "lora_dropuot: axolotl has no such setting" in done.err and "Nothing was launched." in done.err
    assert not (tmp_path / "run").exists()


def test_cli_without_config_names_the_missing_options(cli) -> None:
    done = cli("finetune", "--base-model", "x/y")
    assert done.code == 1
    assert "give a training CONFIG file, or --data, --output-dir" in done.err


def test_data_that_is_not_sharegpt_records_is_refused_before_axolotl_loads_a_model(cli, tmp_path: Path) -> None:
    cases = {
        "config.yaml": ("base_model: x\n", "line 1 is not a JSON record"),
        "deep.jsonl": ("[" * 5000 + "\n", "line 1 is not a JSON record (nested deeper than the parser goes"),
        "empty.jsonl": ("", "holds no records"),
        "chat.messages.jsonl": ('{"id": "a", "messages": []}\n', "not a ShareGPT record (found ['id', 'messages'])"),
    }
    for name, (text, words) in cases.items():
        (tmp_path / name).write_text(text)
        done = cli("finetune", "--base-model", "x/y", "--data", str(tmp_path / name),
                   "--output-dir", str(tmp_path / "run"), "--backend", "local", "--dry-run")  # fmt: skip
        assert done.code == 1, name
        assert f"error: {tmp_path / name}: " in done.err and words in done.err, done.err
        if text:
            assert '{"id": ..., "conversations": [{"from": ..., "value": ...}]}' in done.err


def test_cli_reports_broken_yaml_and_binary_configs_in_one_line(cli, tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("preset: spec-tod\nbase_model: [x\n")
    done = cli("finetune", str(config), "--backend", "local", "--dry-run")
    assert done.code == 1
    assert f"{config} is not valid YAML: expected ',' or ']', but got '<stream end>' at line 3, column 1" in done.err
    config.write_bytes(b"\xff\xfe preset: spec-tod\n")
    done = cli("finetune", str(config), "--backend", "local", "--dry-run")
    assert done.code == 1
    assert f"{config} is not a UTF-8 text file" in done.err and "Traceback" not in done.err
    config.write_text("preset: spec-tod\nbase_model: " + "[" * 5000 + "\n")  # deeper than PyYAML's parser goes
    done = cli("finetune", str(config), "--backend", "local", "--dry-run")
    assert done.code == 1
    assert f"{config} is not valid YAML: nested deeper than the parser goes;" in done.err and "Traceback" not in done.err


def test_a_template_without_spec_tod_roles_is_mapped(data_folder: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    """Qwen2.5's template drops function and observation messages: they are trained as assistant and user."""
    import shutil

    from tests.fixtures.templates import QWEN25_CHAT_TEMPLATE

    base = tmp_path / "qwen-like"
    shutil.copytree(tiny_model_dir, base)
    (base / "chat_template.jinja").write_text(QWEN25_CHAT_TEMPLATE)
    cfg = axolotl_config(_settings(data_folder).model_copy(update={"base_model": str(base)}))
    assert cfg["datasets"][0]["roles"] == {
        "system": ["system"], "user": ["user", "observation"], "assistant": ["function", "assistant"]
    }
    assert cfg["datasets"][0]["message_field_training"] == "weight"


def test_tracking_flags_map_to_axolotls_keys(cli, data_folder: Path, tmp_path: Path) -> None:
    done = cli(
        "finetune", "--profile", "cpu", "--base-model", "meta-llama/Meta-Llama-3-8B-Instruct",
        "--data", str(data_folder),
        "--output-dir", str(tmp_path / "run"), "--backend", "local", "--dry-run",
        "--wandb-project", "spec-tod", "--wandb-entity", "lab", "--wandb-name", "r32", "--tensorboard",
    )
    assert done.code == 0, done.err
    printed = yaml.safe_load(done.out)
    keys = ("use_wandb", "wandb_project", "wandb_entity", "wandb_name", "use_tensorboard")
    assert [printed[key] for key in keys] == [True, "spec-tod", "lab", "r32", True]
    assert config_problems(printed) == []
    plain = axolotl_config(_settings(data_folder))
    assert not {"use_wandb", "wandb_project", "use_tensorboard"} & set(plain)


def test_docker_backend_hands_the_wandb_key_over_like_the_hf_token(data_folder: Path, monkeypatch) -> None:
    from spec_tod.containers import _secret_names
    from spec_tod.train.docker import DockerBackend

    spec = DockerBackend().container_spec(_settings(data_folder, tracking={"wandb_project": "p"}), ["train", "x"], None)
    assert list(spec.secret_env) == ["HF_TOKEN", "WANDB_API_KEY"]
    assert not any("WANDB" in key or "HF_TOKEN" in key for key in spec.environment)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("WANDB_API_KEY", "wandb-key")
    assert _secret_names(spec.secret_env) == ["WANDB_API_KEY"]  # only the set ones are read from stdin


def test_cli_takes_a_shipped_config_by_name(cli, data_folder: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # the shipped configs name their data and output relative to the current folder
    done = cli("finetune", "cpu-tiny", "--base-model", "meta-llama/Meta-Llama-3-8B-Instruct",
               "--data", str(data_folder), "--backend", "local", "--dry-run")  # fmt: skip
    assert done.code == 0, done.err
    assert yaml.safe_load(done.out)["output_dir"] == str(tmp_path / "runs" / "cpu-tiny")
    done = cli("finetune", "cpu-huge", "--backend", "local", "--dry-run")
    assert done.code == 1
    assert "cpu-huge does not exist" in done.err and "(cpu-tiny, qlora-llama3-8b, spec-tod-llama3-8b)" in done.err
