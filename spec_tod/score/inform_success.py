"""Inform and Success of one dialogue, and their rates over many (docs/evaluation.md 5.5 and 5.6).

Besides the evaluator's verdicts, each dialogue's outcome says why a domain failed: no venue
offered, offered venues outside the goal, or which requested classes were never given.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from spec_tod.data.database import VenueDatabase
from spec_tod.data.mwz_tables import load_table
from spec_tod.score.goals import Goal

_CONSTANTS = load_table("metric_constants")
_REQUESTABLE: tuple[str, ...] = tuple(_CONSTANTS["requestable_classes"])
_MENTION_CLASS: dict[str, str] = _CONSTANTS["venue_mention_class"]
_NO_ENTITY = frozenset(_CONSTANTS["domains_without_entity"])
_DECIMALS: int = _CONSTANTS["rate_rounding_decimals"]
TOTAL = "total"


@dataclass
class DialogueOutcome:
    """The evaluator's verdicts for one dialogue plus the reasons for each failure."""

    inform: dict[str, bool]
    """Per goal domain and ``total``."""
    success: dict[str, bool]
    """Per goal domain and ``total``; empty when Inform failed (Success is then not evaluated)."""
    reasons: list[str] = field(default_factory=list)


@dataclass
class _Offer:
    venues: list[str] = field(default_factory=list)
    turn: int | None = None
    """The turn whose query set ``venues``."""
    mentions: list[int] = field(default_factory=list)


def dialogue_outcome(
    goal: Goal,
    booked: Sequence[Sequence[str]],
    responses: Sequence[str],
    states: Sequence[Mapping[str, Mapping[str, str]]],
    active_domains: Sequence[Sequence[str]],
    database: VenueDatabase,
) -> DialogueOutcome:
    """Inform/Success of one dialogue from its normalised responses, states and active domains."""
    offers = {domain: _Offer() for domain in goal}
    provided: dict[str, set[str]] = {domain: set() for domain in goal}
    unbooked_references: dict[str, list[int]] = {domain: [] for domain in goal}
    for turn, (response, state, booked_now, active) in enumerate(
        zip(responses, states, booked[: len(responses)], active_domains, strict=True)
    ):
        for domain in goal:
            if domain not in active:
                continue
            mention = _MENTION_CLASS.get(domain)
            if mention is not None and mention in response:
                offer = offers[domain]
                offer.mentions.append(turn)
                matching = database.query(domain, state[domain]) if domain in state else []
                if not offer.venues or any(venue not in matching for venue in offer.venues):
                    offer.venues, offer.turn = matching, turn
            for slot in _REQUESTABLE:
                if slot not in response:
                    continue
                if slot != "REFERENCE" or domain in booked_now:
                    provided[domain].add(slot)
                else:
                    unbooked_references[domain].append(turn)

    outcome = DialogueOutcome(inform={}, success={})
    for domain, domain_goal in goal.items():
        offer = offers[domain]
        matched = (
            "name" in domain_goal.informable
            or domain in _NO_ENTITY
            or (domain == "train" and not offer.venues and "TRAINID" not in domain_goal.requestable)
        )
        if matched:
            outcome.inform[domain] = True
        elif database.has_table(domain) and offer.venues:
            goal_venues = set(database.query(domain, domain_goal.informable))
            wrong = [venue for venue in offer.venues if venue not in goal_venues]
            outcome.inform[domain] = not wrong
            if wrong:
                outcome.reasons.append(
                    f"inform {domain}: the state at turn {offer.turn} matches {len(offer.venues)} venue(s), "
                    f"{len(wrong)} outside the goal ({', '.join(wrong[:3])}{', ...' if len(wrong) > 3 else ''})"
                )
        else:
            outcome.inform[domain] = False
            if offer.mentions:
                outcome.reasons.append(
                    f"inform {domain}: venue mentioned at turn(s) {_turns(offer.mentions)} but the state matched no venue"
                )
            else:
                offered = _MENTION_CLASS.get(domain, "venue")
                outcome.reasons.append(f"inform {domain}: no {offered} offered while {domain} was active")
    outcome.inform[TOTAL] = all(outcome.inform.values())

    if outcome.inform[TOTAL]:
        for domain, domain_goal in goal.items():
            missing = sorted(domain_goal.requestable - provided[domain])
            outcome.success[domain] = not missing
            if missing:
                note = ""
                if "REFERENCE" in missing and unbooked_references[domain]:
                    note = f" (REFERENCE given only at turn(s) {_turns(unbooked_references[domain])}, without a booking)"
                outcome.reasons.append(f"success {domain}: never provided {', '.join(missing)}{note}")
        outcome.success[TOTAL] = all(outcome.success.values())
    return outcome


def _turns(turns: list[int]) -> str:
    shown = ", ".join(str(turn) for turn in turns[:5])
    return shown + (", ..." if len(turns) > 5 else "")


@dataclass(frozen=True)
class Rates:
    inform: dict[str, float]
    """Percent, rounded to one decimal, per domain and ``total``."""
    success: dict[str, float]
    dialogues: dict[str, int]
    """Denominator of each rate: dialogues whose goal has that domain (all for ``total``)."""


def aggregate(outcomes: Iterable[DialogueOutcome]) -> Rates:
    """Per-domain and total rates; Success shares Inform's denominators (docs/evaluation.md 5.6)."""
    denominators: Counter[str] = Counter()
    informed: Counter[str] = Counter()
    succeeded: Counter[str] = Counter()
    for outcome in outcomes:
        for key in outcome.inform.keys() | outcome.success.keys():
            denominators[key] += 1
            informed[key] += outcome.inform.get(key, False)
            succeeded[key] += outcome.success.get(key, False)
    keys = sorted(denominators, key=lambda key: (key == TOTAL, key))
    return Rates(
        inform={key: round(100 * informed[key] / denominators[key], _DECIMALS) for key in keys},
        success={key: round(100 * succeeded[key] / denominators[key], _DECIMALS) for key in keys},
        dialogues={key: denominators[key] for key in keys},
    )
