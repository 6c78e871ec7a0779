"""Dialogue goals in the evaluator's form, rebuilt from MultiWOZ 2.1 ``goal`` fields (docs/evaluation.md 5.1).

The evaluator reads an undistributed ``goals.json``; the rule below rebuilds it exactly from the raw
goals the dataset layer keeps in :attr:`spec_tod.data.dialogue.Dialogue.goal`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spec_tod.data.mwz_tables import load_table
from spec_tod.data.normalize import normalise_slot_name

_CONSTANTS = load_table("metric_constants")
GOAL_DOMAINS: tuple[str, ...] = tuple(_CONSTANTS["goal_domains"])
_REQUESTABLE_MAP: dict[str, str] = _CONSTANTS["goal_requestable_map"]


@dataclass(frozen=True)
class DomainGoal:
    informable: dict[str, str]
    """Constraints with normalised slot names and raw values (the query normalises them)."""
    requestable: frozenset[str]
    """Classes the system must provide: ``PHONE``, ``ADDRESS``, ``POST``, ``REFERENCE``, ``TRAINID``."""


Goal = dict[str, DomainGoal]
"""``{domain: DomainGoal}`` in the order of ``metric_constants.json`` ``goal_domains``."""


def build_goal(raw: Mapping[str, Any] | None) -> Goal:
    """The evaluator's goal from a raw MultiWOZ 2.1 goal (``{domain: {info, reqt, book, ...}}``)."""
    goal: Goal = {}
    for domain in GOAL_DOMAINS:
        entry = (raw or {}).get(domain)
        if not entry:
            continue
        info = entry.get("info")
        informable = {normalise_slot_name(slot): value for slot, value in (info or {}).items()}
        requestable: set[str] = set()
        if info is not None:
            requested = entry.get("reqt") or []
            if domain == "train":
                if "book" in entry:
                    requestable.add("REFERENCE")
                if "trainID" in requested:
                    requestable.add("TRAINID")
            else:
                requestable.update(_REQUESTABLE_MAP[item] for item in requested if item in _REQUESTABLE_MAP)
                if "book" in entry:
                    requestable.add("REFERENCE")
        goal[domain] = DomainGoal(informable, frozenset(requestable))
    return goal
