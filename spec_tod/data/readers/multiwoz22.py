"""MultiWOZ 2.2: ``<split>/dialogues_*.json`` plus ``dialog_acts.json`` beside the split folders.

Turns alternate USER/SYSTEM; turn *k* pairs ``turns[2k]`` with ``turns[2k+1]``. The state is read
from the user turn's frames (``hotel-bookday`` -> ``bookday``, first value of each list), acts and
character spans from ``dialog_acts.json[dialogue_id][turn_id]``; the delexicalisation is
docs/evaluation.md section 8.1 with ``[value_*]`` placeholder names
(:mod:`spec_tod.data.readers.delex`). MultiWOZ 2.2 keeps no record of bookings, so
``booked_domains`` stays empty.
"""

from __future__ import annotations

from pathlib import Path

from spec_tod.data.database import VenueDatabase
from spec_tod.data.dialogue import Dialogue
from spec_tod.data.gc_pause import gc_paused
from spec_tod.data.readers.collect import LoadResult, Progress, collect, expect_type
from spec_tod.data.readers.delex import delex_chars
from spec_tod.data.readers.domains import dialogue_domains, multiwoz_acts
from spec_tod.data.readers.files import read_json, strip_json_suffix
from spec_tod.data.readers.locate import split_dir
from spec_tod.data.readers.mwz_turns import TurnBuilder
from spec_tod.data.readers.schema_guided import checked_turns, dialogue_files, frames_state, list_records
from spec_tod.errors import SpecTodError


@gc_paused()
def read(
    folder: Path, split: str, *, db: VenueDatabase | None, skip_invalid: bool, progress: Progress | None
) -> LoadResult:
    """Read one split from the 2.2 folder (see ``locate.multiwoz22_dir``)."""
    files = dialogue_files(split_dir(folder, split))
    acts_file = folder / "dialog_acts.json"
    annotations = read_json(acts_file)
    if not isinstance(annotations, dict):
        raise SpecTodError(f"{acts_file}: expected a JSON object {{dialogue id: {{turn id: annotation}}}}")

    def parse(dialogue_id: str, raw: object, path: Path) -> Dialogue:
        return parse_dialogue(raw, path, annotations, db)

    dialogues, skipped = collect(list_records(files), parse, skip_invalid=skip_invalid, progress=progress)
    return LoadResult(dialogues=dialogues, files=[*files, acts_file], skipped=skipped)


def parse_dialogue(raw: object, path: Path, annotations: dict, db: VenueDatabase | None) -> Dialogue:
    """One 2.2 dialogue into a ``Dialogue``; raises ``InvalidDialogue`` on missing fields."""
    raw = expect_type(raw, dict, "expected a 'dialogue_id' string")
    turns = checked_turns(raw)
    dialogue_acts = annotations.get(raw["dialogue_id"], {})
    builder = TurnBuilder(db)
    for position in range(0, len(turns), 2):
        user, system = turns[position], turns[position + 1]
        user_annotation = dialogue_acts.get(str(user.get("turn_id", position)), {})
        system_annotation = dialogue_acts.get(str(system.get("turn_id", position + 1)), {})
        builder.add(
            user=user["utterance"],
            system=system["utterance"],
            system_delex=delex_chars(system["utterance"], system_annotation.get("span_info", ())),
            state=frames_state(user.get("frames", ())),
            system_acts=multiwoz_acts(system_annotation.get("dialog_act", {})),
            user_acts=multiwoz_acts(user_annotation.get("dialog_act", {})),
        )
    states = ((turn.belief_state, turn.turn_domain) for turn in builder.turns)
    return Dialogue(
        id=strip_json_suffix(raw["dialogue_id"]),
        turns=tuple(builder.turns),
        domains=dialogue_domains(states),
        source=str(path),
    )
