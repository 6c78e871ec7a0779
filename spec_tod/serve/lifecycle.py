"""Start, inspect and stop serving engines: what ``spec-tod serve`` and its subcommands do.

:func:`start` checks the request (model folder, adapters, GPUs, a free port), starts the engine
(a container, or ``transformers serve`` as a local process), records it in the registry, waits
until its health route answers, and returns the record. Whatever goes wrong after the engine was
started, it is removed again and the record dropped.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from spec_tod.errors import SpecTodError
from spec_tod.serve import registry
from spec_tod.serve.container import (
    ContainerPlan,
    ContainerServer,
    Network,
    engine_bind,
    find_container,
    model_mounts,
    start_container,
)
from spec_tod.serve.engines import Adapter, Engine, Launch, default_dtype, engine, resolve_device
from spec_tod.serve.health import StartedEngine, is_healthy, wait_until_healthy
from spec_tod.serve.local import LocalServer, start_process, transformers_command
from spec_tod.serve.registry import ServerRecord
from spec_tod.settings import state_dir

DEFAULT_PORT = 8030  # the release's published port (run_tgi_docker.sh)
DEFAULT_TIMEOUT = 1800.0


@dataclass(frozen=True)
class ServeOptions:
    """One ``spec-tod serve MODEL`` request, as the CLI collected it."""

    engine: str
    model: str
    port: int = DEFAULT_PORT
    host: str = "127.0.0.1"
    network: Network = "host"
    gpus: str | None = None
    """``"0,1"`` (device ids), ``"none"``, or ``None`` for the engine's default (GPU 0 in a container, CPU locally)."""
    image: str | None = None
    shm_size: str = "1g"
    dtype: str | None = None
    max_input_tokens: int = 4000
    max_total_tokens: int = 4096
    max_batch_prefill_tokens: int = 4096
    loras: Mapping[str, Path] = field(default_factory=dict)
    name: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    pull: bool = True
    docker_host: str | None = None
    engine_args: Sequence[str] = ()
    entrypoint: Sequence[str] | None = None
    """Replaces the image's entry point (tests run a stand-in HTTP server in place of the engine)."""
    device: str = "auto"
    """``transformers``: ``auto`` (the GPU when there is one), ``cpu`` or ``cuda``."""


@dataclass(frozen=True)
class ServerState:
    """A recorded server and what it is doing now."""

    record: ServerRecord
    state: str
    """``healthy``, ``starting``, ``exited (N)`` or ``gone``."""


def start(options: ServeOptions, on_wait: Callable[[float], None] | None = None) -> ServerRecord:
    """Start the engine, wait until it answers, record it; return the record."""
    chosen = engine(options.engine)
    model = _check_model(options.model)
    ranks = _check_adapters(chosen, options.loras)
    gpus = _gpu_ids(chosen, options.gpus)
    name = options.name or f"spec-tod-{chosen.name}-{options.port}"
    _drop_stale(name)
    _check_port_free(options.host, options.port)
    url = f"http://{_client_host(options.host)}:{options.port}"
    record = ServerRecord(
        name=name, engine=chosen.name, url=url, openai_base_url=url + chosen.openai_path,
        model=str(Path(model).resolve()) if Path(model).is_dir() else model, source=options.model,
        kind="container" if chosen.default_image else "process", started_at=registry.now(),
    )
    if chosen.default_image is None:
        started, record = _start_process(options, chosen, record)
    else:
        started, record = _start_container(options, chosen, record, model, ranks, gpus)
    registry.add(record)
    try:
        wait_until_healthy(started, url + chosen.health_path, timeout=options.timeout, on_wait=on_wait)
    except BaseException:
        registry.remove(name)
        raise
    return record


def _start_process(options: ServeOptions, chosen: Engine, record: ServerRecord) -> tuple[StartedEngine, ServerRecord]:
    device = resolve_device(options.device)
    launch = _launch(
        options, chosen, model=record.model, served_model=record.model, bind=(options.host, options.port), device=device
    )
    log_path = state_dir() / "logs" / f"{record.name}.log"
    process = start_process(
        [*transformers_command(), *chosen.build_arguments(launch)],
        log_path,
        f"the transformers server {record.name}",
        offline=Path(record.model).is_dir(),
    )
    update = {"pid": process.pid, "pid_start": process.start_time, "log_path": str(log_path)}
    return process, record.model_copy(update=update)


