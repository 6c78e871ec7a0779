"""Service schemas in the schema-guided format shared by MultiWOZ 2.2 and SGD.

``load_schema`` reads a ``schema.json`` (a list of services, each with slots and intents) into
frozen dataclasses keyed by service name. The two corpora differ in one point the rest of the
code needs: which slots the user can *inform* (the ones a function call carries). SGD has no
such flag and every slot counts (docs/method-reference.md, section 2.1). MultiWOZ 2.2's file has no
flag either; there the informable slots are the ones MultiWOZ tracks in its dialogue states,
listed below (the ``informable_slots`` table of the MultiWOZ ontology that FnCTOD and Spec-TOD
use, written with MultiWOZ 2.2 slot names, plus the ``bus`` slots that 2.2 states carry).
A schema file that does carry ``is_informable`` is followed as written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from spec_tod.errors import SpecTodError
from spec_tod.parsing import loads_json

MULTIWOZ_INFORMABLE: dict[str, frozenset[str]] = {
    "hotel": frozenset(
        {"pricerange", "type", "parking", "bookday", "bookpeople", "bookstay", "stars", "internet", "name", "area"}
    ),
    "train": frozenset({"arriveby", "departure", "day", "bookpeople", "leaveat", "destination"}),
    "attraction": frozenset({"area", "name", "type"}),
    "restaurant": frozenset({"pricerange", "area", "food", "name", "bookday", "bookpeople", "booktime"}),
    "hospital": frozenset({"department"}),
    "taxi": frozenset({"leaveat", "destination", "departure", "arriveby"}),
    "bus": frozenset({"departure", "destination", "leaveat", "day"}),
    "police": frozenset(),
}
"""MultiWOZ 2.2 informable slots per service, by the part of the slot name after ``service-``."""


@dataclass(frozen=True)
class Slot:
    name: str
    """As written in the schema: ``hotel-pricerange`` (MultiWOZ 2.2), ``restaurant_name`` (SGD)."""
    description: str
    is_categorical: bool
    possible_values: tuple[str, ...]
    is_informable: bool

    @property
    def short_name(self) -> str:
        """The name without the ``service-`` prefix MultiWOZ 2.2 puts on every slot."""
        return self.name.split("-", 1)[-1]


@dataclass(frozen=True)
class Intent:
    name: str
    description: str
    is_transactional: bool
    required_slots: tuple[str, ...]
    optional_slots: tuple[str, ...]
    """Slot names only; SGD's default values for them are not kept."""


@dataclass(frozen=True)
class Service:
    name: str
    description: str
    slots: tuple[Slot, ...]
    intents: tuple[Intent, ...]


def load_schema(path: Path) -> dict[str, Service]:
    """Read a MultiWOZ 2.2 or SGD ``schema.json`` into ``{service name: Service}`` in file order."""
    try:
        raw = loads_json(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecTodError(f"{path}: schema file not found; pass the path of a schema.json") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SpecTodError(f"{path}: not a readable JSON schema file ({exc})") from None
    if not isinstance(raw, list):
        raise SpecTodError(f"{path}: expected a JSON list of services (schema-guided format)")
    services: dict[str, Service] = {}
    for position, entry in enumerate(raw):
        service = _service(entry, path, position)
        services[service.name] = service
    return services


def _service(entry: object, path: Path, position: int) -> Service:
    if not isinstance(entry, dict) or not isinstance(entry.get("service_name"), str):
        raise SpecTodError(f"{path}: service #{position} has no 'service_name'; expected the schema-guided format")
    name = entry["service_name"]
    informable = MULTIWOZ_INFORMABLE.get(name)
    try:
        slots = tuple(_slot(slot, informable) for slot in entry.get("slots", []))
        intents = tuple(_intent(intent) for intent in entry.get("intents", []))
    except (KeyError, TypeError, AttributeError) as exc:
        raise SpecTodError(
            f"{path}: service {name!r}: malformed slot or intent ({exc!r}); "
            "expected slots with name/description/is_categorical/possible_values and intents with a name"
        ) from None
    return Service(name=name, description=entry.get("description", ""), slots=slots, intents=intents)


def _slot(raw: dict, informable: frozenset[str] | None) -> Slot:
    name = raw["name"]
    if "is_informable" in raw:
        is_informable = bool(raw["is_informable"])
    elif informable is not None and "-" in name:
        is_informable = name.split("-", 1)[1] in informable
    else:
        is_informable = True
    return Slot(
        name=name,
        description=raw.get("description", ""),
        is_categorical=bool(raw.get("is_categorical", False)),
        possible_values=tuple(str(value) for value in raw.get("possible_values", [])),
        is_informable=is_informable,
    )


def _intent(raw: dict) -> Intent:
    return Intent(
        name=raw["name"],
        description=raw.get("description", ""),
        is_transactional=bool(raw.get("is_transactional", False)),
        required_slots=tuple(raw.get("required_slots", [])),
        optional_slots=tuple(raw.get("optional_slots", {})),
    )
