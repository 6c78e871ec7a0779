"""Running one command in a Docker container through the engine API (docker-py), for training and serving.

The flow is ``create -> start -> stream_logs -> wait -> remove``; :meth:`ContainerRunner.session`
wraps it so that a failure or Ctrl-C never leaves a container behind, and :meth:`ContainerRunner.run`
does the whole thing for a command that runs to completion (training, merging).

Secrets (``HF_TOKEN``) are named in :attr:`ContainerSpec.secret_env`, never given as values.
Docker copies every ``environment`` value into the container's configuration, where
``docker inspect`` shows it to anyone with engine access, and a value on the command line is
shown by ``ps`` and ``inspect`` alike; a file would outlive the run. So the values travel over
the container's stdin instead: the container is created with stdin open, its entry point is
wrapped in a ``/bin/sh`` prelude that reads one line per secret and exports it, and
:meth:`ContainerRunner.start` writes the values from this process's environment to the attach
socket and closes it. The value exists only in the two processes' memory; the container's
configuration holds the secret's name (a label) and the prelude, never the value. The image
needs ``/bin/sh``, which the axolotl, TGI and vLLM images all have.

Engine errors that a user can fix (no engine, no GPU runtime, missing image) become
:class:`~spec_tod.errors.SpecTodError` with a plain message.
"""

from __future__ import annotations

import codecs
import os
import re
import signal
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO

from spec_tod.errors import SpecTodError

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

SECRETS_LABEL = "spec-tod.secret-env"
_SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NO_GPU_RUNTIME = re.compile(r"could not select device driver .*capabilities: \[\[gpu\]\]", re.IGNORECASE)


@dataclass(frozen=True)
class Mount:
    """A host folder or file bind-mounted into the container."""

    source: Path
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class ContainerSpec:
    """Everything needed to create one container.

    ``gpus`` is ``"all"``, a list of device ids or indices (``["0", "1"]``) or ``None`` for no GPU.
    ``environment`` holds plain values (visible in ``docker inspect``); ``secret_env`` holds only
    the *names* of variables whose values are copied from this process's environment at start,
    over stdin (see the module docstring). ``entrypoint`` replaces the image's entry point when set.
    ``ports`` publishes container ports (``"80/tcp"``) on host ``(address, port)`` pairs; that needs a
    bridge network: with the default host networking the server binds the host's ports itself.
    """

    image: str
    command: Sequence[str] = ()
    entrypoint: Sequence[str] | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    secret_env: Sequence[str] = ()
    mounts: Sequence[Mount] = ()
    gpus: Literal["all"] | Sequence[str] | None = None
    shm_size: str | None = None
    network_mode: str = "host"
    ports: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    name: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    user: str | None = None


def docker_client(host: str | None = None, *, alternative: str = "") -> DockerClient:
    """A client for the engine at ``host``, else ``$DOCKER_HOST``, else the default socket; checked with a ping.

    ``alternative`` ends the error message with what the caller's user can do without Docker
    (e.g. "use --backend local")."""
    import docker
    from docker.errors import DockerException

    where = host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        client = docker.DockerClient(base_url=where, timeout=120) if host else docker.from_env(timeout=120)
        client.ping()
    except DockerException as error:
        raise SpecTodError(
            f"cannot reach the Docker engine at {where} ({_first_line(error)}). Start dockerd or set DOCKER_HOST "
            f"to its socket{_or(alternative)}."
        ) from None
    return client


def _or(alternative: str) -> str:
    return f", or {alternative}" if alternative else ""


def exit_message(code: int, what: str) -> str:
    """One sentence explaining a container's or process's exit status ``code`` for ``what`` ("training")."""
    if code == 0:
        return f"{what} finished"
    if code == 137:
        return f"{what} was killed (exit status 137): usually out of memory; lower micro_batch_size or sequence_len"
    if code == 139:
        return f"{what} crashed with a segmentation fault (exit status 139)"
    if code > 128 and code - 128 in signal.Signals._value2member_map_:
        return f"{what} was stopped by {signal.Signals(code - 128).name} (exit status {code})"
    return f"{what} failed with exit status {code}; the log above says why"


