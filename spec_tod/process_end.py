"""Objects a command leaves to the end of its process, where nothing is freed (``spec_tod/entry.py``).

The console script ends its process with ``os._exit`` once the command has returned, so that a loaded
corpus is not freed object by object for nothing. A command's own locals are freed as it returns,
before that exit, in ``spec-tod score``'s last, single-threaded moments (docs/speed.md). Kept
here they are not; kept only when the process does end after the command, so that a command called
as a function (tests, notebooks) still frees what it made.
"""

from __future__ import annotations

_KEPT: list[tuple[object, ...]] = []
_ENDING: list[bool] = []


def process_ends_after_command() -> None:
    """Said by the console script before it runs the command."""
    _ENDING[:] = [True]


def keep_until_exit(*objects: object) -> None:
    """Keep ``objects`` alive until the process ends, if it ends after this command."""
    if _ENDING:
        _KEPT.append(objects)
