"""Request bodies as ``json.dumps(payload).encode()``, byte for byte, with the prompt escaped line by line.

Every prompt of a dialogue starts with its system message and repeats its history, so the prompt's
literal is assembled from remembered line escapes (:class:`spec_tod.json_escape.LineEscapes`); checked
against ``json.dumps`` in ``tests/bench/test_json_body.py``.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from typing import Any

from spec_tod.json_escape import LineEscapes


class BodyEncoder:
    """Encodes request payloads; the first key's value, when a long string, is escaped from remembered lines."""

    min_chars = 1024
    """Shorter prompts are escaped whole: the lines of a short text are not worth remembering."""

    def __init__(self) -> None:
        self.lines = LineEscapes(encode_basestring_ascii)  # json.dumps's default: ASCII only

    def encode(self, payload: dict[str, Any]) -> bytes:
        """``json.dumps(payload).encode()``."""
        if payload:
            key, value = next(iter(payload.items()))
            if isinstance(value, str) and len(value) >= self.min_chars:
                rest = json.dumps({k: v for k, v in payload.items() if k != key})
                head = f"{{{encode_basestring_ascii(key)}: {self.lines.quoted(value)}"
                return (head + (", " + rest[1:] if len(payload) > 1 else "}")).encode()
        return json.dumps(payload).encode()