def _start_container(
    options: ServeOptions, chosen: Engine, record: ServerRecord, model: str, ranks: Mapping[str, int],
    gpus: list[str] | None,
) -> tuple[StartedEngine, ServerRecord]:
    model_argument, mounts, inside = model_mounts(model, options.loras, chosen)
    launch = _launch(
        options, chosen, model=model_argument, served_model=record.model,
        bind=engine_bind(chosen, options.network, options.host, options.port),
        adapters=[Adapter(n, inside[n], ranks[n]) for n in options.loras], num_gpus=len(gpus or ()),
    )
    plan = ContainerPlan(
        image=options.image or chosen.default_image or "", name=record.name, network=options.network,
        host=options.host, port=options.port, gpus=gpus, shm_size=options.shm_size, mounts=mounts,
        entrypoint=options.entrypoint, pull=options.pull,
    )
    container = start_container(chosen, plan, chosen.build_arguments(launch), docker_host=options.docker_host)
    update = {"container_id": container.container.id, "docker_host": options.docker_host or os.environ.get("DOCKER_HOST")}
    return container, record.model_copy(update=update)


def status() -> list[ServerState]:
    """Every recorded server with its current state."""
    states = []
    for record in registry.servers():
        handle = _handle(record)
        if handle is None:
            state = "gone"
        elif (code := handle.exit_status()) is not None:
            state = f"exited ({code})"
        else:
            state = "healthy" if is_healthy(record.url + engine(record.engine).health_path) else "starting"
        states.append(ServerState(record, state))
    return states


def stop(name: str | None = None, *, everything: bool = False) -> list[str]:
    """Stop and forget the named server (or the only one, or all with ``everything``); return the names stopped."""
    records = registry.servers()
    if everything:
        chosen = records
    elif name is not None:
        chosen = [registry.get(name)]
    elif len(records) == 1:
        chosen = records
    elif not records:
        return []
    else:
        raise SpecTodError(
            f"{len(records)} servers are running ({', '.join(r.name for r in records)}); name one or pass --all"
        )
    for record in chosen:
        handle = _handle(record)
        if handle is not None:
            handle.remove()
        registry.remove(record.name)
    return [record.name for record in chosen]


def log_lines(name: str | None, lines: int = 50) -> list[str]:
    """The last ``lines`` lines of the server's output."""
    handle = _log_source(name)
    return handle.log_tail(lines)


def follow_logs(name: str | None, lines: int = 50, poll: float = 0.5) -> Iterator[str]:
    """The server's output from its last ``lines`` lines on, as it comes, until it exits."""
    handle = _log_source(name)
    if isinstance(handle, LocalServer):
        with open(handle.log_path, encoding="utf-8", errors="replace") as log:
            yield from (line + "\n" for line in log.read().splitlines()[-lines:])
            while True:
                chunk = log.read()
                if chunk:
                    yield chunk
                elif handle.exit_status() is not None:
                    return
                else:
                    time.sleep(poll)
    else:
        for chunk in handle.container.logs(stream=True, follow=True, stdout=True, stderr=True, tail=lines):
            yield chunk.decode("utf-8", errors="replace")


def _log_source(name: str | None) -> LocalServer | ContainerServer:
    # A local server's log file outlives it (that is when it is read most); a removed container's log is gone.
    if name is None:
        record = registry.latest()
        if record is None:
            raise SpecTodError("no server was started by spec-tod; start one with `spec-tod serve MODEL --engine ...`")
    else:
        record = registry.get(name)
    handle = _handle(record, alive_only=False)
    if handle is None:
        raise SpecTodError(f"the server {record.name} no longer exists; forget it with `spec-tod serve stop {record.name}`")
    return handle


