"""``json.dumps(value, ensure_ascii=False)`` with one encoder for the whole process.

``json.dumps`` with any non-default option builds a new ``JSONEncoder`` on every call; build-data
encodes tens of thousands of calls, actions and lines, and that construction was a measurable part
of it (docs/speed.md). The encoder's settings are ``json.dumps``'s defaults but ``ensure_ascii``, so
the text is the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

dumps: Callable[[Any], str] = json.JSONEncoder(ensure_ascii=False).encode
"""``json.dumps(value, ensure_ascii=False)``: default separators, keys in insertion order."""
