"""Fine-tuning: settings -> a checked axolotl configuration in the run folder -> ``axolotl train`` on a backend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from spec_tod.errors import SpecTodError
from spec_tod.train.axolotl_config import axolotl_config
from spec_tod.train.launch import Backend, Launch, checked, execute
from spec_tod.train.run import RunFolder
from spec_tod.train.settings import TrainSettings


def plan_training(settings: TrainSettings, backend: Backend, gpus: Sequence[str] | None, *, resume: bool = False) -> Launch:
    """Decide the training launch; ``resume`` continues from the run folder's last checkpoint."""
    run = RunFolder(settings.output_dir)
    resume_from = None
    if resume:
        resume_from = run.last_checkpoint()
        if resume_from is None:
            raise SpecTodError(
                f"--resume: {run.root} has no checkpoint-N folder to continue from; start the run without --resume"
            )
    where = backend.where(settings)
    config = axolotl_config(settings, where, resume_from=resume_from)
    return checked(settings, config, run.axolotl_file, run.train_log, train_args(settings, where(run.axolotl_file), gpus))


def train_args(settings: TrainSettings, config_path: str, gpus: Sequence[str] | None) -> list[str]:
    """axolotl's arguments: one process in-process (``--launcher python``), else an accelerate launch.

    More than one GPU given with the ``single`` strategy means plain data parallelism (DDP).
    """
    dist = settings.distributed
    per_machine = dist.processes_per_machine or (len(gpus) if gpus else None)
    if dist.strategy == "single" and dist.num_machines == 1 and (per_machine or 1) == 1:
        return ["train", config_path, "--launcher", "python"]
    launcher = ["--num_machines", str(dist.num_machines)]
    if per_machine:
        launcher += ["--num_processes", str(per_machine * dist.num_machines)]
    if dist.strategy in ("single", "ddp"):
        launcher.append("--multi_gpu")
    if dist.num_machines > 1:
        launcher += ["--machine_rank", str(dist.machine_rank), "--main_process_ip", str(dist.main_process_ip),
                     "--main_process_port", str(dist.main_process_port)]
    return ["train", config_path, "--launcher", "accelerate", "--", *launcher]


def finetune(
    settings: TrainSettings, backend: Backend, gpus: Sequence[str] | None, terminal: TextIO, *, resume: bool = False
) -> int:
    """Train: write the run folder's spec-tod.yaml and axolotl.yml, run axolotl, return its exit status."""
    return execute(plan_training(settings, backend, gpus, resume=resume), backend, gpus, terminal)
