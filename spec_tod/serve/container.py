"""A serving engine in a Docker container, through the shared docker-py runner (:mod:`spec_tod.containers`).

Networking has two modes. ``host`` (the default) runs the container in the host's network and
tells the engine to bind ``HOST:PORT`` itself; it works on every engine, including one started
with ``--bridge=none`` where published ports are dead. ``bridge`` lets the engine listen on all
addresses of its own network namespace at its usual port and publishes that port on
``HOST:PORT`` of the host (127.0.0.1 unless asked otherwise).

The model folder and each LoRA adapter folder are mounted read-only; a hub id is passed as is,
with the host's Hugging Face cache mounted where the engine keeps its cache. ``HF_TOKEN`` goes
in from this process's environment only, never as a value in the container's configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from spec_tod.containers import ContainerRunner, ContainerSpec, Mount, docker_client
from spec_tod.errors import SpecTodError
from spec_tod.serve.engines import Engine
from spec_tod.serve.local import hf_cache_dir

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

Network = Literal["host", "bridge"]
SERVE_LABEL = "spec-tod.serve"
CPU_ENGINE_HINT = "use --engine transformers to serve a small model on the CPU"
PASSED_ENVIRONMENT = ("HF_HUB_OFFLINE", "HF_HUB_ENABLE_HF_TRANSFER")
"""Plain settings copied into the container when set here (never secrets)."""


@dataclass(frozen=True)
class ContainerPlan:
    """Everything about one engine container that is not the engine's own arguments."""

    image: str
    name: str
    network: Network
    host: str
    port: int
    gpus: Sequence[str] | None
    shm_size: str
    mounts: Sequence[Mount]
    entrypoint: Sequence[str] | None = None
    pull: bool = True


class ContainerServer:
    """A started engine container, as :mod:`spec_tod.serve.health` and the stop command see it."""

    def __init__(self, runner: ContainerRunner, container: Container, description: str) -> None:
        self.runner = runner
        self.container = container
        self.description = description

    def exit_status(self) -> int | None:
        """``None`` while the container runs (or is starting), else its exit status."""
        from docker.errors import NotFound

        try:
            self.container.reload()
        except NotFound:
            return -1
        state = self.container.attrs["State"]
        return None if state["Status"] in ("created", "running", "restarting") else int(state["ExitCode"])

    def log_tail(self, lines: int) -> list[str]:
        """The container's last ``lines`` lines of output."""
        from docker.errors import NotFound

        try:
            raw = self.container.logs(stdout=True, stderr=True, tail=lines)
        except NotFound:
            return []
        return raw.decode("utf-8", errors="replace").splitlines()

    def remove(self) -> None:
        """Stop and remove the container."""
        self.runner.remove(self.container)


def engine_bind(engine: Engine, network: Network, host: str, port: int) -> tuple[str, int]:
    """The address and port the engine itself binds: the requested one on the host network, else all addresses inside."""
    return (host, port) if network == "host" else ("0.0.0.0", engine.container_port)


def published_ports(engine: Engine, plan: ContainerPlan) -> dict[str, tuple[str, int]]:
    """On a bridge network, the engine's port published on ``plan.host:plan.port``; nothing on the host network."""
    return {f"{engine.container_port}/tcp": (plan.host, plan.port)} if plan.network == "bridge" else {}


def start_container(
    engine: Engine,
    plan: ContainerPlan,
    arguments: Sequence[str],
    *,
    docker_host: str | None = None,
) -> ContainerServer:
    """Create and start the engine container; nothing is left behind when this raises."""
    client = docker_client(docker_host, alternative=CPU_ENGINE_HINT)
    runner = ContainerRunner(client, alternative=CPU_ENGINE_HINT)
    runner.ensure_image(plan.image, pull=plan.pull)
    _refuse_taken_name(client, plan.name)
    spec = ContainerSpec(
        image=plan.image,
        command=list(arguments),
        entrypoint=list(plan.entrypoint) if plan.entrypoint else (list(engine.entrypoint) if engine.entrypoint else None),
        environment=_passed_environment(),
        secret_env=("HF_TOKEN",),
        mounts=list(plan.mounts),
        gpus=plan.gpus,
        shm_size=plan.shm_size,
        network_mode=plan.network,
        ports=published_ports(engine, plan),
        name=plan.name,
        labels={SERVE_LABEL: "1", f"{SERVE_LABEL}.engine": engine.name},
    )
    container = runner.create(spec)
    runner.start(container)  # a failed start (no GPU runtime) removes the container itself
    return ContainerServer(runner, container, f"the {engine.name} container {plan.name}")


def find_container(container_id: str, docker_host: str | None, description: str) -> ContainerServer | None:
    """The recorded container, or ``None`` when it no longer exists."""
    from docker.errors import NotFound

    client = docker_client(docker_host, alternative=CPU_ENGINE_HINT)
    try:
        container = client.containers.get(container_id)
    except NotFound:
        return None
    return ContainerServer(ContainerRunner(client, alternative=CPU_ENGINE_HINT), container, description)


def _passed_environment() -> dict[str, str]:
    return {name: os.environ[name] for name in PASSED_ENVIRONMENT if os.environ.get(name)}


def _refuse_taken_name(client: DockerClient, name: str) -> None:
    from docker.errors import NotFound

    try:
        client.containers.get(name)
    except NotFound:
        return
    raise SpecTodError(f"a container named {name} already exists; stop it with `spec-tod serve stop {name}` or pass --name")


def model_mounts(model: str, adapters: Mapping[str, Path], engine: Engine) -> tuple[str, list[Mount], dict[str, str]]:
    """How the engine sees the model and adapters: (model argument, mounts, adapter name -> path inside).

    A local folder is mounted read-only at ``/model``; anything else is a hub id, passed as is with
    the host's Hugging Face cache mounted at the engine's cache folder.
    """
    mounts: list[Mount] = []
    local = Path(model).expanduser()
    if local.is_dir():
        mounts.append(Mount(local.resolve(), "/model", read_only=True))
        model_argument = "/model"
    else:
        cache = hf_cache_dir()
        cache.mkdir(parents=True, exist_ok=True)
        mounts.append(Mount(cache, engine.cache_target))
        model_argument = model
    inside: dict[str, str] = {}
    for name, folder in adapters.items():
        target = f"/adapters/{name}"
        mounts.append(Mount(Path(folder).resolve(), target, read_only=True))
        inside[name] = target
    return model_argument, mounts, inside
