"""The axolotl plugin of evaluation during training (:mod:`spec_tod.bench.training_eval`).

Only axolotl imports this module (``plugins: [spec_tod.bench.training_eval_plugin.DevBenchPlugin]``):
it imports axolotl and transformers, which the rest of spec-tod loads lazily.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from axolotl.integrations.base import BasePlugin
from transformers import TrainerCallback

from spec_tod.bench.training_eval import DevEvalSettings, evaluate_now, read_settings


class DevBenchCallback(TrainerCallback):
    """Every ``settings.every`` steps and at the last step: :func:`evaluate_now` on the main process."""

    def __init__(self, settings: DevEvalSettings, run_root: Path, trainer: Any) -> None:
        self.settings = settings
        self.run_root = run_root
        self.trainer = trainer
        self.done: set[int] = set()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        step = state.global_step
        due = step % self.settings.every == 0 or step == state.max_steps
        if not due or step in self.done or not state.is_world_process_zero:
            return
        self.done.add(step)
        line = evaluate_now(self.settings, self.run_root, step, self.trainer.model, self.trainer.processing_class)
        # Trainer.log clears should_log, which the flow callback set for this step's loss: without it back,
        # the loss of every evaluated step would go unlogged, folded into the next step's.
        loss_due = control.should_log
        self.trainer.log({key: value for key, value in line.items() if key.startswith("dev/") and value is not None})
        control.should_log = loss_due


class DevBenchPlugin(BasePlugin):
    """Adds :class:`DevBenchCallback`, configured by ``<output_dir>/dev-eval/settings.json``."""

    def add_callbacks_post_trainer(self, cfg: Any, trainer: Any) -> list:
        run_root = Path(cfg.output_dir)
        return [DevBenchCallback(read_settings(run_root), run_root, trainer)]
