"""Schema-Guided Dialogue (SGD): ``<split>/schema.json`` and ``<split>/dialogues_*.json``.

Domains are service names (``Restaurants_2``) and slot names are SGD's own. Turns alternate
USER/SYSTEM from the first; the state is read from the user turn's frames (first value of each
slot), the system response is delexicalised by the system frames' slot spans, and a turn's domain
is the service of the first user frame with an active intent (else of the first frame). SGD has
no venue database, so ``db_count`` stays ``None``.
"""

from __future__ import annotations

from pathlib import Path

from spec_tod.data.dialogue import Dialogue, DialogueActs, Turn
from spec_tod.data.gc_pause import gc_paused
from spec_tod.data.readers.collect import LoadResult, Progress, collect, expect, expect_type
from spec_tod.data.readers.delex import delex_chars
from spec_tod.data.readers.domains import GENERAL, dialogue_domains
from spec_tod.data.readers.locate import find_schema, split_dir
from spec_tod.data.readers.schema_guided import checked_turns, dialogue_files, frames_state, list_records
from spec_tod.data.schema import load_schema

NO_INTENT = "NONE"


@gc_paused()
def read(
    root: Path, split: str, *, schema_path: Path | None, skip_invalid: bool, progress: Progress | None
) -> LoadResult:
    """Read one split from the SGD folder (see ``locate.sgd_dir``). Every dialogue's services must
    be in the split's schema (or ``schema_path``)."""
    folder = split_dir(root, split)
    schema_file = find_schema("sgd", root, schema_path, split=split)
    services = frozenset(load_schema(schema_file))
    files = dialogue_files(folder)

    def parse(dialogue_id: str, raw: object, path: Path) -> Dialogue:
        return parse_dialogue(raw, path, services, schema_file)

    dialogues, skipped = collect(list_records(files), parse, skip_invalid=skip_invalid, progress=progress)
    return LoadResult(dialogues=dialogues, files=[schema_file, *files], skipped=skipped)


def parse_dialogue(raw: object, path: Path, known_services: frozenset[str], schema_file: Path) -> Dialogue:
    """One SGD dialogue into a ``Dialogue``; raises ``InvalidDialogue`` on missing fields."""
    raw = expect_type(raw, dict, "expected a 'dialogue_id' string")
    turns = checked_turns(raw)
    services = expect_type(raw.get("services"), list, "expected a 'services' list")
    unknown = [service for service in services if service not in known_services]
    expect(not unknown, f"services {unknown} are not in the schema {schema_file}")
    built: list[Turn] = []
    previous_domain = services[0] if services else GENERAL
    for position in range(0, len(turns), 2):
        user, system = turns[position], turns[position + 1]
        user_frames = user.get("frames", [])
        system_frames = system.get("frames", [])
        domain = turn_service(user_frames) or previous_domain
        built.append(
            Turn(
                index=len(built),
                user=user["utterance"],
                system=system["utterance"],
                system_delex=delex_chars(system["utterance"], _spans(system["utterance"], system_frames), names={}),
                belief_state=frames_state(user_frames),
                turn_domain=domain,
                system_acts=frame_acts(system_frames),
            )
        )
        previous_domain = domain
    return Dialogue(
        id=raw["dialogue_id"],
        turns=tuple(built),
        domains=dialogue_domains((turn.belief_state, turn.turn_domain) for turn in built),
        source=str(path),
        services=tuple(services),
    )


def turn_service(frames: list[dict]) -> str | None:
    """The service of the first frame with an active intent, else of the first frame."""
    for frame in frames:
        if frame.get("state", {}).get("active_intent", NO_INTENT) != NO_INTENT:
            return frame["service"]
    return frames[0]["service"] if frames else None


def frame_acts(frames: list[dict]) -> DialogueActs:
    """``{service: {act (lower case): [(slot, value), ...]}}``; an act without values (a request)
    gives one pair with an empty value, an act with several values one pair per value."""
    acts: DialogueActs = {}
    for frame in frames:
        by_act = acts.setdefault(frame["service"], {})
        for action in frame.get("actions", []):
            slot = action.get("slot", "")
            pairs = by_act.setdefault(action["act"].lower(), [])
            pairs.extend((slot, value) for value in action.get("values") or [""])
    return acts


def _spans(text: str, frames: list[dict]) -> list[tuple[None, str, str, int, int]]:
    return [
        (None, slot["slot"], text[slot["start"] : slot["exclusive_end"]], slot["start"], slot["exclusive_end"])
        for frame in frames
        for slot in frame.get("slots", [])
    ]
