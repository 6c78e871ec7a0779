"""A deterministic stand-in for a fine-tuned Spec-TOD model behind ``/v1/completions`` (and
``/v1/chat/completions``, whose messages it lays out as Llama 3's template does), with injectable faults.

The answer is a function of the prompt alone: a prompt that ends at the start of a ``function``
message gets a call of one of the five functions with arguments picked by the prompt's hash (or,
one time in seven, no call); a prompt that ends at the start of an ``assistant`` message gets an
action and a delexicalised response. One prompt in ``garbage_every`` gets
text that parses as neither, so parse failures are exercised too. Identical prompts therefore get
identical answers, which is what the resume and sharding tests compare.

Faults are decided per (prompt, attempt) from the hash too, so a run against the same server is
repeatable: ``rate_429``, ``rate_503``, ``rate_slow`` (answer after ``slow_s``) and ``rate_drop``
(close the connection without an answer) apply to the first ``faulty_attempts`` attempts of a
prompt; a prompt in ``always_fail_every`` answers 503 forever (its turn ends as failed). ``rate_malformed``
answers 200 with a body that is empty, cut short or without ``choices`` (in turn). A prompt in
``huge_every`` gets an answer of ``huge_bytes`` on every attempt.

``outage_after`` / ``outage_s``: once that many requests have been answered, the server goes down
for ``outage_s`` seconds as a killed one would: it stops listening (connections are refused), drops
the requests it is holding and its ``/health`` is gone, then it listens on the same port again.

It runs in a thread of the test process (aiohttp), on 127.0.0.1 and a free port.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web

FUNCTIONS = {
    "book_taxi": {"destination": ["cambridge", "ely"], "leave_at_or_after": ["10:15", "17:30"]},
    "find_book_train": {"destination": ["cambridge", "london kings cross"], "day": ["monday", "friday"]},
    "find_attraction": {"area": ["centre", "north"], "type": ["museum", "park"]},
    "find_book_hotel": {"area": ["east", "west"], "stars": ["3", "4"], "accommodation_type": ["hotel", "guesthouse"]},
    "find_book_restaurant": {"food": ["chinese", "italian"], "pricerange": ["cheap", "expensive"]},
}
RESPONSES = (
    ('{"[restaurant]": {"[inform]": ["name", "food"]}}', "[value_name] serves [value_food] food ."),
    ('{"[hotel]": {"[request]": ["area"]}}', "which area would you like to stay in ?"),
    ('{"[train]": {"[inform]": ["id"], "[offerbook]": []}}', "[value_id] leaves at [value_leave] . shall i book it ?"),
    ('{"[general]": {"[reqmore]": []}}', "is there anything else i can help you with ?"),
)


def _digest(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "big")


def scripted_text(prompt: str, garbage_every: int) -> str:
    """The model's answer to ``prompt`` (without the prefill)."""
    h = _digest(prompt)
    if garbage_every and h % garbage_every == 0:
        return "i am not sure what to say"
    if prompt.endswith("function<|end_header_id|>\n\n"):
        if h % 7 == 0:
            return "<function_call>none</function_call>"
        name = sorted(FUNCTIONS)[h % len(FUNCTIONS)]
        arguments = {slot: values[(h >> (3 + i)) % len(values)] for i, (slot, values) in enumerate(FUNCTIONS[name].items()) if (h >> i) & 1}
        return json.dumps({"function": name, "arguments": arguments}).join(("<function_call>", "</function_call>"))
    action, response = RESPONSES[h % len(RESPONSES)]
    return f"Action: {action}\n{response}"


def chat_text(payload: dict) -> str:
    """A chat request's messages as Llama 3 lays them out (as a vLLM server would render them), so the
    scripted model answers it as it answers the same prompt on ``/v1/completions``."""
    parts = [f"<|start_header_id|>{m['role']}<|end_header_id|>\n\n{m['content']}" for m in payload["messages"]]
    text = "<|begin_of_text|>" + "<|eot_id|>".join(parts)
    if payload.get("add_generation_prompt"):
        text += "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    return text


