"""The standardized MultiWOZ evaluator's lookup tables, carried as package data.

The tables (placeholder classes, value normalisation, database constants, metric constants) are part
of the metric's definition (docs/evaluation.md, sections 2-7), so they ship with the package in
``spec_tod/resources/mwz_eval/`` (copied from ``shared/data/mwz_eval``; their ``source`` field names
the evaluator commit they were extracted from).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from spec_tod.resources import MWZ_EVAL, resource


@cache
def load_table(name: str) -> dict[str, Any]:
    """The table ``<name>.json`` (e.g. ``"value_normalization"``), parsed once per process."""
    return json.loads(resource(MWZ_EVAL, f"{name}.json").read_text(encoding="utf-8"))