class ContainerRunner:
    """Creates, starts, follows and removes containers on one engine (``client`` from :func:`docker_client`)."""

    def __init__(self, client: DockerClient, *, alternative: str = "") -> None:
        self.client = client
        self.alternative = alternative
        """What the user can do instead when the engine cannot give a GPU (ends the error message)."""

    def ensure_image(self, image: str, *, pull: bool = True) -> None:
        """Make sure ``image`` is present, pulling it when ``pull`` is set; plain error otherwise."""
        from docker.errors import APIError, ImageNotFound

        try:
            self.client.images.get(image)
            return
        except ImageNotFound:
            if not pull:
                raise SpecTodError(f"the Docker image {image} is not present; pull it with `docker pull {image}`") from None
        try:
            self.client.images.pull(image)
        except APIError as error:
            raise SpecTodError(f"cannot pull the Docker image {image}: {_explanation(error)}") from None

    def create(self, spec: ContainerSpec) -> Container:
        """Create (not start) the container described by ``spec``; the image must be present."""
        from docker.errors import APIError, ImageNotFound
        from docker.types import DeviceRequest
        from docker.types import Mount as DockerMount

        secrets = _secret_names(spec.secret_env)
        entrypoint, command = list(spec.entrypoint or []), list(spec.command)
        if secrets:
            original = entrypoint or self._image_entrypoint(spec.image)
            entrypoint = ["/bin/sh", "-c", _secret_prelude(secrets), "spec-tod-secrets"]
            command = [*original, *command]
        kwargs: dict[str, object] = {
            "command": command or None,
            "environment": dict(spec.environment),
            "mounts": [
                DockerMount(target=m.target, source=str(Path(m.source).resolve()), type="bind", read_only=m.read_only)
                for m in spec.mounts
            ],
            "network_mode": spec.network_mode,
            "labels": {**spec.labels, **({SECRETS_LABEL: ",".join(secrets)} if secrets else {})},
            # With stdin open, detach=False is how docker-py sets StdinOnce: stdin closes after the secrets.
            "stdin_open": bool(secrets),
            "detach": not secrets,
        }
        if entrypoint:
            kwargs["entrypoint"] = entrypoint
        if spec.gpus is not None:
            ids = None if spec.gpus == "all" else [str(g) for g in spec.gpus]
            kwargs["device_requests"] = [DeviceRequest(count=-1 if ids is None else None, device_ids=ids, capabilities=[["gpu"]])]
        if spec.ports:
            kwargs["ports"] = dict(spec.ports)
        for key in ("shm_size", "name", "working_dir", "user"):
            if getattr(spec, key) is not None:
                kwargs[key] = getattr(spec, key)
        try:
            return self.client.containers.create(spec.image, **kwargs)
        except ImageNotFound:
            raise SpecTodError(f"the Docker image {spec.image} is not present; pull it with `docker pull {spec.image}`") from None
        except APIError as error:
            raise SpecTodError(f"Docker could not create the container from {spec.image}: {_explanation(error)}") from None

    def start(self, container: Container) -> None:
        """Start ``container`` and hand it its secrets over stdin; a failed start removes it."""
        from docker.errors import APIError

        secrets = [n for n in container.labels.get(SECRETS_LABEL, "").split(",") if n]
        attached = container.attach_socket(params={"stdin": 1, "stream": 1}) if secrets else None
        try:
            container.start()
        except APIError as error:
            _close(attached)
            self.remove(container)
            if _NO_GPU_RUNTIME.search(_explanation(error)):
                raise SpecTodError(
                    "this Docker engine has no GPU runtime, so the container cannot get a GPU "
                    f"({_explanation(error)}). Install the NVIDIA Container Toolkit and restart dockerd"
                    f"{_or(self.alternative)}."
                ) from None
            raise SpecTodError(f"Docker could not start the container: {_explanation(error)}") from None
        if attached is not None:
            raw = getattr(attached, "_sock", attached)
            try:
                raw.sendall("".join(f"{os.environ.get(name, '')}\n" for name in secrets).encode())
                raw.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the container already exited; its exit status and log say why
            finally:
                _close(attached)

    def stream_logs(self, container: Container, sinks: Sequence[TextIO]) -> None:
        """Copy the container's stdout and stderr, line by line as they come, to every sink until it exits."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
            text = decoder.decode(chunk)
            for sink in sinks:
                sink.write(text)
                sink.flush()
        tail = decoder.decode(b"", final=True)
        for sink in sinks:
            sink.write(tail)
            sink.flush()

    def wait(self, container: Container, timeout: float | None = None) -> int:
        """Block until ``container`` exits (at most ``timeout`` seconds); return its exit status."""
        return int(container.wait(timeout=timeout)["StatusCode"])

    def remove(self, container: Container) -> None:
        """Stop and remove ``container``; a container that is already gone is fine."""
        from docker.errors import NotFound

        try:
            container.remove(force=True)
        except NotFound:
            pass

    @contextmanager
    def session(self, spec: ContainerSpec, *, keep: bool = False) -> Iterator[Container]:
        """Create and start a container; remove it when the block raises (Ctrl-C included) or, unless ``keep``, when it ends."""
        container = self.create(spec)
        try:
            self.start(container)
            yield container
        except BaseException:
            self.remove(container)
            raise
        if not keep:
            self.remove(container)

    def run(self, spec: ContainerSpec, sinks: Sequence[TextIO]) -> int:
        """Run ``spec`` to completion, streaming its output to ``sinks``; return the exit status. The container is removed."""
        with self.session(spec) as container:
            self.stream_logs(container, sinks)
            return self.wait(container)

    def _image_entrypoint(self, image: str) -> list[str]:
        from docker.errors import ImageNotFound

        try:
            return list(self.client.images.get(image).attrs["Config"].get("Entrypoint") or [])
        except ImageNotFound:
            raise SpecTodError(f"the Docker image {image} is not present; pull it with `docker pull {image}`") from None


def _secret_names(names: Sequence[str]) -> list[str]:
    for name in names:
        if not _SECRET_NAME.match(name):
            raise SpecTodError(f"secret environment variable name {name!r} is not a valid variable name")
        if "\n" in os.environ.get(name, ""):
            raise SpecTodError(f"${name} contains a line break; a token is a single line")
    return [name for name in names if os.environ.get(name)]


def _secret_prelude(names: Sequence[str]) -> str:
    # Unset names stay unset rather than becoming empty strings, which huggingface_hub would read as a token.
    reads = "; ".join(f'IFS= read -r {n}; if [ -n "${n}" ]; then export {n}; else unset {n}; fi' for n in names)
    return f'{reads}; exec "$@"'


def _explanation(error: Exception) -> str:
    return str(getattr(error, "explanation", None) or error)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _close(attached: object) -> None:
    if attached is not None:
        attached.close()  # type: ignore[attr-defined]

