"""The ``spec-tod`` console script: runs the command line, then ends the process without the teardown.

Kept apart from :mod:`spec_tod.cli` so that ``spec-tod --version`` is answered before typer is imported.
"""

from __future__ import annotations

import os
import sys

# httpx imports its own command line (click, rich.syntax, pygments) with its package when those are
# installed, as typer and rich are here: 30 ms of every command's start for a tool spec-tod never runs.
# A module mapped to None fails to import: the case httpx's __init__ provides for ("httpx[cli]" absent).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def main() -> None:
    """The ``spec-tod`` console script: :func:`spec_tod.cli.main`, then an exit that skips the interpreter's teardown.

    Tearing down a process that holds a loaded corpus frees its objects one by one, for nothing
    (docs/speed.md). Once the command has returned, its outputs are flushed and the ``atexit`` handlers
    run (logging, multiprocessing, temporary folders), the process ends at once. It exits normally
    when a non-daemon thread is still running, since the interpreter would wait for that thread.
    """
    if sys.argv[1:] == ["--version"]:  # answered before typer, click and the commands are imported
        from spec_tod import __version__

        print(f"spec-tod {__version__}", flush=True)
        os._exit(0)
    from spec_tod.cli import main as run_command
    from spec_tod.process_end import process_ends_after_command

    process_ends_after_command()
    try:
        run_command()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if done.code is not None and not isinstance(done.code, int):
            print(done.code, file=sys.stderr)
    import threading

    main_thread = threading.main_thread()
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not main_thread):
        sys.exit(code)
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing left to deliver
            pass
    os._exit(code)
