"""CPU-bound work in a forked worker process while this process does other work.

Scoring a test set is a few seconds of pure-Python work in independent pieces (Moses on two halves
of the responses, BLEU beside Inform/Success); on a machine with two cores running one piece in a
forked worker nearly halves the wall time (:func:`in_background`). A :class:`StandingWorker` is
started ahead of time, so that its set-up (imports, tables) is done on another core while this
process waits on something else, such as a bench run's server. :class:`Forked` runs a function in a
plain forked child that reads its arguments where they lie (build-data's builds of a second split).
Without ``fork`` or a second core the work simply runs here when its result is asked for.
"""

from __future__ import annotations

import os
import pickle
import signal
import stat
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

T = TypeVar("T")


def can_fork() -> bool:
    """Whether a forked worker can run beside this process on another core."""
    return (os.cpu_count() or 1) > 1 and hasattr(os, "fork")


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent: int) -> None:
    """Worker initializer: end the worker when the process that forked it ends.

    A forked worker holds both ends of its task pipe, so the parent's death (a SIGKILLed bench) never
    reaches it as end-of-file: without this it would wait on the pipe for ever. The thread that forks is
    the one that waits for the result, so the signal cannot come while the result is still wanted.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the signal was asked for
        os._exit(1)


def in_background(function: Callable[..., T], *args: Any) -> Callable[[], T]:
    """Start ``function(*args)`` (module-level, picklable arguments and result); call the returned
    function to wait for its result."""
    if not can_fork():
        return lambda: function(*args)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

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


class Forked(Generic[T]):
    """``function(*args)`` started in a forked child that shares this process's memory as it is now.

    Unlike :func:`in_background`, nothing is pickled on the way in: the child reads ``args`` where they
    lie, so large loaded data (a corpus split) costs nothing to hand over; the result comes back pickled.
    The child ignores the terminal's Ctrl-C (the parent stops it: :meth:`stop`), ends with its parent, and
    leaves without running the parent's exit handlers. If it dies, or fork is unavailable, the function
    runs here when its result is asked for.
    """

    def __init__(self, function: Callable[..., T], *args: Any) -> None:
        self._function, self._args = function, args
        self._child: int | None = None
        self._pipe: int | None = None
        if not can_fork():
            return
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # else the child's copy of the buffers is written twice
        parent = os.getpid()
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:
            os.close(read_end)
            self._run_child(parent, write_end)
        os.close(write_end)
        self._child, self._pipe = child, read_end

    def _run_child(self, parent: int, write_end: int) -> NoReturn:
        status = 0
        try:
            _standing_worker_start(parent)
            # SIGTERM from stop() unwinds the function, so that its finally blocks remove temporary files
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
            try:
                outcome: tuple[bool, Any] = (True, self._function(*self._args))
            except BaseException as error:  # every failure goes back to the parent
                outcome = (False, error)
            try:
                data = pickle.dumps(outcome)
            except Exception as error:
                data = pickle.dumps((False, RuntimeError(f"{type(outcome[1]).__name__}: {outcome[1]} ({error})")))
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(data)
        except BaseException:
            status = 1
        finally:
            os._exit(status)

    def result(self) -> T:
        """The function's result, or its error raised here; computed here if the child died."""
        if self._child is None or self._pipe is None:
            return self._function(*self._args)
        fd, self._pipe = self._pipe, None  # closed by the reader below, whatever happens
        with os.fdopen(fd, "rb") as pipe:
            data = pipe.read()
        os.waitpid(self._child, 0)
        self._child = None
        if not data:  # the child died before it could answer
            return self._function(*self._args)
        ok, value = pickle.loads(data)
        if not ok:
            raise value
        return value

    def stop(self) -> None:
        """End the child if it still runs (its function is interrupted and cleans up), and wait for it."""
        if self._child is None:
            return
        try:
            os.kill(self._child, signal.SIGTERM)
        except ProcessLookupError:
            pass
        os.waitpid(self._child, 0)
        if self._pipe is not None:
            os.close(self._pipe)
            self._pipe = None
        self._child = None


