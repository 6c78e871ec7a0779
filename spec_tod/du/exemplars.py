"""Labelled exemplars (opendu's ``AnnotatedExemplar``) and the skills they belong to, built from SGD.

An exemplar is one user utterance that starts a function (its ``owner``), the values it says (``arguments``,
slot -> values, from the annotated spans) and its ``template``: the utterance with each value replaced by
`` < slot > ``. Rules of opendu's SGD builder (docs/du.md), applied in this order, each skip counted:

1. a turn in opendu's list of known bad turns;
2. a user turn whose frames name more than one active intent;
3. an active intent carried over from the previous user turn (nothing new started);
4. an intent that is not in the schema's ``_1`` services;
5. a frame of a service that does not end in ``_1``;
6. an intent the system offered in the turn before (``OFFER_INTENT``);
7. a value that occurs other than exactly once (as a whole word) in the lowercased utterance: no template;
8. a duplicate utterance (the first one is kept);
9. more than ``per_owner`` exemplars of one owner: a seeded sample of ``per_owner`` is kept.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from spec_tod.errors import SpecTodError
from spec_tod.fileio import write_json
from spec_tod.parsing import loads_json
from spec_tod.tasks.writers import sha256_file, write_lines

SERVICE_SUFFIX = "_1"
PER_OWNER = 20
SEED = 42

# opendu keeps yes/no slots out of the skills ("handled separately"): sgd.py, SGD.boolean_slots.
BOOLEAN_SLOTS = frozenset(
    {
        "furnished",
        "pets_allowed",
        "has_wifi",
        "subtitles",
        "serves_alcohol",
        "has_live_music",
        "shared_ride",
        "is_unisex",
        "free_entry",
        "good_for_kids",
    }
)
# opendu's list of badly annotated turns (sgd.py, SGD.bad_turns); one entry there carries a stray leading
# space and so never matched, here it does.
BAD_TURNS = frozenset(
    {
        "sgd.train.95_00094.4",
        "sgd.train.95_00065.8",
        "sgd.train.95_00066.12",
        "sgd.train.93_00083.8",
        "sgd.train.8_00121.8",
        "sgd.train.54_00096.6",
        "sgd.train.121_00036.10",
        "sgd.train.52_00020.18",
        "sgd.train.74_00081.16",
        "sgd.train.90_00018.16",
        "sgd.train.27_00113.10",
        "sgd.train.75_00023.20",
        "sgd.train.96_00019.12",
        "sgd.train.96_00048.4",
        "sgd.train.96_00048.6",
        "sgd.train.96_00019.10",
        "sgd.train.42_00002.6",
        "sgd.dev.9_00058.0",
    }
)

SKIP_REASONS = (
    "known_bad_turn",
    "several_intents",
    "carried_over",
    "not_in_schema",
    "other_service",
    "offered_intent",
    "no_template",
    "duplicate",
    "over_cap",
)
EXEMPLARS_FILE = "exemplars.jsonl"
SKILLS_FILE = "skills.json"
MANIFEST_FILE = "exemplars.manifest.json"

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def snake_case(name: str) -> str:
    """``FindRestaurants`` -> ``find_restaurants`` (opendu's ``CamelToSnake``)."""
    return _CAMEL.sub("_", name).lower()


@dataclass(frozen=True)
class SlotSpec:
    name: str
    description: str
    extractive: bool
    """A free-text slot whose values SGD marks as spans of the utterance (the slot tasks' slots)."""


@dataclass(frozen=True)
class Skill:
    """A function the user can start: name (``owner``), description, service and slots."""

    name: str
    description: str
    service: str
    slots: tuple[SlotSpec, ...]

    @property
    def extractive_slots(self) -> tuple[SlotSpec, ...]:
        return tuple(slot for slot in self.slots if slot.extractive)


@dataclass(frozen=True)
class AnnotatedExemplar:
    id: str
    owner: str
    utterance: str
    arguments: dict[str, list[str]]
    template: str
    owner_mode: str = "normal"


@dataclass
class ExemplarSet:
    exemplars: list[AnnotatedExemplar]
    skills: dict[str, Skill]
    skipped: Counter[str] = field(default_factory=Counter)
    user_turns: int = 0


def extract_template(utterance: str, arguments: dict[str, list[str]]) -> str | None:
    """The utterance with every value replaced by `` < slot > ``; ``None`` unless each occurs exactly once.

    A value must match as a whole word (``\\b`` on both sides, as opendu's ``get_span``); values that
    share a span or overlap cannot be replaced and give ``None`` too.
    """
    spans: list[tuple[int, int, str]] = []
    for slot, values in arguments.items():
        for value in values:
            found = list(re.finditer(r"\b" + re.escape(value) + r"\b", utterance))
            if len(found) != 1:
                return None
            spans.append((found[0].start(), found[0].end(), slot))
    spans.sort()
    if any(spans[i][1] > spans[i + 1][0] for i in range(len(spans) - 1)):
        return None
    pieces, end = [], 0
    for start, stop, slot in spans:
        pieces += [utterance[end:start], f" < {slot} > "]
        end = stop
    pieces.append(utterance[end:])
    return "".join(pieces)


def fill_template(template: str, arguments: dict[str, list[str]]) -> str:
    """The inverse of :func:`extract_template`: each `` < slot > `` back to its value, in order."""
    # A slot's values were listed in span order, which is the order they appear in the template.
    remaining = {slot: list(values) for slot, values in arguments.items()}

    def value_for(match: re.Match[str]) -> str:
        return remaining[match.group(1)].pop(0)

    return re.sub(r" < (\S+?) > ", value_for, template)


def load_skills(schema_file: Path, suffix: str = SERVICE_SUFFIX) -> dict[str, Skill]:
    """The skills (intents) of the schema's services whose name ends in ``suffix``, by snake-case name."""
    try:
        services = loads_json(Path(schema_file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SpecTodError(f"{schema_file}: cannot read the SGD schema ({exc})") from None
    skills: dict[str, Skill] = {}
    for service in services:
        name = service.get("service_name", "")
        if not name.endswith(suffix):
            continue
        slot_info = {slot["name"]: slot for slot in service.get("slots", [])}
        for intent in service.get("intents", []):
            owner = snake_case(intent["name"])
            if owner in skills:
                raise SpecTodError(f"{schema_file}: intent {intent['name']} appears in two {suffix} services")
            names = [*intent.get("required_slots", []), *intent.get("optional_slots", {})]
            slots = tuple(
                SlotSpec(slot, slot_info[slot]["description"], not slot_info[slot].get("is_categorical", False))
                for slot in dict.fromkeys(names)
                if slot not in BOOLEAN_SLOTS and slot in slot_info
            )
            skills[owner] = Skill(owner, intent["description"], name, slots)
    return skills


def _offered_intents(turn: dict[str, Any] | None) -> set[str]:
    # opendu looks at the first action of the first frame only.
    if turn is None or not turn.get("frames") or not turn["frames"][0].get("actions"):
        return set()
    action = turn["frames"][0]["actions"][0]
    return set(action.get("values", [])) if action.get("act") == "OFFER_INTENT" else set()


def _candidates(
    dialogues: Iterable[dict[str, Any]], split: str, skills: dict[str, Skill], suffix: str, skipped: Counter[str]
) -> Iterable[AnnotatedExemplar | None]:
    """One exemplar, or ``None`` for a skipped turn, per user turn (rules 1-7)."""
    for dialogue in dialogues:
        turns = dialogue["turns"]
        previous: set[str] = set()
        for index, turn in enumerate(turns):
            if turn["speaker"] != "USER":
                continue
            turn_id = f"sgd.{split}.{dialogue['dialogue_id']}.{index}"
            if turn_id in BAD_TURNS:
                skipped["known_bad_turn"] += 1
                yield None
                continue  # like opendu, a bad turn does not update the previous turn's intents
            active = {frame["state"]["active_intent"] for frame in turn["frames"]}
            reason = _skip_reason(turn, active, previous, turns[index - 1] if index else None, skills, suffix)
            previous = active
            exemplar = None
            if reason is None:
                frame = turn["frames"][0]
                utterance = turn["utterance"].lower()
                arguments: dict[str, list[str]] = {}
                for span in frame["slots"]:
                    arguments.setdefault(span["slot"], []).append(utterance[span["start"] : span["exclusive_end"]])
                template = extract_template(utterance, arguments)
                if template is None:
                    reason = "no_template"
                else:
                    owner = snake_case(frame["state"]["active_intent"])
                    exemplar = AnnotatedExemplar(turn_id, owner, utterance, arguments, template)
            if reason is not None:
                skipped[reason] += 1
            yield exemplar


def _skip_reason(
    turn: dict[str, Any],
    active: set[str],
    previous: set[str],
    before: dict[str, Any] | None,
    skills: dict[str, Skill],
    suffix: str,
) -> str | None:
    if len(active) > 1:
        return "several_intents"
    if not active - previous:
        return "carried_over"
    frame = turn["frames"][0]
    intent = frame["state"]["active_intent"]
    if snake_case(intent) not in skills:
        return "not_in_schema"
    if not frame["service"].endswith(suffix):
        return "other_service"
    if intent in _offered_intents(before):
        return "offered_intent"
    return None


def build_sgd_exemplars(
    split_dir: Path, split: str, *, per_owner: int = PER_OWNER, seed: int = SEED, suffix: str = SERVICE_SUFFIX
) -> ExemplarSet:
    """Exemplars of one SGD split folder (``schema.json`` and ``dialogues_*.json``), files in name order."""
    split_dir = Path(split_dir)
    skills = load_skills(split_dir / "schema.json", suffix)
    files = sorted(split_dir.glob("dialogues_*.json"))
    if not files:
        raise SpecTodError(f"{split_dir}: no dialogues_*.json files; pass an SGD split folder")
    skipped: Counter[str] = Counter()
    candidates: list[AnnotatedExemplar] = []
    user_turns = 0
    for path in files:
        try:
            dialogues = loads_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SpecTodError(f"{path}: cannot read the dialogues ({exc})") from None
        for exemplar in _candidates(dialogues, split, skills, suffix, skipped):
            user_turns += 1
            if exemplar is not None:
                candidates.append(exemplar)
    unique: list[AnnotatedExemplar] = []
    seen: set[str] = set()
    for exemplar in candidates:
        if exemplar.utterance in seen:
            skipped["duplicate"] += 1
            continue
        seen.add(exemplar.utterance)
        unique.append(exemplar)
    kept = cap_per_owner(unique, per_owner, random.Random(seed))
    skipped["over_cap"] += len(unique) - len(kept)
    return ExemplarSet(kept, skills, Counter({r: skipped[r] for r in SKIP_REASONS}), user_turns)


def cap_per_owner(
    exemplars: Sequence[AnnotatedExemplar], per_owner: int, rng: random.Random
) -> list[AnnotatedExemplar]:
    """At most ``per_owner`` per owner, a sample drawn owner by owner in first-seen order; input order kept."""
    by_owner: dict[str, list[int]] = {}
    for position, exemplar in enumerate(exemplars):
        by_owner.setdefault(exemplar.owner, []).append(position)
    keep: set[int] = set()
    for positions in by_owner.values():
        keep.update(positions if len(positions) <= per_owner else rng.sample(positions, per_owner))
    return [exemplar for position, exemplar in enumerate(exemplars) if position in keep]


# --- the exemplar folder: exemplars.jsonl, skills.json, exemplars.manifest.json ---


def exemplar_line(exemplar: AnnotatedExemplar) -> str:
    return json.dumps(asdict(exemplar), ensure_ascii=False)


def write_exemplar_folder(
    folder: Path, exemplars: Sequence[AnnotatedExemplar], skills: dict[str, Skill], manifest: dict[str, Any]
) -> None:
    """Write the three files of an exemplar folder (each atomically)."""
    folder.mkdir(parents=True, exist_ok=True)
    digest = write_lines(folder / EXEMPLARS_FILE, (exemplar_line(e) for e in exemplars))
    write_json(folder / SKILLS_FILE, skills_json(skills))
    write_json(
        folder / MANIFEST_FILE,
        {**manifest, "outputs": {EXEMPLARS_FILE: digest, SKILLS_FILE: sha256_file(folder / SKILLS_FILE)}},
    )


def skills_json(skills: dict[str, Skill]) -> dict[str, Any]:
    return {name: asdict(skill) for name, skill in skills.items()}


def read_exemplars(path: Path) -> list[AnnotatedExemplar]:
    """``exemplars.jsonl`` of a folder (or the file itself); one line naming the file and line on bad input."""
    path = Path(path)
    file = path / EXEMPLARS_FILE if path.is_dir() else path
    if not file.is_file():
        raise SpecTodError(f"{file}: no exemplars file; build one with `spec-tod du exemplars`")
    exemplars = []
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        try:
            row = loads_json(line)
            exemplars.append(
                AnnotatedExemplar(
                    id=str(row["id"]),
                    owner=str(row["owner"]),
                    utterance=str(row["utterance"]),
                    arguments={str(k): [str(v) for v in vs] for k, vs in row["arguments"].items()},
                    template=str(row["template"]),
                    owner_mode=str(row.get("owner_mode", "normal")),
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SpecTodError(
                f"{file}, line {number}: expected an exemplar {{id, owner, utterance, arguments, template}} ({exc})"
            ) from None
    return exemplars


def read_skills(folder: Path) -> dict[str, Skill]:
    """``skills.json`` of an exemplar or index folder."""
    file = Path(folder) / SKILLS_FILE
    try:
        rows = loads_json(file.read_text(encoding="utf-8"))
        return {
            name: Skill(
                row["name"],
                row["description"],
                row["service"],
                tuple(SlotSpec(s["name"], s["description"], bool(s["extractive"])) for s in row["slots"]),
            )
            for name, row in rows.items()
        }
    except OSError:
        raise SpecTodError(f"{file}: no skills file; build the folder with `spec-tod du exemplars`") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SpecTodError(f"{file}: expected skills {{name: {{name, description, service, slots}}}} ({exc})") from None


def split_exemplars(dataset: str, data_dir: Path, split: str) -> tuple[ExemplarSet, Path]:
    """The exemplars of one split of ``dataset`` (SGD only) and the split folder they came from."""
    from spec_tod.data.readers.locate import sgd_dir

    if dataset != "sgd":
        raise SpecTodError(
            f"--dataset {dataset}: dialogue-understanding exemplars are built from SGD only (--dataset sgd)"
        )
    folder = sgd_dir(Path(data_dir)) / split
    if not (folder / "schema.json").is_file():
        raise SpecTodError(f"{folder}: no schema.json; the SGD folder has no {split} split")
    return build_sgd_exemplars(folder, split), folder
