"""``transformers serve`` as a detached local process: the CPU engine for small models.

The process gets its own session (so it outlives ``spec-tod serve`` and can be stopped as a
group), writes its output to a log file, and is identified later by its PID together with the
kernel's record of its start time, so that a PID reused by an unrelated process is never
signalled. Two pitfalls of ``transformers serve`` are handled here: ``HF_HUB_OFFLINE=1`` for a
local model folder (no hub lookups), and the Hugging Face cache folder is created, without
which ``GET /v1/models`` answers 500.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from spec_tod.errors import SpecTodError

STOP_GRACE_SECONDS = 15.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the kernel picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def check_port_free(port: int) -> None:
    """Raise unless ``port`` on 127.0.0.1 is free: checked before the work that ends in serving on it."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise SpecTodError(
                f"--port {port}: cannot listen there ({error.strerror}); stop what uses it, or pass another port"
            ) from None


def transformers_command() -> list[str]:
    """How to start ``transformers`` in this environment: its own command line, run through
    :mod:`spec_tod.serve.transformers_entry` so that ``/v1/models`` lists the served model."""
    import importlib.util

    if importlib.util.find_spec("transformers") is None or importlib.util.find_spec("fastapi") is None:
        raise SpecTodError(
            "`transformers serve` is not installed; install the serving extra: pip install 'spec-tod[serve]'"
        )
    return [sys.executable, "-m", "spec_tod.serve.transformers_entry"]


def process_start_time(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (``/proc/PID/stat`` field 22), or ``None``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces; fields after it are plain.
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[19] if fields[0] != "Z" else None


class LocalServer:
    """A detached engine process, started here (``process``) or found again from its PID and start time."""

    def __init__(
        self,
        pid: int,
        log_path: Path,
        description: str,
        *,
        start_time: str | None = None,
        process: subprocess.Popen | None = None,
    ) -> None:
        self.pid = pid
        self.log_path = log_path
        self.description = description
        self.process = process
        self.start_time = start_time if process is None else process_start_time(pid)

    def exit_status(self) -> int | None:
        """``None`` while the process runs, else its exit status (-1 when it was not our child)."""
        if self.process is not None:
            return self.process.poll()
        current = process_start_time(self.pid)
        return None if current is not None and current == self.start_time else -1

    def log_tail(self, lines: int) -> list[str]:
        """The last ``lines`` lines of the log file."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        return text.splitlines()[-lines:]

    def remove(self) -> None:
        """Stop the process group: SIGTERM, then SIGKILL after a grace period."""
        if self.exit_status() is not None:
            return
        _signal_group(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while time.monotonic() < deadline and self.exit_status() is None:
            time.sleep(0.2)
        if self.exit_status() is None:
            _signal_group(self.pid, signal.SIGKILL)
            if self.process is not None:
                self.process.wait(timeout=STOP_GRACE_SECONDS)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # The process leads its own session (start_new_session), so its group id is its PID.
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache folder as huggingface_hub resolves it from the environment."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def start_process(
    argv: Sequence[str], log_path: Path, description: str, *, offline: bool
) -> LocalServer:
    """Start ``argv`` detached, with stdout and stderr appended to ``log_path``."""
    hf_cache_dir().mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    return LocalServer(process.pid, log_path, description, process=process)