class Gate:
    """A forked child's word that its first step went well, and its parent's word to go on.

    For work in two steps where nothing of the second may happen in any process before the first has
    succeeded in all of them (build-data: every split read before any file is written). Made before
    the fork and given to the child; the parent then calls :meth:`parent_side`, and the child
    :meth:`passed` (or :meth:`failed`) after its first step, which returns whether to go on; the
    parent waits for each child with :meth:`outcome`, lets it go on with :meth:`release`, and calls
    :meth:`close` in the end whatever happened (a child not released then stops). One byte each way,
    on two pipes.
    """

    def __init__(self) -> None:
        self.parent = os.getpid()
        self._ready_read, self._ready_write = os.pipe()
        self._go_read, self._go_write = os.pipe()
        self._open = {self._ready_read, self._ready_write, self._go_read, self._go_write}

    def in_child(self) -> bool:
        """Whether this is the forked child (a child that died has its function run in the parent)."""
        return os.getpid() != self.parent

    def _close(self, *fds: int) -> None:
        for fd in fds:
            if fd in self._open:
                self._open.discard(fd)
                os.close(fd)

    def parent_side(self) -> None:
        """In the parent, once the child is forked: close the child's ends."""
        self._close(self._ready_write, self._go_read)

    def passed(self) -> bool:
        """In the child: its first step went well; wait for the parent's word, ``True`` to go on."""
        self._close(self._ready_read, self._go_write)
        try:
            os.write(self._ready_write, b"1")
        except BrokenPipeError:  # the parent no longer listens: it gave up
            return False
        return os.read(self._go_read, 1) == b"g"

    def failed(self) -> None:
        """In the child: its first step failed (it then raises its error, which the parent gets)."""
        try:
            os.write(self._ready_write, b"0")
        except BrokenPipeError:  # the parent no longer listens
            pass

    def outcome(self) -> str:
        """In the parent: ``passed``, ``failed`` (the child's result raises why) or ``died`` (no word)."""
        answer = os.read(self._ready_read, 1)
        return {b"1": "passed", b"0": "failed"}.get(answer, "died")

    def release(self) -> None:
        """In the parent: tell a child that passed to go on."""
        try:
            os.write(self._go_write, b"g")
        except BrokenPipeError:  # the child has ended: nothing to tell
            pass
        self._close(self._go_write)

    def close(self) -> None:
        """In the parent: close its ends that are still open (a child waiting for its word then stops)."""
        self._close(*list(self._open))


def _standing_worker_start(parent: int) -> None:
    """Start of a forked worker: ends with its parent, leaves signals to it, holds no sockets.

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


def _standing_worker_init(parent: int, set_up: Callable[..., Any], args: tuple) -> None:
    """Initializer of a :class:`StandingWorker`: :func:`_standing_worker_start`, then ``set_up(*args)``, whose
    error the first task raises (:func:`_set_up_outcome`)."""
    _standing_worker_start(parent)
    try:
        set_up(*args)
    except Exception as error:
        _SET_UP_ERROR.append(error)


_SET_UP_ERROR: list[Exception] = []
"""In a standing worker: the error of its set-up, if it failed."""


def _set_up_outcome() -> None:
    """The standing worker's first task: its set-up's error, raised in the parent when it asks for a result."""
    if _SET_UP_ERROR:
        raise _SET_UP_ERROR[0]


def _broken_pool() -> type[Exception]:
    """``BrokenProcessPool``, imported only where a pool runs: concurrent.futures and multiprocessing take
    30 ms to import, which a command that forks with :class:`Forked` (build-data) need not pay."""
    from concurrent.futures.process import BrokenProcessPool

    return BrokenProcessPool


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
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # The set-up runs in the initializer, whose arguments a forked worker inherits: a submitted
            # task's are pickled, which for a bench run's dialogues cost its loop's start 65 ms.
            self._executor = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_standing_worker_init,
                initargs=(os.getpid(), set_up, args),
            )
            self._ready = self._executor.submit(_set_up_outcome)

    def submit(self, function: Callable[..., T], *args: Any) -> Callable[[], T]:
        """Start ``function(*args)`` in the worker after its set-up; call the returned function for the result
        (computed here if the worker is gone). An error of the set-up or of the call is raised there."""
        if self._executor is None:
            return lambda: self._here(function, *args)
        try:
            future = self._executor.submit(function, *args)
        except _broken_pool():
            self.close()
            return lambda: self._here(function, *args)

        def result() -> T:
            try:
                self._ready.result()
                return future.result()
            except _broken_pool():
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
