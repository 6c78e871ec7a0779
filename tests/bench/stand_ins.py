"""Stand-in model servers built on :class:`tests.bench.servers.FakeServer` (its thread, port and request log).

* :class:`OracleServer` answers a prompt with its training record's continuation and refuses (HTTP
  400) any other prompt: a bench run against it reproduces the training targets only when bench
  sends exactly the training text.
* :class:`SamplingServer` imitates a model's decoding: greedy requests (temperature 0) get a text
  that depends on the prompt only; sampled requests get one that depends on the prompt, the seed
  and the sampling parameters, so one seed always repeats itself and two seeds differ. It refuses
  keys outside the OpenAI schema, as ``transformers serve`` does.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.bench.servers import FakeServer, Fault

WORDS = (
    "[value_name]",
    "is",
    "a",
    "nice",
    "place",
    "in",
    "the",
    "[value_area]",
    ".",
    "would",
    "you",
    "like",
    "to",
    "book",
    "it",
    "?",
    "i",
    "have",
    "[value_choice]",
    "options",
    "for",
    "[value_food]",
    "food",
)
OPENAI_KEYS = frozenset({"prompt", "max_tokens", "temperature", "top_p", "stop", "seed", "model"})


def _completion(text: str, stop: list[str], prompt: str) -> dict[str, Any]:
    finish = "length"
    for marker in stop:
        if marker and marker in text:
            text, finish = text[: text.index(marker)], "stop"
    return {
        "choices": [{"index": 0, "text": text, "finish_reason": finish}],
        "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": max(1, len(text.split()))},
    }


@dataclass
class OracleServer(FakeServer):
    """``answers``: prompt -> the continuation the training record holds."""

    answers: dict[str, str] = field(default_factory=dict)
    refused: int = 0

    async def _answer(self, request: web.Request, body: Any, fault: Fault | None) -> web.StreamResponse:
        prompt = body.get("prompt")
        if prompt not in self.answers:
            self.refused += 1
            return web.json_response({"detail": "not a prompt of the training records"}, status=400)
        return web.json_response(_completion(self.answers[prompt], body.get("stop") or [], prompt))


def sampled_text(prompt: str, body: dict[str, Any]) -> str:
    """The stand-in's answer: a few words chosen by a hash of the prompt (and of the sampling, if any)."""
    temperature = float(body.get("temperature") or 0.0)
    key: tuple = (prompt,) if temperature <= 0 else (prompt, body.get("seed"), temperature, body.get("top_p"))
    digest = hashlib.sha256(repr(key).encode()).digest()
    count = 3 + digest[0] % 6
    return " " + " ".join(WORDS[digest[1 + i] % len(WORDS)] for i in range(count)) + "\n"


@dataclass
class SamplingServer(FakeServer):
    """``honour_temperature=False`` decodes greedily whatever is asked (as transformers serve does for a model
    whose generation_config has ``do_sample: false``)."""

    honour_temperature: bool = True

    async def _answer(self, request: web.Request, body: Any, fault: Fault | None) -> web.StreamResponse:
        unexpected = sorted(set(body) - OPENAI_KEYS)
        if unexpected:
            return web.json_response({"detail": f"Unexpected fields in the request: {unexpected}"}, status=422)
        prompt = body["prompt"]
        asked = body if self.honour_temperature else {**body, "temperature": 0}
        return web.json_response(_completion(sampled_text(prompt, asked), body.get("stop") or [], prompt))


JUDGE_KINDS = ("tidy", "fenced", "prose", "refusal", "partial", "single")


def judge_answer(prompt: str, seed: object) -> tuple[str, str, dict[str, int]]:
    """``(kind, answer, the scores it states)``: the kind depends on the prompt, the scores on the seed too."""
    from spec_tod.judge.criteria import NAMES

    kind = JUDGE_KINDS[hashlib.sha256(prompt.encode()).digest()[0] % len(JUDGE_KINDS)]
    digest = hashlib.sha256(repr((prompt, seed)).encode()).digest()
    scores = {name: digest[i] % 6 for i, name in enumerate(NAMES)}
    if kind == "tidy":
        return kind, json.dumps(scores), scores
    if kind == "fenced":
        body = {name.lower(): f"{score}/5" for name, score in scores.items()}
        return (
            kind,
            "Sure! Here is my evaluation:\n```json\n" + json.dumps(body, indent=2) + "\n```\nHope it helps.",
            scores,
        )
    if kind == "prose":
        return (
            kind,
            "\n".join(f"{i}) **{name}** - {score}" for i, (name, score) in enumerate(scores.items(), 1)),
            scores,
        )
    if kind == "refusal":
        return kind, "I'm sorry, but I cannot evaluate this conversation.", {}
    if kind == "partial":
        first = dict(list(scores.items())[:5])
        return kind, json.dumps(first), first
    return kind, '{"score": "4"}', {}


@dataclass
class JudgeServer(FakeServer):
    """A judge model: answers tidy JSON, fenced JSON, prose, refusals, partial and single-score JSON."""

    requests: dict[tuple[str, object], int] = field(default_factory=dict)

    async def _answer(self, request: web.Request, body: Any, fault: Fault | None) -> web.StreamResponse:
        key = (body["prompt"], body.get("seed"))
        self.requests[key] = self.requests.get(key, 0) + 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        _, text, _ = judge_answer(*key)
        return web.json_response(_completion(text, body.get("stop") or [], body["prompt"]))