@dataclass
class Faults:
    rate_429: float = 0.0
    rate_503: float = 0.0
    rate_slow: float = 0.0
    rate_drop: float = 0.0
    slow_s: float = 0.3
    faulty_attempts: int = 2
    always_fail_every: int = 0
    rate_malformed: float = 0.0
    huge_every: int = 0
    huge_bytes: int = 10 * 1024 * 1024


@dataclass
class ScriptedServer:
    """``with ScriptedServer() as server: server.url``; counts requests by outcome in ``outcomes``."""

    delay_s: float = 0.0
    garbage_every: int = 11
    faults: Faults = field(default_factory=Faults)
    outage_after: int = 0
    outage_s: float = 0.0
    outcomes: Counter = field(default_factory=Counter)
    url: str = ""

    def __post_init__(self) -> None:
        self._attempts: Counter = Counter()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._port = 0
        self._down = False
        self._outage: asyncio.Task | None = None

    async def _go_down(self) -> None:
        self._down = True
        self.outcomes["outages"] += 1
        await self._site.stop()
        await asyncio.sleep(self.outage_s)
        self._site = web.TCPSite(self._runner, "127.0.0.1", self._port, reuse_address=True)
        await self._site.start()
        self._down = False

    def _drop_if_down(self, request: web.Request) -> bool:
        if self._down:
            self.outcomes["dropped_while_down"] += 1
            request.transport.abort()
        return self._down

    async def _complete(self, request: web.Request) -> web.StreamResponse:
        payload = await request.json()
        chat = request.path == "/v1/chat/completions"
        prompt = chat_text(payload) if chat else payload["prompt"]
        if self._drop_if_down(request):
            return web.Response(status=500)
        key = _digest(prompt)
        self._attempts[key] += 1
        attempt = self._attempts[key]
        faults = self.faults
        if faults.huge_every and key % faults.huge_every == 2:
            self.outcomes["huge"] += 1
            text = "x" * faults.huge_bytes
            return web.json_response({"choices": [{"index": 0, "text": text, "finish_reason": "length"}]})
        if faults.always_fail_every and key % faults.always_fail_every == 1:
            self.outcomes["always_503"] += 1
            return web.json_response({"error": "overloaded"}, status=503)
        if attempt <= faults.faulty_attempts:
            roll = _digest(prompt, attempt) % 1000 / 1000
            rates = (
                ("429", faults.rate_429),
                ("503", faults.rate_503),
                ("drop", faults.rate_drop),
                ("slow", faults.rate_slow),
                ("malformed", faults.rate_malformed),
            )
            for name, rate in rates:
                if roll < rate:
                    self.outcomes[name] += 1
                    if name == "malformed":
                        bodies = (b"", b'{"choices": [{"text": "cut sh', b'{"object": "text_completion"}')
                        return web.Response(body=bodies[attempt % 3], content_type="application/json")
                    if name == "429":
                        return web.json_response({"error": "rate limited"}, status=429, headers={"Retry-After": "0"})
                    if name == "503":
                        return web.json_response({"error": "busy"}, status=503)
                    if name == "drop":
                        request.transport.close()
                        return web.Response(status=500)
                    await asyncio.sleep(faults.slow_s)
                    break
                roll -= rate
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self._drop_if_down(request):  # went down while this request waited
            return web.Response(status=500)
        text = scripted_text(prompt, self.garbage_every)[: 8 * int(payload.get("max_tokens", 128))]
        self.outcomes["ok"] += 1
        if self.outage_after and self.outcomes["ok"] == self.outage_after:
            self._outage = asyncio.get_running_loop().create_task(self._go_down())
        choice = {"message": {"role": "assistant", "content": text}} if chat else {"text": text}
        return web.json_response(
            {
                "choices": [{"index": 0, **choice, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": len(text.split())},
            }
        )

    async def _health(self, request: web.Request) -> web.Response:
        if self._drop_if_down(request):
            return web.Response(status=503)
        return web.json_response({"status": "ok"})

    async def _start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/completions", self._complete)
        app.router.add_post("/v1/chat/completions", self._complete)
        app.router.add_get("/health", self._health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", 0, reuse_address=True)
        await self._site.start()
        self._port = self._site._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{self._port}"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._outage is not None:
            self._loop.call_soon_threadsafe(self._outage.cancel)
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
