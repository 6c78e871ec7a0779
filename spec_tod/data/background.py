"""One CPU-bound call in a forked worker process while this process does other work.

Scoring a test set is a few seconds of pure-Python work in independent pieces (Moses on two halves
of the responses, BLEU beside Inform/Success); on a machine with two cores running one piece in a
forked worker nearly halves the wall time. Without ``fork`` or a second core the call simply runs
when its result is asked for.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def can_fork() -> bool:
    """Whether a forked worker can run beside this process on another core."""
    return (os.cpu_count() or 1) > 1 and "fork" in multiprocessing.get_all_start_methods()


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent: int) -> None:
    """Worker initializer: end the worker when the process that forked it ends.

    A forked worker holds both ends of its task pipe, so the parent's death (a SIGKILLed bench) never
    reaches it as end-of-file: without this it would wait on the pipe for ever. The thread that forks is
    the one that waits for the result, so the signal cannot come while the result is still wanted.
    """
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the signal was asked for
        os._exit(1)


def in_background(function: Callable[..., T], *args: Any) -> Callable[[], T]:
    """Start ``function(*args)`` (module-level, picklable arguments and result); call the returned
    function to wait for its result."""
    if not can_fork():
        return lambda: function(*args)
    executor = ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("fork"), initializer=_die_with_parent, initargs=(os.getpid(),)
    )
    future = executor.submit(function, *args)

    def result() -> T:
        try:
            return future.result()
        finally:
            executor.shutdown()

    return result