def _handle(record: ServerRecord, *, alive_only: bool = True) -> LocalServer | ContainerServer | None:
    description = f"the {record.engine} server {record.name}"
    if record.kind == "container":
        return find_container(record.container_id or "", record.docker_host, description)
    local = LocalServer(record.pid or 0, Path(record.log_path or ""), description, start_time=record.pid_start)
    if alive_only and local.exit_status() is not None:
        return None
    return local if Path(record.log_path or "").is_file() or local.exit_status() is None else None


def _drop_stale(name: str) -> None:
    for record in registry.servers():
        if record.name != name:
            continue
        handle = _handle(record)
        if handle is not None and handle.exit_status() is None:
            raise SpecTodError(
                f"a server named {name} is already running at {record.url}; stop it with "
                f"`spec-tod serve stop {name}`, or pass --name and --port for a second one"
            )
        if handle is not None:
            handle.remove()
        registry.remove(name)


def _launch(
    options: ServeOptions, chosen: Engine, *, model: str, served_model: str, bind: tuple[str, int],
    adapters: Sequence[Adapter] = (), num_gpus: int = 0, device: str = "cpu",
) -> Launch:
    return Launch(
        model=model,
        served_model=served_model,
        bind_host=bind[0],
        port=bind[1],
        num_gpus=num_gpus,
        dtype=options.dtype or default_dtype(chosen, device),
        max_input_tokens=options.max_input_tokens,
        max_total_tokens=options.max_total_tokens,
        max_batch_prefill_tokens=options.max_batch_prefill_tokens,
        adapters=adapters,
        extra_args=options.engine_args,
        device=device,
    )


def _check_model(model: str) -> str:
    path = Path(model).expanduser()
    if path.is_dir():
        if (path / "adapter_config.json").is_file() and not (path / "config.json").is_file():
            raise SpecTodError(
                f"{path} is a LoRA adapter, not a model; serve its base model with --lora NAME={path}, "
                "or merge it first with `spec-tod merge`"
            )
        if not (path / "config.json").is_file():
            raise SpecTodError(f"{path} has no config.json; pass a model folder (a merged model) or a hub id")
        return str(path)
    if model.startswith(("/", ".", "~")) or model.count("/") != 1:
        raise SpecTodError(f"model folder {model} not found; pass an existing folder or a hub id such as org/name")
    return model


def _check_adapters(chosen: Engine, loras: Mapping[str, Path]) -> dict[str, int]:
    if loras and not chosen.supports_lora:
        raise SpecTodError(
            f"the {chosen.name} engine cannot serve LoRA adapters unmerged; use --engine tgi or vllm, "
            "or merge the adapter with `spec-tod merge`"
        )
    ranks = {}
    for name, folder in loras.items():
        config = Path(folder) / "adapter_config.json"
        try:
            ranks[name] = int(json.loads(config.read_text(encoding="utf-8"))["r"])
        except (OSError, ValueError, KeyError, TypeError):
            raise SpecTodError(
                f"--lora {name}={folder}: {config} is missing or has no rank 'r'; pass the folder a LoRA fine-tune wrote"
            ) from None
    return ranks


def _gpu_ids(chosen: Engine, gpus: str | None) -> list[str] | None:
    if not chosen.uses_gpus:
        if gpus not in (None, "none"):
            raise SpecTodError(f"the {chosen.name} engine runs on the CPU; leave out --gpus or use a container engine")
        return None
    if gpus is None:
        return ["0"]
    if gpus.strip().lower() == "none":
        return None
    if gpus.strip().lower() == "all":
        raise SpecTodError("name the GPUs (e.g. --gpus 0,1) so that the number of shards is known; `all` is ambiguous")
    ids = [part.strip() for part in gpus.split(",") if part.strip()]
    if not ids:
        raise SpecTodError(f"--gpus {gpus!r} names no GPU; pass device ids such as 0 or 0,1, or none")
    return ids


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As servers do: a port whose old connections linger in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise SpecTodError(f"port {port} on {host} is taken ({error.strerror}); pass another --port") from None


def _client_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
