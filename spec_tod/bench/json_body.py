"""Request bodies as ``json.dumps(payload).encode()``, byte for byte, with the prompt escaped line by line.

A benchmark sends the same long texts over and over: every prompt of a dialogue starts with its
system message (instructions and the function block, most of a MultiWOZ prompt's 9 KB), and the
history grows by a few lines per turn. JSON escapes each character on its own, so the escape of a
text is the escapes of its lines joined by ``\\n``; :class:`BodyEncoder` keeps each distinct line's
escape and escapes only the lines it has not seen. Escaping is most of ``json.dumps`` of a body, so
this is measured in ``docs/speed.md`` ("The benchmark loop's CPU") and checked against ``json.dumps``
in ``tests/bench/test_json_body.py``.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from typing import Any

_ESCAPED_NEWLINE = "\\n"


class BodyEncoder:
    """Encodes request payloads; the first key's value, when a long string, is escaped from remembered lines."""

    min_chars = 1024
    """Shorter prompts are escaped whole: the lines of a short text are not worth remembering."""
    max_lines = 1 << 16
    """Distinct lines remembered; all are forgotten when a prompt finds the limit reached (a run's system
    messages fit)."""

    def __init__(self) -> None:
        self._lines: dict[str, str] = {}

    def encode(self, payload: dict[str, Any]) -> bytes:
        """``json.dumps(payload).encode()``."""
        if payload:
            key, value = next(iter(payload.items()))
            if isinstance(value, str) and len(value) >= self.min_chars:
                rest = json.dumps({k: v for k, v in payload.items() if k != key})
                head = f"{{{encode_basestring_ascii(key)}: {self._escape(value)}"
                return (head + (", " + rest[1:] if len(payload) > 1 else "}")).encode()
        return json.dumps(payload).encode()

    def _escape(self, text: str) -> str:
        lines = self._lines
        if len(lines) >= self.max_lines:
            lines.clear()
        escaped = []
        for line in text.split("\n"):
            known = lines.get(line)
            if known is None:
                known = lines[line] = encode_basestring_ascii(line)[1:-1]
            escaped.append(known)
        return '"' + _ESCAPED_NEWLINE.join(escaped) + '"'
