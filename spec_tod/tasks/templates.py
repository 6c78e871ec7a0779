"""The text templates in ``spec_tod/resources/templates/``: the function block (jinja2) and the YAML tables.

They live outside the code so that prompt wording can be read and reviewed as text; everything
that renders a prompt goes through this module, for training data and inference alike.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jinja2

from spec_tod.cache import cached
from spec_tod.errors import SpecTodError
from spec_tod.resources import TEMPLATES, resource


def template_path(name: str) -> str:
    """Where a template lives, as error messages name it."""
    return f"spec_tod/resources/{TEMPLATES}/{name}"


def _source(name: str) -> str:
    try:
        return resource(TEMPLATES, name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecTodError(f"{template_path(name)}: not found in the installed package; reinstall spec-tod") from None


def _json_line(value: Any) -> str:
    # ensure_ascii=False: SGD names and values reach the model as written, not as \u escapes.
    return json.dumps(value, ensure_ascii=False)


@cache
def jinja_template(name: str) -> jinja2.Template:
    """A template from the package's templates, rendered without HTML escaping and with the ``json_line`` filter."""
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_source),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )
    env.filters["json_line"] = _json_line
    return env.get_template(name)


@cache
def yaml_table(name: str) -> dict[str, Any]:
    """A YAML table from the package's templates (read once per process, parsed once per installed version).

    Kept in the on-disk cache (:mod:`spec_tod.cache`, whose key covers the package's resources): a
    command then needs neither PyYAML's import (15-20 ms) nor the parse.
    """
    return cached("template-table", {"name": name}, lambda: (_parsed_yaml(name), []))


def _parsed_yaml(name: str) -> dict[str, Any]:
    import yaml

    path = template_path(name)
    try:
        # libyaml's loader where PyYAML has it: the same tables, read 5-10x faster than the pure-Python one
        data = yaml.load(_source(name), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise SpecTodError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise SpecTodError(f"{path}: expected a YAML mapping at the top level")
    return data
