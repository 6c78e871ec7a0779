"""SIGINT and SIGTERM (what Ctrl-C and schedulers send): a clean stop, one line, exit 128 + the signal.

Installed before anything heavy is imported, so that a signal even in the first second (while
typer, rich and torch load) ends quietly. While a command runs, the signal becomes
:class:`Interrupted`, a ``KeyboardInterrupt``, so that ``finally`` blocks and context managers run
(temporary files are removed, the run-directory lock released, checkpoints closed) and
:func:`spec_tod.cli.main` prints the line. A second signal during that cleanup exits at once.
Everything a command writes is either resumable (bench checkpoints) or written atomically, so
rerunning the same command continues.

Inside an event loop (:func:`run_async`) a signal cancels the coroutine instead of raising into
whichever task runs: its tasks end with ``CancelledError`` like any cancellation (no "task
exception was never retrieved" at exit) and :class:`Interrupted` is raised once the loop is done.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

from spec_tod.errors import SpecTodError

if TYPE_CHECKING:
    from asyncio import AbstractEventLoop

T = TypeVar("T")

MESSAGE = "interrupted; rerun the same command to continue"
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received: list[int] = []


def exit_code(default: int = 130) -> int:
    """``128 +`` the signal received (typer reports every interruption as 130, whichever signal it was)."""
    return 128 + _received[0] if _received else default


class Interrupted(KeyboardInterrupt):
    """The process received ``signum``; it exits with :func:`exit_code`."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _say_and_exit(signum: int) -> None:
    sys.stderr.write(f"{MESSAGE}\n")
    sys.stderr.flush()
    os._exit(128 + signum)


def _while_starting(signum: int, frame: FrameType | None) -> None:
    # Nothing has been written yet: leave without unwinding the half-done imports.
    _say_and_exit(signum)


def _while_running(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    for sig in _SIGNALS:
        signal.signal(sig, _while_cleaning_up)
    raise Interrupted(signum)


def _while_cleaning_up(signum: int, frame: FrameType | None) -> None:
    _say_and_exit(signum)


def install_for_startup() -> None:
    """Until :func:`install_for_commands`: a signal exits at once with the message."""
    for sig in _SIGNALS:
        signal.signal(sig, _while_starting)


def install_for_commands() -> None:
    """From now on a signal raises :class:`Interrupted` where the program is, for an orderly stop."""
    for sig in _SIGNALS:
        signal.signal(sig, _while_running)


EVENT_LOOP_ENV = "SPEC_TOD_EVENT_LOOP"
"""``asyncio``: every event loop is asyncio's own even where uvloop is installed; ``uvloop``: uvloop's, or an error."""


def _loop_factory() -> Callable[[], AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (not on Windows), else asyncio's own (``None``).

    uvloop runs the loop, its timers and the sockets' transports in C: the completion client spends
    20-35% less CPU per request than on asyncio's loop, which a loop at 256 requests in flight needs
    (docs/speed.md, "The benchmark loop's CPU").
    """
    wanted = os.environ.get(EVENT_LOOP_ENV, "")
    if wanted not in ("", "asyncio", "uvloop"):
        raise SpecTodError(f"{EVENT_LOOP_ENV}={wanted!r}: expected asyncio or uvloop (or unset: uvloop where installed)")
    if wanted == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if wanted == "uvloop":
            raise SpecTodError(f"{EVENT_LOOP_ENV}=uvloop, but uvloop is not installed: pip install uvloop") from None
        return None
    return uvloop.new_event_loop


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` in a new event loop (uvloop's where installed); SIGINT or SIGTERM cancels it, then
    :class:`Interrupted` is raised."""
    import asyncio  # here: commands without an event loop (score, build-data) start 50-70 ms sooner

    try:
        factory = _loop_factory()
    except SpecTodError:
        coroutine.close()  # never run: no "never awaited" warning
        raise

    received: list[int] = []

    async def guarded() -> T:
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()
        assert main is not None

        def on_signal(signum: int) -> None:
            if received:
                _say_and_exit(signum)
            received.append(signum)
            main.cancel()

        previous = {}
        for sig in _SIGNALS:
            handler = signal.getsignal(sig)
            try:
                loop.add_signal_handler(sig, on_signal, sig)
            except (ValueError, RuntimeError):  # not the main thread: signals stay with the process's handlers
                continue
            previous[sig] = handler
        try:
            return await coroutine
        finally:
            for sig, handler in previous.items():
                loop.remove_signal_handler(sig)  # which resets the handler: put the previous one back
                signal.signal(sig, handler)

    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(guarded())
    except asyncio.CancelledError:
        if not received:
            raise
        _received.append(received[0])
        raise Interrupted(received[0]) from None
