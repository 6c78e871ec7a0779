"""Parsing JSON and YAML text whatever its nesting: too deep is malformed, not a crash.

``json.loads`` and PyYAML raise ``RecursionError`` for text nested deeper than their parsers go (about
a thousand levels, so a few thousand bytes of brackets): a damaged file, or a model's answer caught in
a loop of ``[[[[``. Every reader of files and answers already turns ``json.JSONDecodeError`` or
``yaml.YAMLError`` into one line naming what it read; the functions here raise those errors for this
case too, so none of the readers has to know it.
"""

from __future__ import annotations

import json
from typing import Any

TOO_DEEP = "nested deeper than the parser goes"


def loads_json(text: str | bytes) -> Any:
    """``json.loads(text)``; ``json.JSONDecodeError`` (a ``ValueError``) for text nested too deeply."""
    try:
        return json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError(TOO_DEEP, "", 0) from None


_DECODER = json.JSONDecoder()


def decode_json_at(text: str, position: int) -> Any:
    """The JSON value that starts at ``text[position]``, whatever follows it (``JSONDecoder.raw_decode``);
    ``json.JSONDecodeError`` where none starts there, or it is nested too deeply."""
    try:
        return _DECODER.raw_decode(text, position)[0]
    except RecursionError:
        raise json.JSONDecodeError(TOO_DEEP, text, position) from None


def load_yaml(text: str | bytes) -> Any:
    """``yaml.safe_load(text)``; ``yaml.YAMLError`` for text nested too deeply."""
    import yaml  # only the commands that read YAML pay for importing it

    try:
        return yaml.safe_load(text)
    except RecursionError:
        raise yaml.YAMLError(TOO_DEEP) from None
