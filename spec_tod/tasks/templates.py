"""The text templates under ``templates/``: the function block (jinja2) and the YAML tables.

They live outside the code so that prompt wording can be read and reviewed as text; everything
that renders a prompt goes through this module, for training data and inference alike.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jinja2
import yaml

from spec_tod.errors import SpecTodError
from spec_tod.settings import REPO_ROOT

TEMPLATES_DIR = REPO_ROOT / "templates"


def _json_line(value: Any) -> str:
    # ensure_ascii=False: SGD names and values reach the model as written, not as \u escapes.
    return json.dumps(value, ensure_ascii=False)


@cache
def jinja_template(name: str) -> jinja2.Template:
    """A template from ``templates/``, rendered without HTML escaping and with the ``json_line`` filter."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )
    env.filters["json_line"] = _json_line
    try:
        return env.get_template(name)
    except jinja2.TemplateNotFound:
        raise SpecTodError(f"{TEMPLATES_DIR / name}: template not found; the templates/ folder is incomplete") from None


@cache
def yaml_table(name: str) -> dict[str, Any]:
    """A YAML table from ``templates/`` (read once per process)."""
    path = TEMPLATES_DIR / name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecTodError(f"{path}: template table not found; the templates/ folder is incomplete") from None
    except yaml.YAMLError as exc:
        raise SpecTodError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise SpecTodError(f"{path}: expected a YAML mapping at the top level")
    return data
