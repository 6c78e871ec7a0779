"""What finetune and merge share: choosing a backend, and running a checked axolotl command in a run folder.

A :class:`Launch` is decided completely (configuration checked, command line built) before
anything is written or started, so ``--dry-run`` and invalid settings stop with nothing launched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

import yaml

from spec_tod.fileio import write_text
from spec_tod.train.docker import DockerBackend
from spec_tod.train.local import LocalBackend
from spec_tod.train.run import RunFolder
from spec_tod.train.settings import TrainSettings
from spec_tod.train.validate import axolotl_installed, check_axolotl_config

Backend = LocalBackend | DockerBackend
BackendName = Literal["local", "docker"]


def make_backend(name: BackendName, docker_host: str | None = None) -> Backend:
    """The backend called ``name``; ``docker_host`` overrides ``$DOCKER_HOST`` for the docker one."""
    return DockerBackend(docker_host) if name == "docker" else LocalBackend()


@dataclass(frozen=True)
class Launch:
    """One axolotl command, ready to run: its configuration, where that is written, and axolotl's arguments."""

    settings: TrainSettings
    config: dict[str, Any]
    config_file: Path
    log_file: Path
    args: list[str]
    schema_checked: bool  # False when axolotl is not installed here, so its schema could not be consulted

    @property
    def run(self) -> RunFolder:
        return RunFolder(self.settings.output_dir)

    def yaml(self) -> str:
        """The axolotl configuration as YAML."""
        return yaml.safe_dump(self.config, sort_keys=False, allow_unicode=True)


def checked(settings: TrainSettings, config: dict[str, Any], config_file: Path, log_file: Path, args: list[str]) -> Launch:
    """A :class:`Launch`, after checking ``config`` with axolotl's schema when axolotl is installed."""
    installed = axolotl_installed()
    if installed:
        check_axolotl_config(config, f"the axolotl configuration for {settings.output_dir}")
    return Launch(settings, config, config_file, log_file, args, installed)


def execute(launch: Launch, backend: Backend, gpus: Sequence[str] | None, terminal: TextIO) -> int:
    """Record the settings and configuration in the run folder, run axolotl, return its exit status.

    The output goes to ``terminal`` and is appended to the launch's log file.
    """
    launch.run.root.mkdir(parents=True, exist_ok=True)
    launch.run.save_settings(launch.settings)
    write_text(launch.run.backend_file, backend.name + "\n")
    write_text(launch.config_file, launch.yaml())
    with open(launch.log_file, "a", encoding="utf-8") as log:
        return backend.run_axolotl(launch.settings, launch.args, gpus, [terminal, log])
