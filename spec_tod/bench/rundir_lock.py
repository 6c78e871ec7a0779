"""One writer per run directory: an advisory lock that the process running it holds until it exits.

Two ``spec-tod bench`` processes on one run directory (a second terminal, a scheduler's retry)
would send every request twice and append to the same shard files. The lock is ``flock`` on
``<run_dir>/.lock``: the kernel releases it when the holder exits in any way (SIGKILL included),
so a stale lock never blocks a resume. The holder writes its PID into the file so that the refused
process can name it. The file itself is never removed: unlinking a lock file while another process
waits to open it would let two processes hold "the" lock on two different files.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from spec_tod.errors import SpecTodError
from spec_tod.fileio import remove_stale_temp_files

LOCK_FILE = ".lock"

_held: set[int] = set()
"""Descriptors of the locks this process holds."""


def _drop_in_child() -> None:
    # A forked worker (scoring, normalising) shares the lock's open file description: were it to keep it,
    # the lock would outlive a killed holder for as long as the worker lives and refuse the rerun. The
    # child closes its copies; the parent's hold is unchanged. (Executed programs never get it: os.open
    # makes descriptors non-inheritable.)
    for fd in _held:
        os.close(fd)
    _held.clear()


os.register_at_fork(after_in_child=_drop_in_child)


class RunDirLock:
    """``with RunDirLock(run_dir):`` holds the run directory or raises a one-line ``SpecTodError`` at once.

    On entry it also removes the temporary files an earlier, killed process left in the run
    directory (nothing else can be writing them while the lock is held).
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self._fd: int | None = None

    def __enter__(self) -> RunDirLock:
        path = self.run_dir / LOCK_FILE
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise SpecTodError(f"{path}: cannot create the run directory's lock ({error.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise SpecTodError(
                f"{self.run_dir}: in use by another spec-tod process (PID {holder}); wait for it to finish, "
                "or stop it and rerun"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd
        _held.add(fd)
        remove_stale_temp_files(self.run_dir)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._fd is not None and self._fd in _held:  # not in a forked child, which closed it already
            _held.discard(self._fd)
            os.close(self._fd)  # closing the descriptor releases the lock
        self._fd = None
