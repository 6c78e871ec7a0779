"""MultiWOZ 2.1 in its original format (ConvLab-2's split files or the original ``data.json``).

A dialogue is ``{"goal": {...}, "log": [user, system, user, system, ...]}``; turn *k* pairs
``log[2k]`` (user) with ``log[2k+1]`` (system). The state is the system entry's ``metadata``
(the state after the user turn); ``system_delex`` is docs/evaluation.md section 8.2 to the word
(:func:`~spec_tod.data.readers.delex.delex_words`); ``booked_domains`` are the domains other than
taxi whose ``book.booked`` list is non-empty, which reproduces the evaluator's
``booked_domains.json``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from spec_tod.data.database import VenueDatabase
from spec_tod.data.dialogue import BeliefState, Dialogue
from spec_tod.data.gc_pause import gc_paused
from spec_tod.data.readers.collect import LoadResult, Progress, Record, collect, expect, expect_type
from spec_tod.data.readers.delex import delex_words
from spec_tod.data.readers.domains import dialogue_domains, multiwoz_acts
from spec_tod.data.readers.files import read_id_list, read_json, strip_json_suffix
from spec_tod.data.readers.mwz_turns import TurnBuilder
from spec_tod.data.readers.state import state_value
from spec_tod.errors import SpecTodError

SPLIT_FILES = {"train": "train", "dev": "val", "test": "test"}
"""Our split name -> MultiWOZ's file stem (``val.json``, ``valListFile``)."""
BOOK_SLOTS = {"day": "bookday", "people": "bookpeople", "stay": "bookstay", "time": "booktime"}
NOT_BOOKED = "taxi"
"""Taxi bookings are not bookings for the evaluator (no reference number to give)."""


@gc_paused()
def read(
    folder: Path, split: str, *, db: VenueDatabase | None, skip_invalid: bool, progress: Progress | None
) -> LoadResult:
    """Read one split from the 2.1 folder (see ``locate.multiwoz21_dir``)."""
    records, files = _records(folder, split)

    def parse(dialogue_id: str, raw: object, path: Path) -> Dialogue:
        return parse_dialogue(dialogue_id, raw, path, db)

    dialogues, skipped = collect(records, parse, skip_invalid=skip_invalid, progress=progress)
    return LoadResult(dialogues=dialogues, files=files, skipped=skipped)


def _records(folder: Path, split: str) -> tuple[Iterator[Record], list[Path]]:
    stem = SPLIT_FILES[split]
    split_file = _existing(folder, f"{stem}.json")
    if split_file is not None:
        data = _dialogue_dict(split_file)
        return ((split_file, strip_json_suffix(key), raw) for key, raw in data.items()), [split_file]
    data_file = _existing(folder, "data.json")
    if data_file is None:
        raise SpecTodError(
            f"{folder}: no {split} split: expected {stem}.json or {stem}.json.zip, or data.json(.zip) "
            "with testListFile and valListFile"
        )
    lists = {name: _list_file(folder, f"{name}ListFile") for name in ("test", "val")}
    data = {strip_json_suffix(key): raw for key, raw in _dialogue_dict(data_file).items()}
    if split == "train":
        held_out = set(read_id_list(lists["test"])) | set(read_id_list(lists["val"]))
        ids = [key for key in data if key not in held_out]
        files = [data_file, lists["test"], lists["val"]]
    else:
        ids = read_id_list(lists[stem])
        files = [data_file, lists[stem]]
    # A listed id missing from data.json becomes an invalid (None) record, so that it is reported.
    return ((data_file, key, data.get(key)) for key in ids), files


def _existing(folder: Path, name: str) -> Path | None:
    for path in (folder / name, folder / f"{name}.zip"):
        if path.is_file():
            return path
    return None


def _list_file(folder: Path, name: str) -> Path:
    for path in (folder / name, folder / f"{name}.txt"):
        if path.is_file():
            return path
    raise SpecTodError(f"{folder}: {name} not found; data.json needs it to tell the splits apart")


def _dialogue_dict(path: Path) -> dict:
    data = read_json(path)
    if not isinstance(data, dict):
        raise SpecTodError(f"{path}: expected a JSON object {{dialogue id: dialogue}} (MultiWOZ 2.1 format)")
    return data


def parse_dialogue(dialogue_id: str, raw: object, path: Path, db: VenueDatabase | None) -> Dialogue:
    """One 2.1 dialogue record into a ``Dialogue``; raises ``InvalidDialogue`` on missing fields."""
    expect(raw is not None, "listed in the split's list file but missing from the data file")
    raw = expect_type(raw, dict, "expected a 'log' list of user/system turns")
    expect(isinstance(raw.get("log"), list), "expected a 'log' list of user/system turns")
    log = raw["log"]
    expect(log and len(log) % 2 == 0, f"expected an even, non-zero number of log entries, got {len(log)}")
    builder = TurnBuilder(db)
    for position in range(0, len(log), 2):
        user, system = log[position], log[position + 1]
        expect(
            isinstance(user, dict) and isinstance(user.get("text"), str),
            f"log entry {position} (user) needs a 'text' string",
        )
        expect(
            isinstance(system, dict)
            and isinstance(system.get("text"), str)
            and isinstance(system.get("metadata"), dict),
            f"log entry {position + 1} (system) needs a 'text' string and a 'metadata' belief state",
        )
        metadata = system["metadata"]
        expect(
            all(
                isinstance(slots, dict) and isinstance(slots.get("semi"), dict) and isinstance(slots.get("book"), dict)
                for slots in metadata.values()
            ),
            f"log entry {position + 1} (system): every metadata domain needs 'semi' and 'book' objects",
        )
        builder.add(
            user=user["text"],
            system=system["text"],
            system_delex=delex_words(system["text"], system.get("span_info") or ()),
            state=belief_state(metadata),
            system_acts=multiwoz_acts(system.get("dialog_act") or {}),
            user_acts=multiwoz_acts(user.get("dialog_act") or {}),
            booked_domains=tuple(
                domain for domain, slots in metadata.items() if domain != NOT_BOOKED and slots["book"].get("booked")
            ),
        )
    states = ((turn.belief_state, turn.turn_domain) for turn in builder.turns)
    goal = raw.get("goal")
    return Dialogue(
        id=dialogue_id,
        turns=tuple(builder.turns),
        domains=dialogue_domains(states),
        goal=goal if isinstance(goal, dict) else None,
        source=str(path),
    )


def belief_state(metadata: dict) -> BeliefState:
    """A 2.1 ``metadata`` as a state: ``semi`` slots (lower-cased, spaces removed) then the booking
    slots under their 2.2 names; empty values dropped; empty domains (e.g. ``bus``) left out."""
    state: BeliefState = {}
    for domain, slots in metadata.items():
        values: dict[str, str] = {}
        for name, value in slots["semi"].items():
            if value:  # most slots are empty strings: skip them before anything else
                kept = state_value(value)
                if kept is not None:
                    values[name.lower().replace(" ", "")] = kept
        for name, value in slots["book"].items():
            if value and name in BOOK_SLOTS:
                kept = state_value(value)
                if kept is not None:
                    values[BOOK_SLOTS[name]] = kept
        if values:
            state[domain] = values
    return state
