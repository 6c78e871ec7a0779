"""A completion server whose answer is a function of the prompt (``None``: refuse with 400), built on FakeServer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.bench.servers import FakeServer, Fault


@dataclass
class AnswerServer(FakeServer):
    answer: Callable[[str], str | None] = lambda prompt: None
    refused: list[str] = field(default_factory=list)

    async def _answer(self, request: web.Request, body: Any, fault: Fault | None) -> web.StreamResponse:
        text = self.answer(body["prompt"])
        if text is None:
            self.refused.append(body["prompt"])
            return web.json_response({"detail": "unknown prompt"}, status=400)
        return web.json_response(
            {
                "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": len(body["prompt"].split()), "completion_tokens": len(text.split())},
            }
        )
