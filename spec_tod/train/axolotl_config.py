"""Training settings -> the axolotl YAML (a plain dict) that trains on build-data's ShareGPT records.

Every dataset entry uses axolotl's ``chat_template`` format: the records' ``conversations`` list
with ``from``/``value`` fields, the five Spec-TOD roles mapped to the template's roles by
:func:`spec_tod.chat.roles.role_map` (the identity for Llama 3, which renders any role name; bench
renders prompts with the same mapping), and labels from each message's ``weight`` (build-data's:
``function`` messages of DST records, ``assistant`` messages of end-to-end ones), each trained
message with its end-of-turn token.

Paths go through ``where``, which maps a host path to the path the trainer sees: itself for the
local backend, the bind-mount target for the docker backend.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spec_tod.chat.roles import axolotl_roles, role_map
from spec_tod.chat.template import load_chat_template
from spec_tod.errors import SpecTodError
from spec_tod.parsing import loads_json
from spec_tod.tasks.writers import WEIGHT_FIELD
from spec_tod.train.run import RunFolder
from spec_tod.train.settings import DataSource, TrainSettings

PathMap = Callable[[Path], str]


def host_paths(path: Path) -> str:
    """The local backend's path map: the host path itself."""
    return str(path)


def dataset_files(source: DataSource) -> list[Path]:
    """The ShareGPT ``.jsonl`` files a data source names, in a stable order; a plain error when there are none."""
    if source.path.is_file():
        return [_checked_records(_not_test(source.path, source))]
    if source.path.is_dir():
        # build-data's other layout (``*.messages.jsonl``, role/content) is not what the dataset entries map.
        files = sorted(p for p in source.path.glob("*.jsonl") if not p.name.endswith(".messages.jsonl"))
        if files:
            return [_checked_records(_not_test(file, source)) for file in files]
        raise SpecTodError(
            f"the data folder {source.path} holds no .jsonl files; run `spec-tod build-data --out {source.path}` first"
        )
    raise SpecTodError(f"the training data {source.path} does not exist; run `spec-tod build-data` to write it")


def _split_of(path: Path) -> str | None:
    """The split build-data made ``path`` from: its manifest says, else its name (``dataset-split-task.jsonl``)."""
    manifest = path.with_name(path.name.removesuffix(".jsonl") + ".manifest.json")
    try:
        split = loads_json(manifest.read_text(encoding="utf-8")).get("split")
        return split if isinstance(split, str) else None
    except (OSError, ValueError, AttributeError):
        parts = path.name.split("-")
        return parts[1] if len(parts) >= 3 else None


def _not_test(path: Path, source: DataSource) -> Path:
    if _split_of(path) == "test" and not source.allow_test_split:
        raise SpecTodError(
            f"{path}: built from the test split, which bench scores the model on; remove it from the data, or pass "
            "--allow-test-split (allow_test_split: true in the YAML) to train on it anyway"
        )
    return path


def _checked_records(path: Path) -> Path:
    # axolotl would only fail on a wrong file after loading the model; its first record tells the layout now.
    expected = 'expected build-data\'s ShareGPT records {"id": ..., "conversations": [{"from": ..., "value": ...}]}'
    try:
        with path.open(encoding="utf-8") as handle:
            first = handle.readline()
        record = loads_json(first) if first.strip() else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SpecTodError(f"{path}: line 1 is not a JSON record ({error}); {expected}, one per line") from None
    if record is None:
        raise SpecTodError(f"{path}: holds no records; rerun `spec-tod build-data`, or pass another --data")
    if isinstance(record, dict) and isinstance(record.get("segments"), list):
        return path  # the response task's input_output rows (spec_tod.tasks.response)
    if not isinstance(record, dict) or not isinstance(record.get("conversations"), list):
        found = sorted(record) if isinstance(record, dict) else type(record).__name__
        raise SpecTodError(
            f"{path}: record 1 (line 1) is not a ShareGPT record (found {found}); {expected}, "
            "as `spec-tod build-data --format sharegpt` writes them"
        )
    return path


def local_base_model(settings: TrainSettings) -> Path | None:
    """The base model's folder when it is a local one (not a hub id)."""
    path = Path(settings.base_model)
    return path if path.is_absolute() and path.exists() else None


