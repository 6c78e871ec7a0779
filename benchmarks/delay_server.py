"""A fixed-delay inference-server stand-in for benchmarks: answers every generation request after ``delay_s``.

It speaks just enough HTTP/1.1 (keep-alive, Content-Length bodies) for ``POST /v1/completions``
(OpenAI shape), ``POST /generate`` (TGI shape), ``GET /info`` and ``GET /health``; responses are
deterministic (the generated text is derived from the prompt's length) and parallelism is
unlimited: each request is answered by a timer (``loop.call_later``), not a task or a thread, so
thousands can wait at once at no cost.

The server runs in its **own process** (``DelayServer`` starts ``python delay_server.py`` and
ends it by PID). On a 2-core machine a server sharing the client's event loop or interpreter
(GIL) would steal time from the very client being measured and blur the figures.

Use::

    from benchmarks.delay_server import DelayServer   # or `from delay_server import ...` inside benchmarks/

    with DelayServer(delay_s=0.1) as server:
        ...  # server.url == "http://127.0.0.1:<port>"
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found"}
_MAX_HEADER_BYTES = 64 * 1024


def _completion_body(path: str, payload: dict) -> tuple[int, dict]:
    """The deterministic answer for one request: a few words whose count depends on the prompt."""
    if path == "/v1/completions":
        prompt = payload.get("prompt", "")
        max_tokens = int(payload.get("max_tokens") or 16)
    else:
        prompt = payload.get("inputs", "")
        max_tokens = int(payload.get("parameters", {}).get("max_new_tokens") or 16)
    n = min(max_tokens, 1 + len(prompt) % 7)
    text = " ".join(f"w{i}" for i in range(n))
    finish = "length" if n == max_tokens else "stop"
    if path == "/v1/completions":
        return 200, {
            "id": "cmpl-delay",
            "object": "text_completion",
            "model": payload.get("model") or "delay-server",
            "choices": [{"index": 0, "text": text, "finish_reason": finish}],
            # words counted by their separators: `len(prompt.split())` was 40% of this server's CPU on
            # dialogue-sized prompts, taken from the client it measures on a 2-core machine
            "usage": {"prompt_tokens": prompt.count(" ") + 1, "completion_tokens": n, "total_tokens": 0},
        }
    return 200, {
        "generated_text": text,
        "details": {"finish_reason": "length" if finish == "length" else "eos_token", "generated_tokens": n},
    }


class _DelayProtocol(asyncio.Protocol):
    """One keep-alive connection: each generation request answered ``delay_s`` after it arrived, others at once."""

    def __init__(self, delay_s: float) -> None:
        self._delay_s = delay_s
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > _MAX_HEADER_BYTES:
                    self._transport.close()
                return
            head = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
            method, path, _ = head[0].split(" ", 2)
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self._buffer) < end + 4 + length:
                return
            body = bytes(self._buffer[end + 4 : end + 4 + length])
            del self._buffer[: end + 4 + length]
            if method == "GET":  # /health and /info: a server answers them at once; the delay is generation's
                self._respond(*self._answer(method, path, body))
            else:
                self._loop.call_later(self._delay_s, self._respond, *self._answer(method, path, body))

    def _answer(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if method == "GET" and path == "/health":
            return 200, b'{"status":"ok"}'
        if method == "GET" and path == "/info":
            return 200, b'{"model_id":"delay-server","max_concurrent_requests":1024}'
        if method == "POST" and path in ("/v1/completions", "/generate"):
            try:
                status, answer = _completion_body(path, json.loads(body))
            except (ValueError, TypeError, AttributeError) as exc:
                status, answer = 400, {"error": f"bad request: {exc}"}
            return status, json.dumps(answer).encode()
        return 404, b'{"error":"not found"}'

    def _respond(self, status: int, body: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        )
        self._transport.write(head.encode("latin-1") + body)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None


async def serve(port: int, delay_s: float, ready: Callable[[int], None]) -> None:
    """Serve on 127.0.0.1:``port`` (0 picks a free port) until cancelled; ``ready(port)`` once listening."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _DelayProtocol(delay_s), "127.0.0.1", port, backlog=4096)
    ready(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


class DelayServer:
    """Context manager: a delay server in a child process on 127.0.0.1; ``url`` once entered."""

    def __init__(self, delay_s: float, *, start_timeout_s: float = 20.0) -> None:
        self.delay_s = delay_s
        self._start_timeout_s = start_timeout_s
        self._process: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> DelayServer:
        self._process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--delay", str(self.delay_s), "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        # the child prints its port once it listens
        ready, _, _ = select.select([self._process.stdout], [], [], self._start_timeout_s)
        line = self._process.stdout.readline() if ready else ""
        if not line.strip().isdigit():
            self.__exit__(None, None, None)
            raise RuntimeError(f"delay server did not start within {self._start_timeout_s:g} s (said {line!r})")
        self.url = f"http://127.0.0.1:{int(line)}"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._process = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.1, help="seconds before each answer")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one, printed)")
    args = parser.parse_args()

    def ready(port: int) -> None:
        print(port, flush=True)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        asyncio.run(serve(args.port, args.delay, ready))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
