"""What a command keeps to its process's end is kept only when the process ends after the command."""

from __future__ import annotations

import weakref

import pytest

from spec_tod import process_end


class _Table:
    pass


def test_objects_are_kept_only_when_the_process_ends_after_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process_end, "_KEPT", [])
    monkeypatch.setattr(process_end, "_ENDING", [])
    table = _Table()
    alive = weakref.ref(table)
    process_end.keep_until_exit(table)  # a command called as a function: its objects are freed
    del table
    assert alive() is None
    process_end.process_ends_after_command()  # what the console script says before the command
    table = _Table()
    alive = weakref.ref(table)
    process_end.keep_until_exit(table)
    del table
    assert alive() is not None
