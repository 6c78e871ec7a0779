"""CPU-bound work in a forked worker process while this process does other work.

Scoring a test set is a few seconds of pure-Python work in independent pieces (Moses on two halves
of the responses, BLEU beside Inform/Success); on a machine with two cores running one piece in a
forked worker nearly halves the wall time (:func:`in_background`). A :class:`StandingWorker` is
started ahead of time, so that its set-up (imports, tables) is done on another core while this
process waits on something else, such as a bench run's server. Without ``fork`` or a second core the
work simply runs here when its result is asked for.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import stat
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
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


def _standing_worker_start(parent: int) -> None:
    """Initializer of a :class:`StandingWorker`: ends with its parent, leaves signals to it, holds no sockets.

    A Ctrl-C reaches the whole process group: in the worker, waiting for work, it would print a
    traceback; the parent handles the signal and ends the worker. The worker lives as long as, say, a
    bench loop, so it closes its copies of the parent's sockets: a copy of a server's listening socket
    (a test's, or any in the same process) would go on accepting connections after the server closed it.
    Its own pipes to the parent are not sockets.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent(parent)
    if os.path.isdir("/proc/self/fd"):
        for name in os.listdir("/proc/self/fd"):
            try:
                if stat.S_ISSOCK(os.fstat(int(name)).st_mode):
                    os.close(int(name))
            except OSError:  # the listing's own descriptor, already closed
                pass


class StandingWorker:
    """A forked worker that runs ``set_up(*args)`` now and the calls given to :meth:`call` later.

    The calls run in the same process as the set-up, so they find what it prepared (module state of
    that process). Should the worker die, or fork be unavailable, the set-up and the call run here.
    """

    def __init__(self, set_up: Callable[..., Any], *args: Any) -> None:
        self._set_up, self._args = set_up, args
        self._ready_here = False
        self._executor: ProcessPoolExecutor | None = None
        if can_fork():
            self._executor = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_standing_worker_start,
                initargs=(os.getpid(),),
            )
            self._ready = self._executor.submit(set_up, *args)

    def submit(self, function: Callable[..., T], *args: Any) -> Callable[[], T]:
        """Start ``function(*args)`` in the worker after its set-up; call the returned function for the result
        (computed here if the worker is gone). An error of the set-up or of the call is raised there."""
        if self._executor is None:
            return lambda: self._here(function, *args)
        try:
            future = self._executor.submit(function, *args)
        except BrokenProcessPool:
            self.close()
            return lambda: self._here(function, *args)

        def result() -> T:
            try:
                self._ready.result()
                return future.result()
            except BrokenProcessPool:
                self.close()
                return self._here(function, *args)

        return result

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in the worker, once its set-up is done: :meth:`submit`, then its result."""
        return self.submit(function, *args)()

    def _here(self, function: Callable[..., T], *args: Any) -> T:
        if not self._ready_here:
            self._set_up(*self._args)
            self._ready_here = True
        return function(*args)

    def close(self) -> None:
        """End the worker once its current task, if any, is done (at most its set-up or one call).

        Not leaving it to end on its own: an executor shut down without waiting races the
        interpreter's exit, which then writes to the executor's closed wake-up pipe.
        """
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> StandingWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
