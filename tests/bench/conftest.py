"""Fixtures of the bench tests: the scripted server, a real ``transformers serve`` on the tiny model, and
a runner for the ``spec-tod`` command as a separate process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from spec_tod.serve.health import wait_until_healthy
from spec_tod.serve.engines import Launch, engine
from spec_tod.serve.local import free_port, start_process, transformers_command
from spec_tod.settings import REPO_ROOT
from tests.bench.scripted_server import ScriptedServer

SERVE_START_TIMEOUT_S = 180


def spec_tod_command() -> list[str]:
    """The ``spec-tod`` entry point of this environment."""
    script = Path(sys.executable).parent / "spec-tod"
    return [str(script)] if script.is_file() else [sys.executable, "-c", "from spec_tod.cli import main; main()"]


def bench(*args: str, timeout: float = 300, **popen: object) -> subprocess.CompletedProcess[str]:
    """Run ``spec-tod bench ARGS`` to completion; its exit status and output."""
    return subprocess.run(
        [*spec_tod_command(), "bench", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        env={**os.environ, "COLUMNS": "200"},
        **popen,
    )


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    """A fault-free scripted model server with a few milliseconds of delay."""
    with ScriptedServer(delay_s=0.002) as server:
        yield server


@contextmanager
def served(model_dir: Path, log_dir: Path) -> Iterator[str]:
    """``transformers serve`` on ``model_dir`` (CPU, float32); its base URL. Stopped by its PID on exit."""
    port = free_port()
    launch = Launch(model=str(model_dir), served_model=str(model_dir), bind_host="127.0.0.1", port=port, dtype="float32")
    argv = [*transformers_command(), *engine("transformers").build_arguments(launch)]
    server = start_process(argv, log_dir / "transformers-serve.log", f"transformers serve ({model_dir.name})", offline=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(server, url + "/health", timeout=SERVE_START_TIMEOUT_S)
        yield url
    finally:
        server.remove()


@pytest.fixture(scope="session")
def transformers_server(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``transformers serve`` on the tiny Llama; its base URL."""
    with served(tiny_model_dir, tmp_path_factory.mktemp("serve")) as url:
        yield url
