"""Functions and function blocks kept between dialogues: the same text as built afresh, never stale."""

from __future__ import annotations

import copy
from pathlib import Path

from spec_tod.data.readers import find_schema
from spec_tod.data.schema import load_schema
from spec_tod.tasks.functions import _service_function, built_function, functions_for, service_function
from spec_tod.tasks.prompts import render_functions


def test_kept_functions_equal_fresh_ones_and_render_alike(data_dir: Path) -> None:
    schema = load_schema(find_schema("multiwoz21", data_dir, split="test"))
    domains = ("hotel", "train", "restaurant")
    functions = functions_for(schema, domains)
    assert functions_for(schema, domains) == functions and all(built_function(f) for f in functions)
    assert [_service_function(schema[d]) for d in ("train", "hotel", "restaurant")] == functions
    assert all(service_function(schema[d]) is service_function(schema[d]) for d in domains)
    fresh = copy.deepcopy(functions)
    assert not any(built_function(f) for f in fresh)
    assert render_functions(functions) == render_functions(fresh) == render_functions(functions)


def test_functions_not_built_here_are_rendered_from_their_content() -> None:
    functions = [{"name": "find_x", "description": "d", "arguments": []}]
    before = render_functions(functions)
    functions[0]["description"] = "changed"
    after = render_functions(functions)
    assert before != after and "changed" in after
