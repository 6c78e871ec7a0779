"""Fixtures of the serving tests: a private state folder, free ports, and running the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from spec_tod.serve.local import free_port

CLI_TIMEOUT = 240


@pytest.fixture()
def serve_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private ``$SPEC_TOD_HOME`` (servers file and logs) and Hugging Face cache for one test."""
    home = tmp_path / "spec-tod-home"
    monkeypatch.setenv("SPEC_TOD_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-hub"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return home


@pytest.fixture()
def port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    return free_port()


@pytest.fixture()
def spec_tod(serve_home: Path) -> Callable[..., subprocess.CompletedProcess]:
    """Run ``spec-tod ARGS`` as a user would, in this test's environment; returns the finished process."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(Path(sys.executable).parent / "spec-tod"), *args],
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "200", **(env or {})},
            timeout=timeout,
        )

    return run


@pytest.fixture()
def fake_model(tmp_path: Path) -> Path:
    """A folder that passes for a model (config.json); container tests never load it."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    return folder


@pytest.fixture()
def stand_in() -> str:
    """``--entrypoint`` for an image that plays an engine: it reads --port and --hostname/--host from the
    engine's arguments and serves ``/health`` with busybox httpd on that address."""
    script = (
        'while [ $# -gt 0 ]; do case "$1" in --port) port=$2;; --hostname|--host) host=$2;; esac; shift; done; '
        'mkdir -p /www && echo ok > /www/health && echo "stand-in engine on $host:$port" && '
        'exec httpd -f -v -p "$host:$port" -h /www'
    )
    return "--entrypoint=" + json.dumps(["sh", "-c", script, "engine"])


@pytest.fixture()
def recorded(serve_home: Path) -> Callable[[], list[dict]]:
    """Reads the servers file of this test."""

    def read() -> list[dict]:
        path = serve_home / "servers.json"
        return json.loads(path.read_text())["servers"] if path.is_file() else []

    return read