def axolotl_config(
    settings: TrainSettings, where: PathMap = host_paths, *, resume_from: Path | None = None
) -> dict[str, Any]:
    """The axolotl configuration for ``settings``; ``resume_from`` is a checkpoint folder to continue from."""
    run = RunFolder(settings.output_dir)
    base = local_base_model(settings)
    roles = training_roles(settings, base)
    check_segments_bos(settings)
    cfg: dict[str, Any] = {
        "base_model": where(base) if base else settings.base_model,
        "model_type": "AutoModelForCausalLM",
        "tokenizer_type": "AutoTokenizer",
        "chat_template": settings.chat_template,
        "datasets": [
            _dataset_entry(file, source, where, roles) for source in settings.data for file in dataset_files(source)
        ],
        "dataset_prepared_path": where(run.prepared),
        "val_set_size": settings.val_set_size,
        "output_dir": where(run.root),
        "sequence_len": settings.sequence_len,
        "pad_to_sequence_len": settings.pad_to_sequence_len,
        "sample_packing": settings.sample_packing,
        **({"eval_sample_packing": settings.eval_sample_packing} if settings.sample_packing else {}),
        **_adapter_keys(settings),
        "micro_batch_size": settings.micro_batch_size,
        "gradient_accumulation_steps": settings.gradient_accumulation_steps,
        "num_epochs": settings.num_epochs,
        "optimizer": settings.optimizer,
        "lr_scheduler": settings.lr_scheduler,
        "learning_rate": settings.learning_rate,
        "warmup_steps": settings.warmup_steps,
        "weight_decay": settings.weight_decay,
        "train_on_inputs": False,
        "group_by_length": False,
        "bf16": settings.bf16,
        "fp16": settings.fp16,
        "tf32": settings.tf32,
        **_attention_keys(settings),
        "gradient_checkpointing": settings.gradient_checkpointing,
        "logging_steps": settings.logging_steps,
        "save_safetensors": True,
    }
    optional = {
        "max_steps": settings.max_steps,
        "saves_per_epoch": settings.saves_per_epoch,
        "save_steps": settings.save_steps,
        "seed": settings.seed,
        "special_tokens": dict(settings.special_tokens) or None,
        "resume_from_checkpoint": where(resume_from) if resume_from else None,
    }
    if settings.val_set_size > 0:
        optional["evals_per_epoch"] = settings.evals_per_epoch
    cfg |= {key: value for key, value in optional.items() if value is not None}
    cfg |= _distributed_keys(settings)
    cfg |= _tracking_keys(settings)
    cfg |= settings.axolotl
    return cfg


def _attention_keys(settings: TrainSettings) -> dict[str, Any]:
    """``attn_implementation`` when one is set (axolotl refuses it beside its legacy flags), else the legacy flag."""
    if settings.attn_implementation:
        return {"attn_implementation": settings.attn_implementation}
    return {"flash_attention": settings.flash_attention}


def merge_config(settings: TrainSettings, where: PathMap = host_paths) -> dict[str, Any]:
    """The configuration ``axolotl merge-lora`` reads: the training one, pointed at the run's adapter.

    The merge runs on one device, so the distributed keys are left out.
    """
    cfg = axolotl_config(settings.model_copy(update={"distributed": type(settings.distributed)()}), where)
    cfg["lora_model_dir"] = where(settings.output_dir)
    return cfg


def training_roles(settings: TrainSettings, base: Path | None) -> dict[str, str]:
    """The role mapping of the chat template training renders with: the local base model's own
    template, else (a hub id, or a tokenizer without one) axolotl's Llama-3 fallback, which renders every role."""
    template = None
    if base is not None and settings.chat_template == "tokenizer_default_fallback_llama3":
        try:
            template = load_chat_template(base)
        except SpecTodError:
            template = None
    return role_map(template or load_chat_template("llama3"))


def _dataset_entry(file: Path, source: DataSource, where: PathMap, roles: dict[str, str]) -> dict[str, Any]:
    if _is_segments_file(file):
        # Plain text, trained on the labelled segments (the responses); no chat template, no roles.
        return {"path": where(file), "ds_type": "json", "type": "input_output"}
    entry: dict[str, Any] = {
        "path": where(file),
        "ds_type": "json",
        "type": "chat_template",
        "field_messages": "conversations",
        "message_property_mappings": {"role": "from", "content": "value"},
        "roles": axolotl_roles(roles),
        "train_on_eos": "turn",
    }
    if source.roles_to_train is None:
        entry["message_field_training"] = WEIGHT_FIELD
        entry["roles_to_train"] = []
        return entry
    if any(roles[role] != role for role in source.roles_to_train):
        raise SpecTodError(
            f"{source.path}: roles_to_train {source.roles_to_train} cannot be told apart under this chat template "
            f"(it renders them as {sorted({roles[r] for r in source.roles_to_train})}); leave roles_to_train unset so "
            "the records' per-message weights decide"
        )
    entry["roles_to_train"] = list(source.roles_to_train)
    return entry


