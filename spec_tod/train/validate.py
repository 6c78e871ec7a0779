"""Checking an axolotl configuration before anything is launched, with axolotl's own schema.

axolotl's pydantic models ignore keys they do not know (a typo such as ``lora_rank`` would
silently train with the default), so besides running axolotl's ``validate_config`` the keys are
compared with the schema's field names and aliases, at the top level, in every dataset entry and
in nested sections that have a model of their own. Needs axolotl installed (the ``train`` extra);
:func:`axolotl_installed` tells the caller whether the check can run here.
"""

from __future__ import annotations

import copy
import importlib.util
import types
import typing
from collections.abc import Mapping
from typing import Any

from spec_tod.errors import SpecTodError


def axolotl_installed() -> bool:
    """Whether axolotl can be imported in this environment."""
    return importlib.util.find_spec("axolotl") is not None


def check_axolotl_config(cfg: Mapping[str, Any], source: str) -> None:
    """Raise :class:`SpecTodError` listing every problem axolotl would have with ``cfg`` (named ``source``)."""
    problems = config_problems(cfg)
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise SpecTodError(f"{source} is not a valid axolotl configuration:\n{listed}\nNothing was launched.")


def config_problems(cfg: Mapping[str, Any]) -> list[str]:
    """Every problem with ``cfg``, in plain words: unknown keys, then axolotl's schema errors."""
    from axolotl.utils.schemas.config import AxolotlInputConfig
    from axolotl.utils.schemas.datasets import SFTDataset
    from pydantic import ValidationError

    problems, plugin_fields = _plugin_fields(cfg.get("plugins") or [])
    problems += _unknown_keys(AxolotlInputConfig, {k: v for k, v in cfg.items() if k not in plugin_fields}, "")
    valid_entries = []
    for index, entry in enumerate(cfg.get("datasets") or []):
        if not isinstance(entry, Mapping):
            problems.append(f"datasets[{index}]: expected a mapping of dataset settings, got {entry!r}")
            continue
        problems += _unknown_keys(SFTDataset, entry, f"datasets[{index}].")
        try:
            SFTDataset(**entry)
            valid_entries.append(entry)
        except ValidationError as error:
            problems += [_describe(item, f"datasets[{index}].") for item in error.errors()]
    # axolotl stops at the first bad dataset entry; checking the rest with the good ones reports everything at once.
    if valid_entries or not cfg.get("datasets"):
        problems += _schema_errors({**cfg, "datasets": valid_entries} if cfg.get("datasets") else cfg)
    return problems


def _plugin_fields(plugins: list[Any]) -> tuple[list[str], set[str]]:
    """Problems loading ``plugins``, and the settings they add (axolotl merges each plugin's arguments into its schema)."""
    import importlib

    problems: list[str] = []
    fields: set[str] = set()
    for name in plugins:
        try:
            module, _, cls = str(name).rpartition(".")
            arguments = getattr(importlib.import_module(module), cls)().get_input_args()
            if arguments:
                module, _, cls = arguments.rpartition(".")
                fields |= set(getattr(importlib.import_module(module), cls).model_fields)
        except (ImportError, AttributeError, ValueError) as error:
            problems.append(f"plugins: {name!r} cannot be loaded ({error})")
    return problems, fields


def _schema_errors(cfg: Mapping[str, Any]) -> list[str]:
    from axolotl.utils.config import validate_config
    from axolotl.utils.dict import DictDefault
    from pydantic import ValidationError

    try:
        validate_config(DictDefault(copy.deepcopy(dict(cfg))))
    except ValidationError as error:
        return [_describe(item, "") for item in error.errors()]
    except (ValueError, TypeError) as error:  # axolotl's own cross-field checks raise these
        return [str(error).strip()]
    return []


def _describe(item: Mapping[str, Any], prefix: str) -> str:
    where = ".".join(str(part) for part in item["loc"]) or "config"
    message = str(item["msg"]).removeprefix("Value error, ")
    if "input" in item and item["type"] not in ("missing", "value_error"):
        message += f" (got {item['input']!r})"
    return f"{prefix}{where}: {message}"


def _unknown_keys(model: type, data: Mapping[str, Any], prefix: str) -> list[str]:
    fields = model.model_fields  # type: ignore[attr-defined]
    known = set(fields) | {field.alias for field in fields.values() if field.alias}
    problems = [f"{prefix}{key}: axolotl has no such setting (it would be ignored)" for key in data if key not in known]
    for key, value in data.items():
        if key in fields and key != "datasets" and isinstance(value, Mapping):
            nested = _single_model(fields[key].annotation)
            if nested is not None:
                problems += _unknown_keys(nested, value, f"{prefix}{key}.")
    return problems


def _single_model(annotation: Any) -> type | None:
    """The one pydantic model a field holds (``X | None`` included), else None."""
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        models = [arg for arg in typing.get_args(annotation) if isinstance(arg, type) and issubclass(arg, BaseModel)]
        return models[0] if len(models) == 1 else None
    return None
