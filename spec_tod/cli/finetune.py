"""``spec-tod finetune`` and ``spec-tod merge``: axolotl training and LoRA merging, locally or in axolotl's container."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from importlib.resources import as_file
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from spec_tod.containers import exit_message
from spec_tod.errors import SpecTodError
from spec_tod.resources import CONFIGS, names, resource
from spec_tod.settings import DEFAULT_DATA_DIR_HELP
from spec_tod.train.finetune import plan_training
from spec_tod.train.launch import Backend, BackendName, Launch, execute, make_backend
from spec_tod.train.merge import plan_merge
from spec_tod.train.presets import PRESETS, PROFILES, load_settings, resolve_settings
from spec_tod.train.run import RunFolder, open_run
from spec_tod.train.settings import TrainSettings

_BACKEND_HELP = "Where axolotl runs: 'docker' (axolotl's image, on the engine's GPUs) or 'local' (this environment)."
_GPUS_HELP = "GPUs to use, e.g. 0,1 (default: all). More than one trains data-parallel."
_DOCKER_HOST_HELP = "Docker engine URL (default: $DOCKER_HOST or the local socket)."


def finetune_command(
    config: Path | None = typer.Argument(
        None,
        help="A spec-tod training YAML, a shipped config (e.g. spec-tod-llama3-8b), or a run folder to --resume. "
        "Optional with --base-model, --data, --output-dir.",
    ),
    preset: str | None = typer.Option(None, help=f"Recipe: {', '.join(PRESETS)} (default spec-tod, the release's)."),
    profile: str | None = typer.Option(
        None, help=f"Hardware profile: {', '.join(PROFILES)} ('cpu' trains a few steps without CUDA)."
    ),
    speed: str | None = typer.Option(
        None,
        help="release (default: the release's recipe exactly) or fast (the same records, rows not padded to "
        "sequence_len, SDPA, Liger kernels on GPUs; docs/speed.md).",
    ),
    base_model: str | None = typer.Option(None, "--base-model", help="Hub id or local folder of the model to fine-tune."),
    data: list[Path] | None = typer.Option(None, "--data", help="build-data output (.jsonl file or folder); repeatable."),
    output_dir: Path | None = typer.Option(None, "--output-dir", help="The run folder: configs, logs, checkpoints, adapter."),
    max_steps: int | None = typer.Option(None, "--max-steps", min=1, help="Stop after this many optimizer steps."),
    backend: BackendName = typer.Option("docker", help=_BACKEND_HELP),
    gpus: str | None = typer.Option(None, help=_GPUS_HELP),
    image: str | None = typer.Option(None, help="axolotl image for the docker backend (default: settings' docker.image)."),
    docker_host: str | None = typer.Option(None, help=_DOCKER_HOST_HELP),
    wandb_project: str | None = typer.Option(
        None, "--wandb-project", help="Log to this Weights & Biases project (key: $WANDB_API_KEY, never a flag)."
    ),
    wandb_entity: str | None = typer.Option(None, "--wandb-entity", help="W&B team or user owning the project."),
    wandb_name: str | None = typer.Option(None, "--wandb-name", help="W&B run name."),
    tensorboard: bool | None = typer.Option(
        None, "--tensorboard/--no-tensorboard", help="Write TensorBoard event files into the run folder (runs/)."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue from the run folder's last checkpoint."),
    allow_test_split: bool = typer.Option(
        False, "--allow-test-split", help="Train on --data files built from a test split too (refused by default)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the axolotl YAML that would run, and exit."),
    eval_every: int | None = typer.Option(
        None, "--eval-every", min=1,
        help="Every N steps (and at the end) bench the weights in training on the dev split and log the scores "
        "beside the loss (RUN/dev-eval/, the terminal, TensorBoard/W&B). Local backend only.",
    ),
    eval_dialogues: int = typer.Option(5, "--eval-dialogues", min=1, help="Dev dialogues per evaluation (the first K)."),
    eval_mode: str | None = typer.Option(
        None, "--eval-mode", help="e2e, dst or response (default: from the training data)."
    ),
    eval_data_dir: Path | None = typer.Option(
        None, "--eval-data-dir", help=f"The data folder of the dev split (default: {DEFAULT_DATA_DIR_HELP})."
    ),
    eval_max_context_tokens: int | None = typer.Option(
        None, "--eval-max-context-tokens", min=1, help="Response task: the --max-context-tokens the data was built with."
    ),
) -> None:
    """Fine-tune a model on build-data output with axolotl (the release recipe by default).

    CONFIG is a spec-tod training YAML, the name of a shipped config (spec-tod-llama3-8b, qlora-llama3-8b,
    cpu-tiny), or a run folder to continue with --resume;
    without it, give --base-model, --data and --output-dir. Options given override the file.
    The HF token (gated models) is read from $HF_TOKEN only, the W&B key from $WANDB_API_KEY only.
    """
    tracking = {
        key: value
        for key, value in {
            "wandb_project": wandb_project, "wandb_entity": wandb_entity, "wandb_name": wandb_name,
            "tensorboard": tensorboard,
        }.items()
        if value is not None
    }
    overrides: dict[str, Any] = {
        key: value
        for key, value in {
            "preset": preset, "profile": profile, "speed": speed, "base_model": base_model,
            "output_dir": output_dir and str(output_dir),
            "data": [{"path": str(path), "allow_test_split": allow_test_split} for path in data] if data else None,
            "max_steps": max_steps,
            "docker": image and {"image": image},
            "tracking": tracking or None,
        }.items()
        if value is not None
    }
    settings = _settings(config, overrides)
    if Path(settings.output_dir).exists() and not Path(settings.output_dir).is_dir():
        raise SpecTodError(
            f"--output-dir {settings.output_dir}: is a file, not a folder; pass a new or existing run folder"
        )
    evaluation = None
    if eval_every is not None:
        from spec_tod.cli.finetune_eval import with_dev_eval
        from spec_tod.settings import default_data_dir

        if eval_mode not in (None, "e2e", "dst", "response"):
            raise SpecTodError(f"--eval-mode {eval_mode!r}: expected e2e, dst or response")
        settings, evaluation = with_dev_eval(
            settings, backend, eval_every, eval_dialogues, eval_mode, eval_data_dir or default_data_dir(),
            eval_max_context_tokens,
        )
    chosen = make_backend(backend, docker_host)
    gpu_list = _gpus(gpus)
    launch = plan_training(settings, chosen, gpu_list, resume=resume)
    if evaluation is not None and not dry_run:
        from spec_tod.cli.finetune_eval import save_dev_eval

        save_dev_eval(settings, evaluation)
    from spec_tod.cli.finetune_eval import eval_log_size, report_throughput

    offset = eval_log_size(settings.output_dir)
    _run(launch, chosen, gpu_list, dry_run, "training",
         next_step=f"spec-tod merge {settings.output_dir}" if settings.adapter else f"spec-tod serve {settings.output_dir}",
         figures=lambda: report_throughput(settings.output_dir, launch.log_file, offset))


def merge_command(
    run: Path = typer.Argument(..., help="The run folder of a finished LoRA or QLoRA fine-tune."),
    backend: BackendName | None = typer.Option(
        None,
        help=_BACKEND_HELP + " Default: the backend the run was trained on (docker if unknown).",
        show_default=False,
    ),
    gpus: str | None = typer.Option(None, help=_GPUS_HELP),
    docker_host: str | None = typer.Option(None, help=_DOCKER_HOST_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the axolotl YAML that would run, and exit."),
) -> None:
    """Merge a run's LoRA adapter into the base model, into RUN/merged, ready to serve.

    RUN is the output folder of a finished LoRA or QLoRA `spec-tod finetune`.
    """
    folder, settings = open_run(run)
    recorded = folder.recorded_backend()
    chosen = make_backend(backend or ("local" if recorded == "local" else "docker"), docker_host)
    launch = plan_merge(settings, chosen)
    _run(launch, chosen, _gpus(gpus), dry_run, "merging", next_step=f"spec-tod serve {RunFolder(settings.output_dir).merged}")


def register(app: typer.Typer) -> None:
    """Add ``finetune`` and ``merge`` to the app."""
    app.command("finetune")(finetune_command)
    app.command("merge")(merge_command)


def _settings(config: Path | None, overrides: dict[str, Any]) -> TrainSettings:
    if config is None:
        missing = [option for option, key in (("--base-model", "base_model"), ("--data", "data"), ("--output-dir", "output_dir"))
                   if key not in overrides]
        if missing:
            raise SpecTodError(f"give a training CONFIG file, or {', '.join(missing)} (see `spec-tod finetune --help`)")
        return resolve_settings(overrides, "the command line")
    if config.is_dir():
        config = RunFolder(config).settings_file
    if not config.is_file():
        shipped = resource(CONFIGS, config.name if config.suffix else f"{config.name}.yaml")
        if len(config.parts) == 1 and shipped.is_file():
            with as_file(shipped) as path:
                return load_settings(path, overrides)
        raise SpecTodError(
            f"{config} does not exist: give a spec-tod training YAML, a run folder, "
            f"or a shipped config ({', '.join(name.removesuffix('.yaml') for name in names(CONFIGS))})"
        )
    return load_settings(config, overrides)


def _gpus(option: str | None) -> list[str] | None:
    if option is None or option.strip().lower() == "all":
        return None
    ids = [part.strip() for part in option.split(",") if part.strip()]
    if not ids:
        raise SpecTodError(f"--gpus {option!r}: expected GPU ids separated by commas, e.g. 0,1")
    return ids


def _run(
    launch: Launch, backend: Backend, gpus: list[str] | None, dry_run: bool, what: str, next_step: str,
    figures: Callable[[], list[tuple[str, str]]] | None = None,
) -> None:
    console = Console(stderr=True)
    if not launch.schema_checked:
        console.print("[yellow]axolotl is not installed here: the configuration is checked by axolotl when it starts.[/]")
    if dry_run:
        sys.stdout.write(launch.yaml())
        return
    console.print(f"[bold]{what}[/] with axolotl on the {backend.name} backend: {' '.join(launch.args)}", highlight=False)
    started = time.monotonic()
    try:
        status = execute(launch, backend, gpus, sys.stdout)
    except KeyboardInterrupt:
        if what == "training":
            console.print(f"continue later with: spec-tod finetune {launch.run.root} --resume --backend {backend.name}")
        raise
    if status != 0:
        raise SpecTodError(f"{exit_message(status, what)}; the full log is {launch.log_file}")
    table = Table(title=f"{what} finished", show_header=False)
    table.add_row("run folder", str(launch.run.root))
    table.add_row("log", str(launch.log_file))
    table.add_row("axolotl config", str(launch.config_file))
    table.add_row("time", f"{time.monotonic() - started:.0f} s")
    for name, value in figures() if figures is not None else []:
        table.add_row(name, value)
    table.add_row("next", next_step)
    console.print(table)