def _is_segments_file(path: Path) -> bool:
    with path.open(encoding="utf-8") as handle:
        return "segments" in json.loads(handle.readline())


def check_segments_bos(settings: TrainSettings) -> None:
    """Response-task records must start with the BOS the base tokenizer adds, as the server's prompts get it
    (:mod:`spec_tod.tasks.response`); a plain error when they were built without ``--tokenizer``."""
    from spec_tod.tasks.response_data import added_bos

    base = local_base_model(settings)
    files = [file for source in settings.data for file in dataset_files(source) if _is_segments_file(file)]
    if base is None or not files:
        return
    bos = added_bos(base)
    for file in files:
        with file.open(encoding="utf-8") as handle:
            first = json.loads(handle.readline())["segments"][0]["text"]
        if bos and not first.startswith(bos):
            raise SpecTodError(
                f"{file}: record 1 does not start with {bos!r}, the BOS {base}'s tokenizer adds to every served "
                f"prompt; rebuild it with `spec-tod build-data --task response --tokenizer {base}`"
            )


def _adapter_keys(settings: TrainSettings) -> dict[str, Any]:
    if settings.adapter is None:
        return {}
    lora = settings.lora
    keys: dict[str, Any] = {
        "adapter": settings.adapter,
        "lora_r": lora.r,
        "lora_alpha": lora.alpha,
        "lora_dropout": lora.dropout,
        "lora_target_modules": list(lora.target_modules),
        "lora_target_linear": lora.target_linear,
    }
    if settings.adapter == "qlora":
        keys |= {"load_in_4bit": True, "load_in_8bit": False}
    if lora.kernels is not None:
        keys |= {"lora_qkv_kernel": lora.kernels, "lora_o_kernel": lora.kernels, "lora_mlp_kernel": lora.kernels}
    return keys


def _tracking_keys(settings: TrainSettings) -> dict[str, Any]:
    # axolotl 0.19 (utils/schemas/integrations.py WandbConfig, config.py use_tensorboard): W&B is on once
    # wandb_project is set; use_tensorboard adds "tensorboard" to the Trainer's report_to.
    tracking = settings.tracking
    keys: dict[str, Any] = {}
    if tracking.wandb_project is not None:
        keys |= {"wandb_project": tracking.wandb_project, "use_wandb": True}
        named = (("wandb_entity", tracking.wandb_entity), ("wandb_name", tracking.wandb_name))
        keys |= {key: value for key, value in named if value is not None}
    if tracking.tensorboard:
        keys["use_tensorboard"] = True
    return keys


def _distributed_keys(settings: TrainSettings) -> dict[str, Any]:
    strategy = settings.distributed.strategy
    if strategy.startswith("deepspeed_zero"):
        return {"deepspeed": deepspeed_config(int(strategy[-1]))}
    if strategy == "fsdp":
        return {
            "fsdp_version": 2,
            "fsdp_config": {
                "auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
                "transformer_layer_cls_to_wrap": "LlamaDecoderLayer",
                "state_dict_type": "FULL_STATE_DICT",
                "reshard_after_forward": True,
            },
        }
    return {}


def deepspeed_config(stage: int) -> dict[str, Any]:
    """A DeepSpeed ZeRO config (stage 1, 2 or 3) whose batch and precision values the HF Trainer fills in ("auto")."""
    zero: dict[str, Any] = {"stage": stage, "overlap_comm": True, "contiguous_gradients": True}
    if stage == 3:
        # Without gathering, a ZeRO-3 run saves shards that merge-lora cannot read.
        zero |= {"stage3_gather_16bit_weights_on_model_save": True, "reduce_bucket_size": "auto",
                 "stage3_prefetch_bucket_size": "auto", "stage3_param_persistence_threshold": "auto"}
    return {
        "zero_optimization": zero,
        "bf16": {"enabled": "auto"},
        "fp16": {"enabled": "auto"},
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
        "train_batch_size": "auto",
        "train_micro_batch_size_per_gpu": "auto",
        "wall_clock_breakdown": False,
    }
