"""Turning raw dialogue records into ``Dialogue`` objects, stopping at or skipping invalid ones."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from spec_tod.data.dialogue import Dialogue
from spec_tod.errors import SpecTodError

Progress = Callable[[int], None]
"""Called with the number of dialogues read since the previous call."""


@dataclass
class LoadResult:
    dialogues: list[Dialogue]
    """In file order (for MultiWOZ 2.1 read from ``data.json``: in list-file order)."""
    files: list[Path]
    """Every input file read, for the manifest of the outputs built from them."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """``(dialogue id, reason)`` of the dialogues left out under ``skip_invalid``."""


class InvalidDialogue(Exception):
    """A dialogue record lacks what the reader needs; the message says what was expected."""


def expect(condition: object, expectation: str) -> None:
    """Raise ``InvalidDialogue(expectation)`` unless ``condition`` holds."""
    if not condition:
        raise InvalidDialogue(expectation)


_T = TypeVar("_T")


def expect_type(value: object, kind: type[_T], expectation: str) -> _T:
    """``value``, typed as ``kind`` (e.g. ``dict``, ``list``); ``InvalidDialogue(expectation)`` when it is not one."""
    if not isinstance(value, kind):
        raise InvalidDialogue(expectation)
    return value


Record = tuple[Path, str, object]
"""``(file, dialogue id, raw record)``."""


def collect(
    records: Iterable[Record],
    parse: Callable[[str, object, Path], Dialogue],
    *,
    skip_invalid: bool,
    progress: Progress | None,
) -> tuple[list[Dialogue], list[tuple[str, str]]]:
    """Parse every record; an invalid one raises a ``SpecTodError`` naming the file and dialogue,
    or with ``skip_invalid`` is listed with its reason in the second result."""
    dialogues: list[Dialogue] = []
    skipped: list[tuple[str, str]] = []
    for path, dialogue_id, raw in records:
        try:
            dialogues.append(parse(dialogue_id, raw, path))
        except InvalidDialogue as exc:
            reason = str(exc)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            # Anything structural the explicit checks did not anticipate.
            reason = f"unexpected record structure ({type(exc).__name__}: {exc})"
        else:
            reason = ""
        if reason:
            if not skip_invalid:
                raise SpecTodError(
                    f"{path}: dialogue {dialogue_id!r}: {reason}; fix the file, or skip such dialogues "
                    "with skip_invalid (--skip-invalid)"
                )
            skipped.append((dialogue_id, reason))
        if progress is not None:
            progress(1)
    return dialogues, skipped
