"""The schema-guided file layout shared by MultiWOZ 2.2 and SGD: ``dialogues_*.json`` files of
dialogue lists whose turns alternate USER and SYSTEM, with the state in the user turn's frames."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from spec_tod.data.dialogue import BeliefState
from spec_tod.data.readers.collect import Record, expect, expect_type
from spec_tod.data.readers.files import read_json, strip_json_suffix
from spec_tod.data.readers.state import state_value
from spec_tod.errors import SpecTodError

SPEAKERS = ("USER", "SYSTEM")


def dialogue_files(folder: Path) -> list[Path]:
    """The ``dialogues_*.json`` files of a split folder, in name order (MultiWOZ 2.2 and SGD)."""
    files = sorted(folder.glob("dialogues_*.json"))
    if not files:
        raise SpecTodError(f"{folder}: no dialogues_*.json files; expected the schema-guided layout")
    return files


def list_records(files: list[Path]) -> Iterator[Record]:
    """``(file, dialogue id, record)`` for every entry of JSON lists of dialogues; the id is the
    record's ``dialogue_id`` without ``.json`` (``#<position>`` when it has none)."""
    for path in files:
        data = read_json(path)
        if not isinstance(data, list):
            raise SpecTodError(f"{path}: expected a JSON list of dialogues")
        for position, raw in enumerate(data):
            dialogue_id = raw.get("dialogue_id") if isinstance(raw, dict) else None
            name = strip_json_suffix(dialogue_id) if isinstance(dialogue_id, str) else f"#{position}"
            yield path, name, raw


def checked_turns(raw: object) -> list[dict]:
    """The ``turns`` of a schema-guided dialogue, checked to alternate USER, SYSTEM, ... with text."""
    raw = expect_type(raw, dict, "expected a 'dialogue_id' string")
    expect(isinstance(raw.get("dialogue_id"), str), "expected a 'dialogue_id' string")
    turns = expect_type(raw.get("turns"), list, "expected a non-empty 'turns' list")
    expect(turns, "expected a non-empty 'turns' list")
    expect(len(turns) % 2 == 0, f"expected USER/SYSTEM turn pairs, got an odd number of turns ({len(turns)})")
    for position, turn in enumerate(turns):
        speaker = SPEAKERS[position % 2]
        expect(
            isinstance(turn, dict) and turn.get("speaker") == speaker and isinstance(turn.get("utterance"), str),
            f"turn {position} should be a {speaker} turn with an 'utterance' string",
        )
    return turns


def frames_state(frames: list[dict]) -> BeliefState:
    """The state of a user turn's frames: per service (frame order), the first value of each slot
    under the name after ``service-`` (SGD names have no prefix and stay as they are)."""
    state: BeliefState = {}
    for frame in frames:
        values: dict[str, str] = {}
        for name, candidates in frame.get("state", {}).get("slot_values", {}).items():
            kept = state_value(candidates[0]) if candidates else None
            if kept is not None:
                values[name.split("-", 1)[-1]] = kept
        if values:
            state[frame["service"]] = values
    return state
