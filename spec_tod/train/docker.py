"""The docker backend: axolotl runs in axolotl's own image, on the engine's GPUs, through :mod:`spec_tod.containers`.

What the container gets (docker/README.md says the same for people who run the image by hand):

- the run folder at ``/workspace/run`` (read-write: axolotl.yml, checkpoints, the adapter, merged/);
- each folder holding training data at ``/workspace/data/<n>`` (read-only);
- a local base model at ``/workspace/base-model`` (read-only); a hub id is downloaded into
- the host's Hugging Face cache at ``/workspace/hf-home`` (``HF_HOME``), so downloads are kept;
- ``HF_TOKEN`` and ``WANDB_API_KEY`` (W&B logging) from this process's environment, over stdin (never
  in the container's configuration), each only when it is set;
- the requested GPUs, 16 GB of shared memory for NCCL, host networking (multi-node rendezvous).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from spec_tod.containers import ContainerRunner, ContainerSpec, Mount, docker_client
from spec_tod.train.axolotl_config import PathMap, dataset_files, local_base_model
from spec_tod.train.settings import TrainSettings

RUN_DIR = "/workspace/run"
DATA_DIR = "/workspace/data"
BASE_MODEL_DIR = "/workspace/base-model"
HF_HOME_DIR = "/workspace/hf-home"
LOCAL_BACKEND_HINT = "use --backend local to run axolotl in this environment"
SECRET_ENV = ("HF_TOKEN", "WANDB_API_KEY")
"""Tokens the container gets over stdin when they are set here: gated models, and W&B logging."""


class DockerBackend:
    """Runs ``axolotl ARGS`` in a container on the engine at ``host`` (default ``$DOCKER_HOST``)."""

    name = "docker"

    def __init__(self, host: str | None = None) -> None:
        self.host = host

    def mounts(self, settings: TrainSettings) -> list[Mount]:
        """The bind mounts for ``settings``: run folder, data folders, local base model, HF cache."""
        data_dirs = sorted({file.parent for source in settings.data for file in dataset_files(source)})
        mounts = [Mount(settings.output_dir, RUN_DIR)]
        mounts += [Mount(folder, f"{DATA_DIR}/{index}", read_only=True) for index, folder in enumerate(data_dirs)]
        base = local_base_model(settings)
        if base is not None:
            mounts.append(Mount(base, BASE_MODEL_DIR, read_only=True))
        mounts.append(Mount(hf_cache(settings), HF_HOME_DIR))
        return mounts

    def where(self, settings: TrainSettings) -> PathMap:
        """Paths as axolotl sees them inside the container (the deepest mount that holds the path)."""
        mounts = sorted(self.mounts(settings), key=lambda m: len(m.source.parts), reverse=True)

        def inside(path: Path) -> str:
            for mount in mounts:
                if path == mount.source or mount.source in path.parents:
                    return str(Path(mount.target) / path.relative_to(mount.source))
            raise ValueError(f"{path} is outside every mount")  # a bug: mounts() covers every path we map

        return inside

    def container_spec(self, settings: TrainSettings, args: Sequence[str], gpus: Sequence[str] | None) -> ContainerSpec:
        """The container that runs ``axolotl ARGS``; named and labelled after the axolotl command and the run."""
        kind = args[0]
        environment = {"AXOLOTL_DO_NOT_TRACK": "1", "DO_NOT_TRACK": "1", "HF_HOME": HF_HOME_DIR, "PYTHONUNBUFFERED": "1"}
        if local_base_model(settings) is not None:
            environment["HF_HUB_OFFLINE"] = "1"
        wanted = settings.profile == "gpu" or gpus is not None
        return ContainerSpec(
            image=settings.docker.image,
            entrypoint=settings.docker.entrypoint,
            command=["axolotl", *args],
            environment=environment,
            secret_env=list(SECRET_ENV),
            mounts=self.mounts(settings),
            gpus=(list(gpus) if gpus else "all") if wanted else None,
            shm_size=settings.docker.shm_size,
            network_mode="host",
            # One container per run folder and kind: a second launch on the same folder is refused by the engine.
            name=f"spec-tod-{kind}-{_slug(settings.output_dir.name)}",
            labels={"spec-tod.kind": kind, "spec-tod.run": str(settings.output_dir)},
            working_dir=RUN_DIR,
        )

    def run_axolotl(
        self, settings: TrainSettings, args: Sequence[str], gpus: Sequence[str] | None, sinks: Sequence[TextIO]
    ) -> int:
        """Run axolotl with ``args`` in a container, streaming its output; return its exit status. The container is removed."""
        spec = self.container_spec(settings, args, gpus)
        hf_cache(settings).mkdir(parents=True, exist_ok=True)
        client = docker_client(self.host, alternative=LOCAL_BACKEND_HINT)
        try:
            runner = ContainerRunner(client, alternative=LOCAL_BACKEND_HINT)
            runner.ensure_image(spec.image, pull=settings.docker.pull)
            return runner.run(spec, sinks)
        finally:
            client.close()


def hf_cache(settings: TrainSettings) -> Path:
    """The host's Hugging Face home, shared with the container: the setting, else ``$HF_HOME``, else ~/.cache/huggingface."""
    if settings.docker.hf_cache is not None:
        return settings.docker.hf_cache
    return Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface")


def _slug(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", name).strip("-.") or "run"
