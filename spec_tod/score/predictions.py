"""The prediction interchange format: reading it and checking it against the reference dialogues.

``{dialogue id: [{"response": str, "state"?: {domain: {slot: str}}, "active_domains"?: [str]}, ...]}``
with lower-case ids without ``.json`` and one entry per system turn (docs/evaluation.md, section 1).
``spec-tod bench`` writes this format to ``<run dir>/predictions.json``; a run directory is accepted
in place of that file. Extra keys in a turn are ignored; a ``null`` state or domain list counts as
absent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spec_tod.data.gc_pause import gc_paused
from spec_tod.errors import SpecTodError
from spec_tod.parsing import loads_json

PREDICTIONS_FILE = "predictions.json"
INCOMPLETE_PREDICTIONS_FILE = "predictions.incomplete.json"
"""What an incomplete bench run writes instead: a run directory with it alone is not scored."""
_SHOWN = 5


@dataclass(frozen=True, slots=True)
class PredictedTurn:
    """One system turn of the interchange format."""

    response: str
    state: dict[str, dict[str, str]] | None = None
    active_domains: list[str] | None = None


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
def read_predictions(path: Path | str, *, on_responses: Callable[[list[str]], None] | None = None) -> Predictions:
    """Read and check a predictions file (or a bench run directory); returns it parsed, as the scorer
    takes it (which then does not check it again).

    ``on_responses`` is given the responses found as soon as the file is read, before it is checked
    (``spec-tod score`` sends them to be normalised meanwhile); a file that fails the check fails after it.
    """
    path, data = _read(path)
    if on_responses is not None:
        on_responses(_responses(data))
    return parse_predictions(data, source=str(path))


def _responses(data: Any) -> list[str]:
    if type(data) is not dict:
        return []
    return [
        turn["response"]
        for turns in data.values()
        if type(turns) is list
        for turn in turns
        if type(turn) is dict and isinstance(turn.get("response"), str)
    ]


def _read(path: Path | str) -> tuple[Path, Any]:
    path = predictions_path(Path(path))
    try:
        return path, loads_json(path.read_bytes())
    except FileNotFoundError:
        raise SpecTodError(f"{path}: predictions file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SpecTodError(f"{path}: cannot read the predictions as JSON ({error})") from None


def parse_predictions(data: Any, *, source: str = "predictions") -> Predictions:
    """Check the interchange format; errors name the first offending dialogues and turns.

    Checked here rather than by a pydantic model, so that ``spec-tod score`` does not import pydantic
    (docs/speed.md has the measurement). The rules are a pydantic model's in strict mode with extra
    keys ignored, and so are the messages.
    """
    if not isinstance(data, Mapping):
        raise SpecTodError(
            f"{source}: expected a JSON object {{dialogue id: [system turn, ...]}}, got {type(data).__name__}"
        )
    problems: list[str] = []
    parsed: Predictions = {}
    for dialogue_id, turns in data.items():
        where = f"dialogue {dialogue_id}"
        if not isinstance(dialogue_id, str):
            problems.append(f"{where}: input should be a valid string")
        if not isinstance(turns, list):
            problems.append(f"{where}: input should be a valid list")
            continue
        checked = [_turn(turn, where, index, problems) for index, turn in enumerate(turns)]
        parsed[dialogue_id] = [turn for turn in checked if turn is not None]
    if problems:
        shown = problems[:_SHOWN]
        more = len(problems) - len(shown)
        raise SpecTodError(
            f"{source}: {len(problems)} format problem(s): {'; '.join(shown)}"
            + (f"; and {more} more" if more > 0 else "")
            + ' (each turn needs "response": string, optionally "state": {domain: {slot: string}} '
            'and "active_domains": [string])'
        )
    return parsed


def _turn(turn: Any, dialogue: str, index: int, problems: list[str]) -> PredictedTurn | None:
    """The turn, or ``None`` with its problems added (their places are composed only then)."""
    if isinstance(turn, Mapping):
        response, state, domains = turn.get("response"), turn.get("state"), turn.get("active_domains")
        if (
            isinstance(response, str)
            and (state is None or _is_state(state))
            and (domains is None or (isinstance(domains, list) and all(isinstance(domain, str) for domain in domains)))
        ):
            return PredictedTurn(response, state, domains)
    _explain(turn, f"{dialogue} turn {index}", problems)
    return None


def _explain(turn: Any, where: str, problems: list[str]) -> None:
    if not isinstance(turn, Mapping):
        problems.append(f"{where}: input should be a valid dictionary")
        return
    if "response" not in turn:
        problems.append(f"{where} response: field required")
    else:
        _check_strings(turn["response"], f"{where} response", 0, problems)
    state = turn.get("state")
    if state is not None:
        _check_strings(state, f"{where} state", 2, problems)
    domains = turn.get("active_domains")
    if domains is not None:
        if not isinstance(domains, list):
            problems.append(f"{where} active_domains: input should be a valid list{_got(domains)}")
        else:
            for index, domain in enumerate(domains):
                _check_strings(domain, f"{where} active_domains.{index}", 0, problems)


def _is_state(state: Any) -> bool:
    """``{domain: {slot: value}}``, all strings."""
    return isinstance(state, dict) and all(
        isinstance(domain, str)
        and isinstance(slots, dict)
        and all(isinstance(slot, str) and isinstance(value, str) for slot, value in slots.items())
        for domain, slots in state.items()
    )


def _check_strings(value: Any, where: str, levels: int, problems: list[str]) -> None:
    """``value`` is a string (``levels`` 0), or a dict of strings to such values one level less deep; each
    problem is added, named at its place."""
    if levels == 0:
        if not isinstance(value, str):
            problems.append(f"{where}: input should be a valid string{_got(value)}")
        return
    if not isinstance(value, dict):
        problems.append(f"{where}: input should be a valid dictionary{_got(value)}")
        return
    for key, item in value.items():
        if not isinstance(key, str):
            problems.append(f"{where}.{key}: input should be a valid string{_got(key)}")
        _check_strings(item, f"{where}.{key}", levels - 1, problems)


def _got(value: Any) -> str:
    return f", got {type(value).__name__}"
