"""The layout of a run folder (the run's ``output_dir``), shared by ``finetune``, ``merge`` and ``serve``.

::

    <output_dir>/spec-tod.yaml      the resolved settings (re-runnable: `spec-tod finetune <output_dir> --resume`)
    <output_dir>/axolotl.yml        what axolotl trained with, with the paths as the trainer sees them
    <output_dir>/merge.yml          what axolotl merged with
    <output_dir>/train.log          the training log (merge.log for the merge)
    <output_dir>/prepared/          axolotl's tokenized dataset cache
    <output_dir>/checkpoint-N/      checkpoints; the final adapter or model lies in <output_dir> itself
    <output_dir>/merged/            the adapter merged into the base model, ready to serve
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from spec_tod.errors import SpecTodError
from spec_tod.fileio import write_text
from spec_tod.train.presets import load_settings
from spec_tod.train.settings import TrainSettings

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


@dataclass(frozen=True)
class RunFolder:
    """Paths inside one run folder."""

    root: Path

    @property
    def settings_file(self) -> Path:
        return self.root / "spec-tod.yaml"

    @property
    def axolotl_file(self) -> Path:
        return self.root / "axolotl.yml"

    @property
    def merge_file(self) -> Path:
        return self.root / "merge.yml"

    @property
    def train_log(self) -> Path:
        return self.root / "train.log"

    @property
    def merge_log(self) -> Path:
        return self.root / "merge.log"

    @property
    def backend_file(self) -> Path:
        """The backend (``local`` or ``docker``) the run was trained on: merging uses the same by default."""
        return self.root / "backend"

    def recorded_backend(self) -> str | None:
        try:
            return self.backend_file.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    @property
    def prepared(self) -> Path:
        return self.root / "prepared"

    @property
    def merged(self) -> Path:
        return self.root / "merged"

    def last_checkpoint(self) -> Path | None:
        """The checkpoint with the highest step number, if any."""
        found = [(int(m.group(1)), p) for p in self.root.glob("checkpoint-*") if (m := _CHECKPOINT.match(p.name))]
        return max(found)[1] if found else None

    def has_adapter(self) -> bool:
        return (self.root / "adapter_config.json").is_file()

    def save_settings(self, settings: TrainSettings) -> None:
        """Record the resolved settings, so the run can be resumed and merged without the original config."""
        data = settings.model_dump(mode="json", exclude_none=False)
        write_text(self.settings_file, yaml.safe_dump(data, sort_keys=False))


def open_run(path: Path) -> tuple[RunFolder, TrainSettings]:
    """The run folder at ``path`` and its recorded settings; a plain error when it is not a run folder."""
    run = RunFolder(path)
    if not run.settings_file.is_file():
        raise SpecTodError(
            f"{path} is not a spec-tod run folder: it has no spec-tod.yaml. Give the output_dir of a `spec-tod finetune` run."
        )
    settings = load_settings(run.settings_file)
    if settings.output_dir.resolve() != path.resolve():
        # The folder was moved or copied: it is still the run, wherever it lies now.
        settings = settings.model_copy(update={"output_dir": path})
    return run, settings
