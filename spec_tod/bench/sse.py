"""Server-sent events of a streamed answer, each with the time it arrived.

The client's transport reads an answer whole and notes when each piece of the body came in
(:attr:`spec_tod.http.connection.Response.marks`); an event arrived when the piece holding its last
byte did. Events are separated by a blank line; their ``data:`` lines hold JSON, and
``data: [DONE]`` ends the stream (the OpenAI convention, which vLLM, SGLang, TGI and
``transformers serve`` follow). Comments (``:``) and other fields (``event:``, ``id:``) are skipped.
An event that carries ``error`` (vLLM sends one when generation fails mid-stream) is an error.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from typing import Any

from spec_tod.bench.protocols import ProtocolError, loads_answer

_EVENT_END = re.compile(rb"\r?\n\r?\n")


def read_events(body: bytes, marks: Sequence[tuple[int, float]]) -> list[tuple[Any, float]]:
    """``(decoded data, arrival time)`` of each event of ``body``, in order, without the final ``[DONE]``."""
    offsets = [offset for offset, _ in marks]
    events: list[tuple[Any, float]] = []
    start = 0
    ends = [match.end() for match in _EVENT_END.finditer(body)]
    if body[start:].strip() and (not ends or ends[-1] < len(body)):
        ends.append(len(body))  # a last event without its blank line
    for end in ends:
        block = body[start:end]
        start = end
        data = [line[5:].removeprefix(b" ") for line in block.splitlines() if line.startswith(b"data:")]
        if not data:
            continue
        text = b"\n".join(data)
        if text.strip() == b"[DONE]":
            break
        try:
            event = loads_answer(text)
        except ValueError:
            raise ProtocolError(f"a streamed event is not JSON: {text[:200]!r}") from None
        if isinstance(event, dict) and event.get("error"):
            error = event["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise ProtocolError(f"the server reported an error mid-stream: {message}")
        index = bisect.bisect_left(offsets, end)
        arrived = marks[min(index, len(marks) - 1)][1] if marks else float("nan")
        events.append((event, arrived))
    return events


def is_event_stream(content_type: str | None) -> bool:
    """True for a ``text/event-stream`` answer."""
    return content_type is not None and content_type.split(";", 1)[0].strip().lower() == "text/event-stream"
