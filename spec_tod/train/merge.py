"""Merging a run's LoRA adapter into its base model (``axolotl merge-lora``), for serving: ``<run>/merged``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from spec_tod.errors import SpecTodError
from spec_tod.train.axolotl_config import merge_config
from spec_tod.train.launch import Backend, Launch, checked, execute
from spec_tod.train.run import RunFolder
from spec_tod.train.settings import TrainSettings


def plan_merge(settings: TrainSettings, backend: Backend) -> Launch:
    """Decide the merge launch for the run in ``settings.output_dir``; plain errors when there is nothing to merge."""
    run = RunFolder(settings.output_dir)
    if settings.adapter is None:
        raise SpecTodError(f"{run.root} is a full fine-tune: the model in it is already complete; serve {run.root} itself")
    if not run.has_adapter():
        raise SpecTodError(
            f"{run.root} has no trained adapter (adapter_config.json) yet: let `spec-tod finetune` finish, "
            f"or continue it with `spec-tod finetune {run.root} --resume`"
        )
    where = backend.where(settings)
    return checked(settings, merge_config(settings, where), run.merge_file, run.merge_log, ["merge-lora", where(run.merge_file)])


def merge(settings: TrainSettings, backend: Backend, gpus: Sequence[str] | None, terminal: TextIO) -> int:
    """Merge: write merge.yml, run axolotl merge-lora (the merged model lands in ``<run>/merged``), return its exit status."""
    return execute(plan_merge(settings, backend), backend, gpus, terminal)
