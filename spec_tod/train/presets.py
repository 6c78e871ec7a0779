"""Named starting points for a run, and the merge of preset, profile and the user's own keys into settings.

A *preset* is a recipe: ``spec-tod`` is the release's (the defaults of
:class:`~spec_tod.train.settings.TrainSettings`, docs/method-reference.md §6), ``qlora`` fits one smaller GPU
with a 4-bit base, ``full`` fine-tunes every weight of a small model. A *profile* adapts any
recipe to the hardware: ``gpu`` changes nothing, ``cpu`` turns off what needs CUDA (bf16, flash
attention, LoRA kernels, paged optimizers) and trains a few steps, for tests and the quickstart.
A *speed* (``release``, the default, or ``fast``: rows not padded, SDPA, Liger kernels on GPUs) is
applied over the profile. The user's keys win over all three, field by field (nested sections are
merged, not replaced).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from spec_tod.errors import SpecTodError
from spec_tod.parsing import load_yaml
from spec_tod.train.settings import TrainSettings

PRESETS: dict[str, dict[str, Any]] = {
    "spec-tod": {},
    # One GPU instead of the release's two: twice the accumulation keeps 4 sequences per optimizer step.
    "qlora": {"adapter": "qlora", "gradient_accumulation_steps": 4},
    "full": {
        "adapter": None,
        "learning_rate": 2e-5,
        "optimizer": "adamw_torch_fused",
        "gradient_accumulation_steps": 4,
        "num_epochs": 3,
    },
}

PROFILES: dict[str, dict[str, Any]] = {
    "gpu": {},
    "cpu": {
        "bf16": False,
        "fp16": False,
        "tf32": False,
        "flash_attention": False,
        "gradient_checkpointing": False,
        "lora": {"kernels": False},  # CUDA-only; they crash QLoRA on CPU (seen with axolotl 0.19.0)
        "optimizer": "adamw_torch",
        "pad_to_sequence_len": False,
        "micro_batch_size": 2,
        "gradient_accumulation_steps": 1,
        "num_epochs": 1,
        "max_steps": 5,
        "learning_rate": 1e-3,
        "lr_scheduler": "constant",
        "warmup_steps": 0,
        "val_set_size": 0,
        "evals_per_epoch": None,
        "saves_per_epoch": None,
        "save_steps": 5,
        "seed": 42,
    },
}


FAST: dict[str, Any] = {
    "pad_to_sequence_len": False,
    "attn_implementation": "sdpa",
}
"""``speed: fast`` on any profile: each record is its own row, as in the release, but not padded to
``sequence_len``, so no step computes on padding; attention is PyTorch's SDPA. The records, their
order and their labels are the release's, so the losses are the release's up to rounding.
Sample packing is not part of it: Spec-TOD's records are whole dialogues, longer than half a
4096-token row, so axolotl's packer puts one record in each row and packing only adds its own cost
(docs/speed.md, "Training speed"); ``sample_packing: true`` on top is the switch for short records."""

FAST_GPU_KERNELS: dict[str, Any] = {
    "plugins": ["axolotl.integrations.liger.LigerPlugin"],
    "liger_rope": True,
    "liger_rms_norm": True,
    "liger_glu_activation": True,
    "liger_fused_linear_cross_entropy": True,
}
"""``speed: fast`` on the ``gpu`` profile adds Liger's Triton kernels (raw axolotl keys): RoPE, RMSNorm,
SwiGLU and the fused linear + cross-entropy, which computes the same loss without materialising the
logits. They need CUDA, so the ``cpu`` profile leaves them out."""


def speed_keys(speed: str, profile: str) -> dict[str, Any]:
    """The keys ``speed`` sets on ``profile`` (``release``: none, the release's recipe exactly)."""
    if speed == "release":
        return {}
    return {**FAST, "axolotl": dict(FAST_GPU_KERNELS)} if profile == "gpu" else dict(FAST)


SPEEDS = ("release", "fast")


def resolve_settings(raw: Mapping[str, Any], source: str) -> TrainSettings:
    """Settings from the user's keys ``raw`` over their preset, profile and speed; ``source`` names them in errors."""
    preset = raw.get("preset", "spec-tod")
    profile = raw.get("profile", "gpu")
    speed = raw.get("speed", "release")
    if preset not in PRESETS:
        raise SpecTodError(f"{source}: unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    if profile not in PROFILES:
        raise SpecTodError(f"{source}: unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    if speed not in SPEEDS:
        raise SpecTodError(f"{source}: unknown speed {speed!r}; choose one of {', '.join(SPEEDS)}")
    merged = _deep_merge(_deep_merge(_deep_merge(PRESETS[preset], PROFILES[profile]), speed_keys(speed, profile)), raw)
    try:
        return TrainSettings.model_validate(merged)
    except ValidationError as error:
        raise SpecTodError(f"{source} has invalid settings: {describe_errors(error)}") from None


def load_settings(path: Path, overrides: Mapping[str, Any] | None = None) -> TrainSettings:
    """Read a spec-tod YAML file and apply ``overrides`` (from the command line) on top."""
    try:
        raw = load_yaml(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise SpecTodError(f"cannot read the training config {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise SpecTodError(
            f"{path} is not a UTF-8 text file ({error.reason} at byte {error.start}); give a spec-tod training YAML"
        ) from None
    except yaml.YAMLError as error:
        raise SpecTodError(
            f"{path} is not valid YAML: {_yaml_problem(error)}; fix the file (see spec_tod/resources/configs/*.yaml)"
        ) from None
    if not isinstance(raw, dict):
        raise SpecTodError(f"{path} must hold a mapping of settings (key: value), not {type(raw).__name__}")
    return resolve_settings(_deep_merge(raw, overrides or {}), str(path))


def _yaml_problem(error: yaml.YAMLError) -> str:
    # PyYAML's own message spans several lines with an excerpt of the file; one line says the same.
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else problem


def describe_errors(error: ValidationError) -> str:
    """A pydantic error as one line per problem: ``where: what (got value)``."""
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "settings"
        if item["type"] == "extra_forbidden":
            problems.append(f"{where}: unknown key (check the spelling; see `spec-tod finetune --help`)")
        elif item["type"] == "missing":
            problems.append(f"{where}: required but not given")
        else:
            problems.append(f"{where}: {item['msg']} (got {item.get('input')!r})")
    return "; ".join(problems)


def _deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
