"""Scriptable completion servers for the client tests (aiohttp.web in a background thread, 127.0.0.1 only).

``FakeServer`` answers ``POST /v1/completions``, ``POST /v1/chat/completions`` (the prompt is the
messages' contents, one per line) and ``POST /generate`` deterministically (the text echoes the prompt's last
word); asked to stream (``"stream": true``) it sends the words as server-sent events
``stream_gap_s`` apart, unless ``streams=False`` (a server that answers whole anyway); it checks
``Authorization`` when ``api_key`` is set (401 otherwise); it records every request's JSON body,
counts the most requests it held at once and the connections it saw, and plays a script of
faults, one per incoming request, before falling back to normal answers:

- ``Fault.status_code(429, retry_after="1")``, ``Fault.status_code(503)``, ``Fault.status_code(400, message=...)``
- ``Fault.slow(seconds)``: answer correctly, but only after ``seconds``
- ``Fault.drop()``: read the request, then close the connection without a byte of answer
- ``Fault.truncate()``: send the head and half the body, then close
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Fault:
    """What the server does with one request instead of answering normally."""

    kind: str
    status: int = 200
    seconds: float = 0.0
    retry_after: str | None = None
    message: str = "injected fault"

    @staticmethod
    def status_code(status: int, *, retry_after: str | None = None, message: str = "injected fault") -> Fault:
        return Fault("status", status=status, retry_after=retry_after, message=message)

    @staticmethod
    def slow(seconds: float) -> Fault:
        return Fault("slow", seconds=seconds)

    @staticmethod
    def drop() -> Fault:
        return Fault("drop")

    @staticmethod
    def truncate() -> Fault:
        return Fault("truncate")


@dataclass
class Received:
    """One request as the server saw it."""

    path: str
    body: Any
    at: float
    peer: tuple[str, int]
    authorization: str | None = None


@dataclass
class FakeServer:
    """A completion server on 127.0.0.1 in its own thread; use as a context manager."""

    delay_s: float = 0.0
    info: dict[str, Any] | None = None
    chunked: bool = False
    streams: bool = True
    stream_gap_s: float = 0.0
    api_key: str | None = None
    script: deque[Fault] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    max_in_flight: int = 0
    url: str = ""
    answer: Callable[[str], str | None] | None = None
    """The model: the prompt -> the generated text, or ``None`` to refuse it (HTTP 400); default :func:`echo_text`."""

    def __post_init__(self) -> None:
        self._in_flight = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def connections(self) -> int:
        """Distinct client connections (peer ports) the server saw."""
        return len({r.peer for r in self.received})

    def fail_next(self, *faults: Fault) -> None:
        """Play ``faults`` on the next requests, in order."""
        with self._lock:
            self.script.extend(faults)

    def __enter__(self) -> FakeServer:
        self._thread.start()
        port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> int:
        app = web.Application()
        app.router.add_post("/v1/completions", self._complete)
        app.router.add_post("/v1/chat/completions", self._complete)
        app.router.add_post("/generate", self._complete)
        app.router.add_get("/info", self._info)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return self._runner.addresses[0][1]

    async def _stop(self) -> None:
        await self._runner.cleanup()
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:  # handlers still sleeping on a slow fault
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _info(self, request: web.Request) -> web.StreamResponse:
        if self.info is None:
            return web.json_response({"error": "not found"}, status=404)
        return web.json_response(self.info)

    async def _complete(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        with self._lock:
            peer = request.transport.get_extra_info("peername")
            authorization = request.headers.get("Authorization")
            self.received.append(Received(request.path, body, time.monotonic(), peer, authorization))
            fault = self.script.popleft() if self.script else None
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            return await self._answer(request, body, fault)
        finally:
            with self._lock:
                self._in_flight -= 1

    async def _answer(self, request: web.Request, body: Any, fault: Fault | None) -> web.StreamResponse:
        if self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response({"error": {"message": "Incorrect API key provided"}}, status=401)
        if fault is not None and fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            payload = {"error": fault.message} if request.path == "/generate" else {"detail": fault.message}
            return web.json_response(payload, status=fault.status, headers=headers)
        if fault is not None and fault.kind == "drop":
            request.transport.abort()
            raise asyncio.CancelledError  # nothing more goes out on this connection
        await asyncio.sleep(fault.seconds if fault is not None and fault.kind == "slow" else self.delay_s)
        if body.get("stream") and self.streams:
            return await self._stream(request, body)
        if self.answer is not None:
            text = self.answer(prompt_text(request.path, body))
            if text is None:
                return web.json_response({"detail": "prompt refused by the stand-in model"}, status=400)
        else:
            text = None
        data = json.dumps(_completion(request.path, body, text)).encode()
        if fault is not None and fault.kind == "truncate":
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            response.content_length = len(data)
            await response.prepare(request)
            await response.write(data[: len(data) // 2])
            request.transport.abort()
            raise asyncio.CancelledError
        if self.chunked:
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            for start in range(0, len(data), 7):
                await response.write(data[start : start + 7])
            await response.write_eof()
            return response
        return web.Response(body=data, content_type="application/json")


    async def _stream(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        """The answer's words as server-sent events, ``stream_gap_s`` apart, then usage and ``[DONE]``."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        chat = request.path == "/v1/chat/completions"
        prompt = prompt_text(request.path, body)
        words = echo_text(prompt).split(" ")[1:]
        for index, word in enumerate(words):
            if index:
                await asyncio.sleep(self.stream_gap_s)
            piece = " " + word
            last = index == len(words) - 1
            choice: dict[str, Any] = {"index": 0, "finish_reason": "stop" if last else None}
            choice.update({"delta": {"content": piece}} if chat else {"text": piece})
            await response.write(b"data: " + json.dumps({"choices": [choice]}).encode() + b"\n\n")
        usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": len(words)}
        await response.write(b"data: " + json.dumps({"choices": [], "usage": usage}).encode() + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def echo_text(prompt: str) -> str:
    """The fake model's answer to ``prompt``: its last word, then the end of turn."""
    words = prompt.split()
    return f" echo {words[-1] if words else ''}"


def prompt_text(path: str, body: dict[str, Any]) -> str:
    """The prompt of a request as one text (chat: the messages' contents, one per line)."""
    if path == "/v1/chat/completions":
        return "\n".join(message["content"] for message in body["messages"])
    return body["prompt"] if path == "/v1/completions" else body["inputs"]


def _completion(path: str, body: dict[str, Any], answer: str | None = None) -> dict[str, Any]:
    if path == "/v1/chat/completions":
        prompt = prompt_text(path, body)
        text = answer if answer is not None else echo_text(prompt)
        return {
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": len(text.split())},
        }
    if path == "/v1/completions":
        text = answer if answer is not None else echo_text(body["prompt"])
        return {
            "object": "text_completion",
            "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(body["prompt"].split()), "completion_tokens": len(text.split())},
        }
    stop = body["parameters"].get("stop") or []
    text = (answer if answer is not None else echo_text(body["inputs"])) + (stop[0] if stop else "")  # TGI keeps the stop sequence in the text
    return {
        "generated_text": text,
        "details": {"finish_reason": "stop_sequence" if stop else "eos_token", "generated_tokens": len(text.split())},
    }


class RawServer:
    """Answers every request on a connection with fixed raw bytes, written piece by piece (``pause_s`` apart).

    For the HTTP parser: each piece reaches the client as its own read, and ``close=True`` closes
    the connection after the last one.
    """

    def __init__(self, pieces: list[bytes], *, close: bool = False, pause_s: float = 0.001) -> None:
        self.pieces = pieces
        self.close = close
        self.pause_s = pause_s
        self.url = ""
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def __enter__(self) -> RawServer:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop
        ).result(timeout=10)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            self._server.close()
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
                    0,
                )
                await reader.readexactly(length)
                for piece in self.pieces:
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(self.pause_s)
                if self.close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
