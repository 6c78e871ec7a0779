"""The prediction interchange format: reading it and checking it against the reference dialogues.

``{dialogue id: [{"response": str, "state"?: {domain: {slot: str}}, "active_domains"?: [str]}, ...]}``
with lower-case ids without ``.json`` and one entry per system turn (docs/evaluation.md, section 1).
``spec-tod bench`` writes this format to ``<run dir>/predictions.json``; a run directory is accepted
in place of that file. Extra keys in a turn are ignored; a ``null`` state or domain list counts as
absent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictStr, TypeAdapter, ValidationError

from spec_tod.data.gc_pause import gc_paused
from spec_tod.errors import SpecTodError
from spec_tod.parsing import loads_json

PREDICTIONS_FILE = "predictions.json"
INCOMPLETE_PREDICTIONS_FILE = "predictions.incomplete.json"
"""What an incomplete bench run writes instead: a run directory with it alone is not scored."""
_SHOWN = 5


class PredictedTurn(BaseModel):
    """One system turn of the interchange format."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    response: StrictStr
    state: dict[StrictStr, dict[StrictStr, StrictStr]] | None = None
    active_domains: list[StrictStr] | None = None


_FORMAT = TypeAdapter(dict[StrictStr, list[PredictedTurn]])
Predictions = dict[str, list[PredictedTurn]]


def predictions_path(path: Path) -> Path:
    """``path`` itself, or ``path/predictions.json`` for a ``spec-tod bench`` run directory."""
    path = Path(path)
    if path.is_dir():
        inner = path / PREDICTIONS_FILE
        if not inner.is_file() and (path / INCOMPLETE_PREDICTIONS_FILE).is_file():
            raise SpecTodError(
                f"{path}: the run is incomplete (turns failed or were skipped), so it has no {PREDICTIONS_FILE}; "
                f"rerun its bench command to finish it, or pass {path / INCOMPLETE_PREDICTIONS_FILE} to score "
                "it anyway (missing answers count as empty)"
            )
        if not inner.is_file():
            raise SpecTodError(
                f"{path}: a directory without {PREDICTIONS_FILE}; pass a predictions file or a spec-tod bench run directory"
            )
        return inner
    return path


@gc_paused()
def load_predictions(path: Path | str) -> dict[str, list[dict[str, Any]]]:
    """Read and check a predictions file (or a bench run directory); returns the plain JSON object."""
    path, data = _read(path)
    parse_predictions(data, source=str(path))
    return data


@gc_paused()
def read_predictions(path: Path | str) -> Predictions:
    """Read and check a predictions file (or a bench run directory); returns it parsed, as the scorer
    takes it (which then does not check it again)."""
    path, data = _read(path)
    return parse_predictions(data, source=str(path))


def _read(path: Path | str) -> tuple[Path, Any]:
    path = predictions_path(Path(path))
    try:
        return path, loads_json(path.read_bytes())
    except FileNotFoundError:
        raise SpecTodError(f"{path}: predictions file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SpecTodError(f"{path}: cannot read the predictions as JSON ({error})") from None


def parse_predictions(data: Any, *, source: str = "predictions") -> Predictions:
    """Check the interchange format; errors name the first offending dialogues and turns."""
    if not isinstance(data, Mapping):
        raise SpecTodError(
            f"{source}: expected a JSON object {{dialogue id: [system turn, ...]}}, got {type(data).__name__}"
        )
    try:
        return _FORMAT.validate_python(data)
    except ValidationError as error:
        problems = [_describe(problem) for problem in error.errors()[:_SHOWN]]
        more = error.error_count() - len(problems)
        raise SpecTodError(
            f"{source}: {error.error_count()} format problem(s): {'; '.join(problems)}"
            + (f"; and {more} more" if more > 0 else "")
            + ' (each turn needs "response": string, optionally "state": {domain: {slot: string}} '
            'and "active_domains": [string])'
        ) from None


def _describe(problem: Mapping[str, Any]) -> str:
    location = list(problem["loc"])
    where = []
    if location:
        where.append(f"dialogue {location.pop(0)}")
    if location and isinstance(location[0], int):
        where.append(f"turn {location.pop(0)}")
    field = ".".join(str(part) for part in location)
    found = problem.get("input")
    found_text = f", got {type(found).__name__}" if field and found is not None else ""
    return " ".join(where) + (f" {field}" if field else "") + f": {problem['msg'].lower()}{found_text}"
