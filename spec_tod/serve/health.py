"""Waiting for a freshly started engine to answer, and giving up cleanly when it will not.

An engine can take minutes to load a model, or die while doing so (no GPU, out of memory, a
wrong flag). :func:`wait_until_healthy` polls the health route and, between polls, asks the
engine whether it is still alive; when it has exited or the time is up, it removes what was
started and raises a plain error that quotes the engine's last log lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import httpx

from spec_tod.errors import SpecTodError

LOG_LINES_ON_FAILURE = 30


class StartedEngine(Protocol):
    """A started engine, container or process, as far as waiting for it goes."""

    description: str

    def exit_status(self) -> int | None:
        """``None`` while it runs, else its exit status."""

    def log_tail(self, lines: int) -> list[str]:
        """Its last ``lines`` log lines."""

    def remove(self) -> None:
        """Stop it and remove what was started for it."""


def is_healthy(url: str, timeout: float = 2.0) -> bool:
    """Whether ``url`` answers 200 within ``timeout`` seconds."""
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until_healthy(
    engine: StartedEngine,
    health_url: str,
    *,
    timeout: float,
    interval: float = 0.5,
    on_wait: Callable[[float], None] | None = None,
) -> float:
    """Poll ``health_url`` until it answers 200; return the seconds it took.

    When the engine exits first, or ``timeout`` seconds pass, ``engine`` is removed and a
    :class:`SpecTodError` quoting its last log lines is raised. Ctrl-C removes it too.
    ``on_wait`` is called with the elapsed seconds after every unsuccessful poll (progress display).
    """
    started = time.monotonic()
    try:
        while True:
            if is_healthy(health_url):
                return time.monotonic() - started
            status = engine.exit_status()
            elapsed = time.monotonic() - started
            if status is not None:
                _fail(engine, f"{engine.description} exited with status {status} before answering on {health_url}")
            if elapsed > timeout:
                _fail(
                    engine,
                    f"{engine.description} did not answer on {health_url} within {timeout:.0f} s "
                    "(raise --timeout if the model is still loading)",
                )
            if on_wait is not None:
                on_wait(elapsed)
            time.sleep(interval)
    except KeyboardInterrupt:
        engine.remove()
        raise


def _fail(engine: StartedEngine, reason: str) -> None:
    lines = engine.log_tail(LOG_LINES_ON_FAILURE)
    engine.remove()
    shown = "\n".join(f"  | {line}" for line in lines) if lines else "  | (no output)"
    raise SpecTodError(f"{reason}; it was removed. Its last log lines:\n{shown}")
