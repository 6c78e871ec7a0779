"""``spec-tod finetune``: evaluation during training (:mod:`spec_tod.bench.training_eval`) and training throughput."""

from __future__ import annotations

from pathlib import Path

from spec_tod.bench.training_eval import PLUGIN, DevEvalSettings, write_settings
from spec_tod.errors import SpecTodError
from spec_tod.train.axolotl_config import dataset_files, local_base_model
from spec_tod.train.settings import TrainSettings


def with_dev_eval(
    settings: TrainSettings,
    backend: str,
    every: int,
    dialogues: int,
    mode: str | None,
    data_dir: Path,
    max_context_tokens: int | None,
) -> tuple[TrainSettings, DevEvalSettings]:
    """``settings`` with the plugin added, and what the callback will run; plain errors for what cannot work."""
    if backend != "local":
        raise SpecTodError(
            "--eval-every runs inside the training process and needs spec-tod there: use --backend local "
            "(axolotl's image has no spec-tod)"
        )
    if settings.distributed.strategy in ("deepspeed_zero3", "fsdp"):
        raise SpecTodError(
            f"--eval-every generates with the whole model on the main process; {settings.distributed.strategy} "
            "shards the weights: evaluate the saved checkpoints with `spec-tod bench` instead"
        )
    chosen = mode or _mode_of(settings)
    if max_context_tokens is not None and chosen != "response":
        raise SpecTodError("--eval-max-context-tokens applies to the response task only")
    model_dir, template = _template(settings) if chosen != "response" else (None, None)
    evaluation = DevEvalSettings(
        model_dir=model_dir,
        template=template,
        every=every,
        dialogues=dialogues,
        mode=chosen,
        data_dir=str(Path(data_dir).resolve()),
        max_context_tokens=max_context_tokens,
    )
    plugins = list(settings.axolotl.get("plugins") or [])
    if PLUGIN not in plugins:
        plugins.append(PLUGIN)
    return settings.model_copy(update={"axolotl": {**settings.axolotl, "plugins": plugins}}), evaluation


def save_dev_eval(settings: TrainSettings, evaluation: DevEvalSettings) -> Path:
    return write_settings(settings.output_dir, evaluation)


def _mode_of(settings: TrainSettings) -> str:
    """response for input_output records, dst when every file is DST data, else e2e."""
    import json

    files = [file for source in settings.data for file in dataset_files(source)]
    firsts = []
    for file in files:
        with file.open(encoding="utf-8") as handle:
            firsts.append(json.loads(handle.readline()))
    if any("segments" in record for record in firsts):
        return "response"
    if files and all("-dst" in file.name for file in files):
        return "dst"
    return "e2e"


def _template(settings: TrainSettings) -> tuple[str | None, str | None]:
    """The base model folder when it has a chat template (axolotl trains with it), else llama3 (axolotl's fallback)."""
    from spec_tod.chat.template import load_chat_template

    base = local_base_model(settings)
    if base is not None:
        try:
            load_chat_template(base)
            return str(base), None
        except SpecTodError:
            pass
    return None, "llama3"


def eval_log_size(run_root: Path) -> int:
    """The size of the dev scores file before a training starts (what it appends is this training's)."""
    from spec_tod.bench.training_eval import SCORES_FILE, eval_folder

    path = eval_folder(run_root) / SCORES_FILE
    return path.stat().st_size if path.is_file() else 0


def report_throughput(run_root: Path, log_file: Path, eval_offset: int) -> list[tuple[str, str]]:
    """Write ``<run>/throughput.json`` from the training log; the rows for the finished table."""
    import json

    from spec_tod.bench.training_eval import SCORES_FILE, eval_folder
    from spec_tod.fileio import write_json
    from spec_tod.train.throughput import WARMUP_WINDOWS, train_throughput

    scores = eval_folder(run_root) / SCORES_FILE
    paused = 0.0
    if scores.is_file():
        with scores.open("rb") as handle:
            handle.seek(eval_offset)
            paused = sum(
                json.loads(line)["seconds"] for line in handle.read().decode("utf-8").splitlines() if line.strip()
            )
    figures = train_throughput(log_file.read_text(encoding="utf-8", errors="replace"), paused)
    if figures is None:
        return []
    write_json(run_root / "throughput.json", figures.to_json())
    rows = [
        ("training time", f"{figures.runtime_s - figures.paused_s:.1f} s (+ {figures.paused_s:.1f} s evaluation)")
    ]
    if figures.steps_per_s is not None:
        rows.append(("steps/s (it/s)", f"{figures.steps_per_s:.3f} ({figures.steps} steps)"))
    if figures.samples_per_s is not None:
        rows.append(("samples/s", f"{figures.samples_per_s:.3f}"))
    if figures.tokens_per_s is not None:
        trainable = figures.trainable_tokens_per_s or 0.0
        rows.append(("tokens/s (with labels)", f"{figures.tokens_per_s:.1f} ({trainable:.1f})"))
    if figures.steady_trainable_tokens_per_s is not None:
        rows.append((
            "after warm-up, with labels",
            f"{figures.steady_trainable_tokens_per_s:.1f} tokens/s per GPU "
            f"({figures.steady_steps} logged steps after the first {WARMUP_WINDOWS}, none evaluating)",
        ))
    return rows
