"""Request bodies as ``json.dumps(payload).encode()``, byte for byte, with the prompt escaped piecewise.

Every prompt of a dialogue starts with its system message and repeats its history, so the prompt's
literal is assembled from remembered escapes (:class:`spec_tod.json_escape.LineEscapes`): of its
parts when the renderer assembled it (:class:`spec_tod.json_escape.AssembledText`), else of its
lines. Checked against ``json.dumps`` in ``tests/bench/test_json_body.py``.
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

    max_rests = 256
    """Distinct sets of generation parameters whose JSON is remembered."""

    def __init__(self) -> None:
        self.lines = LineEscapes(encode_basestring_ascii)  # json.dumps's default: ASCII only
        self._rests: dict[tuple, str] = {}

    def encode(self, payload: dict[str, Any]) -> bytes:
        """``json.dumps(payload).encode()``."""
        if payload:
            key, value = next(iter(payload.items()))
            if isinstance(value, str) and len(value) >= self.min_chars:
                rest = self._rest(payload, key)
                head = f"{{{encode_basestring_ascii(key)}: {self.lines.quoted(value)}"
                return (head + (", " + rest[1:] if len(payload) > 1 else "}")).encode()
        return json.dumps(payload).encode()

    def _rest(self, payload: dict[str, Any], key: str) -> str:
        """The JSON of the payload without ``key``: the generation parameters, the same for most calls.

        Remembered by keys and values as :func:`_exactly` spells them; a payload with another kind of
        value (a dict, from ``extra_body``) is dumped each time.
        """
        signature: tuple | None
        try:
            signature = tuple((k, _exactly(v)) for k, v in payload.items() if k != key)
        except TypeError:
            signature = None
        known = self._rests.get(signature) if signature is not None else None
        if known is None:
            known = json.dumps({k: v for k, v in payload.items() if k != key})
            if signature is not None and len(self._rests) < self.max_rests:
                self._rests[signature] = known
        return known


def _exactly(value: Any) -> tuple:
    """A key equal for two values only when their JSON is the same: ``True == 1`` and ``0.0 == -0.0`` in Python,
    not in JSON. Strings, numbers, booleans, ``None`` and lists of strings; ``TypeError`` for the rest."""
    kind = type(value)
    if kind is float:
        return (kind, value.hex())
    if kind in (str, int, bool) or value is None:
        return (kind, value)
    if kind is list and all(type(item) is str for item in value):
        return (kind, *value)
    raise TypeError(f"not remembered: {kind.__name__}")
