"""A scripted stand-in for the simulator LLM: the shared FakeServer answering synth prompts by their content.

The answer is a function of the prompt alone (so reruns repeat): the restaurant search request
gets its JSON in single quotes (the repair prompt then gets it in double quotes), variant prompts get three
numbered lines after a "Sure, here are ..." preamble, other prompts one line naming a hash of the prompt.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.bench.servers import FakeServer

_LOOKING = re.compile(r"looking for a restaurant: (.+?) food, (\w+) area,\s+(\w+) price range")
_CHOOSE = re.compile(r"choose option (\d+)")


def _tag(prompt: str) -> str:
    return hashlib.sha256(prompt.encode()).hexdigest()[:6]


def _whole_json(prompt: str) -> dict[str, Any]:
    looking = _LOOKING.search(prompt)
    if looking:
        food, area, price = looking.groups()
        return {"text": f"i want {price} {food} food in the {area}", "food": food, "area": area, "pricerange": price}
    if '"requested"' in prompt:
        return {"text": "what is the phone number?", "requested": "phone"}
    return {"text": "a table for 2 on friday at 19:00 please", "people": "2", "day": "friday", "time": "19:00"}


def answer(prompt: str) -> str:
    """The stand-in model's answer to one prompt."""
    if "Fix the JSON below." in prompt:  # possibly inside a chat template
        broken = prompt[prompt.index("{", prompt.index("nothing else:")) : prompt.rindex("}") + 1]
        return broken.replace("'", '"')
    if "Answer with JSON only" in prompt:
        whole = json.dumps(_whole_json(prompt))
        # The search request comes in Python-dict quotes, which needs the repair call.
        return "Here you go: " + whole.replace('"', "'") if "restaurant:" in prompt else whole
    if "One per line" in prompt:
        choose = _CHOOSE.search(prompt)
        what = f"option {choose.group(1)}" if choose else _tag(prompt)
        preamble = "Sure, here are three ways to say it:"
        return f'{preamble}\n1. let me take {what}\n2. "{what} sounds good"\n3. i\'ll go with {what}'
    return f"Of course. reply {_tag(prompt)}"


@dataclass
class StandIn(FakeServer):
    """``with StandIn() as server: server.url``; answers ``/v1/completions`` with :func:`answer`."""

    async def _answer(self, request: web.Request, body: Any, fault: Any) -> web.StreamResponse:
        if self.delay_s:
            import asyncio

            await asyncio.sleep(self.delay_s)
        text = answer(body["prompt"])
        return web.json_response(
            {
                "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": len(body["prompt"].split()), "completion_tokens": len(text.split())},
            }
        )
