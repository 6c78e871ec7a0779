"""The event loop that commands run on."""

from __future__ import annotations

import asyncio

import pytest

from spec_tod.errors import SpecTodError
from spec_tod.interrupts import EVENT_LOOP_ENV, run_async


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_commands_run_on_uvloop_where_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("uvloop")
    monkeypatch.delenv(EVENT_LOOP_ENV, raising=False)
    assert run_async(_loop_module()).startswith("uvloop")


def test_asyncio_s_own_loop_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(EVENT_LOOP_ENV, "asyncio")
    assert run_async(_loop_module()).startswith("asyncio")


def test_an_unknown_loop_is_one_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(EVENT_LOOP_ENV, "trio")
    with pytest.raises(SpecTodError, match=f"{EVENT_LOOP_ENV}='trio': expected asyncio or uvloop"):
        run_async(_loop_module())
