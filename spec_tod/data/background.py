"""One CPU-bound call in a forked worker process while this process does other work.

Scoring a test set is a few seconds of pure-Python work in independent pieces (Moses on two halves
of the responses, BLEU beside Inform/Success); on a machine with two cores running one piece in a
forked worker nearly halves the wall time. Without ``fork`` or a second core the call simply runs
when its result is asked for.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def can_fork() -> bool:
    """Whether a forked worker can run beside this process on another core."""
    return (os.cpu_count() or 1) > 1 and "fork" in multiprocessing.get_all_start_methods()


def in_background(function: Callable[..., T], *args: Any) -> Callable[[], T]:
    """Start ``function(*args)`` (module-level, picklable arguments and result); call the returned
    function to wait for its result."""
    if not can_fork():
        return lambda: function(*args)
    executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
    future = executor.submit(function, *args)

    def result() -> T:
        try:
            return future.result()
        finally:
            executor.shutdown()

    return result
