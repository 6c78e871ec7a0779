"""JSON and YAML nested deeper than their parsers go: the parsers' own error, which every reader handles."""

from __future__ import annotations

import json

import pytest
import yaml

from spec_tod.parsing import TOO_DEEP, decode_json_at, load_yaml, loads_json

DEEP = "[" * 5000 + "]" * 5000  # json and PyYAML recurse once per level; the interpreter stops at 1000


def test_too_deep_json_is_a_decode_error_not_a_recursion_error() -> None:
    for text in (DEEP, DEEP.encode(), '{"a": ' + DEEP + "}"):
        with pytest.raises(json.JSONDecodeError, match=TOO_DEEP):
            loads_json(text)
    assert loads_json('{"a": [[1]]}') == {"a": [[1]]}
    assert loads_json("[" * 500 + "]" * 500) == json.loads("[" * 500 + "]" * 500)  # deep, but within reach


def test_a_value_decoded_where_it_starts() -> None:
    assert decode_json_at('x {"a": 1} y', 2) == {"a": 1}
    with pytest.raises(json.JSONDecodeError, match=TOO_DEEP):
        decode_json_at("x " + DEEP, 2)
    with pytest.raises(json.JSONDecodeError):
        decode_json_at("x y", 2)


def test_too_deep_yaml_is_a_yaml_error() -> None:
    with pytest.raises(yaml.YAMLError, match=TOO_DEEP):
        load_yaml(DEEP)
    assert load_yaml("a: [1, [2]]") == {"a": [1, [2]]}
