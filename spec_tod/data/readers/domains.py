"""MultiWOZ dialogue acts, the domain of a turn, and the domains of a dialogue.

Turn domain rule (MultiWOZ 2.1 and 2.2), first that applies:

1. the first domain of the system acts (in annotation order) other than ``general`` and
   ``booking``;
2. if the system acts include ``Booking-*`` acts, which name no domain: the first domain whose
   state changed in this turn, else the previous turn's domain if it is not ``general``, else the
   first domain of the user acts;
3. the first domain of the user acts other than ``general``;
4. the first domain whose state changed in this turn;
5. ``general`` if the system acts are all ``general-*`` (greeting, "anything else?", goodbye):
   such a turn is about no domain, as in the Spec-TOD release, whose goodbye turns have domain
   ``[general]``;
6. the previous turn's domain (turns without any act annotation), else ``general``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from spec_tod.data.dialogue import BeliefState, DialogueActs

GENERAL = "general"
BOOKING = "booking"


def multiwoz_acts(dialog_act: Mapping[str, list]) -> DialogueActs:
    """``{"Restaurant-Inform": [["Area", "west"]]}`` -> ``{"restaurant": {"inform": [("area", "west")]}}``."""
    acts: DialogueActs = {}
    for name, pairs in dialog_act.items():
        domain, _, act = name.lower().partition("-")
        acts.setdefault(domain, {}).setdefault(act, []).extend(
            (str(slot).lower(), str(value).lower()) for slot, value in pairs
        )
    return acts


def turn_domain(system_acts: DialogueActs, user_acts: DialogueActs, changed: list[str], previous: str | None) -> str:
    """The single domain a MultiWOZ turn is about, by the rule in the module docstring."""
    system_domain = _first_domain(system_acts)
    if system_domain:
        return system_domain
    user_domain = _first_domain(user_acts)
    if BOOKING in system_acts:
        if changed:
            return changed[0]
        if previous and previous != GENERAL:
            return previous
        return user_domain or GENERAL
    if user_domain:
        return user_domain
    if changed:
        return changed[0]
    if GENERAL in system_acts:
        return GENERAL
    return previous or GENERAL


def dialogue_domains(turns: Iterable[tuple[BeliefState, str]]) -> tuple[str, ...]:
    """Domains in order of first appearance over ``(belief state, turn domain)`` pairs; each turn's
    state domains come before its turn domain; ``general`` is left out."""
    seen: dict[str, None] = {}
    for state, domain in turns:
        seen.update(dict.fromkeys(state))
        seen[domain] = None
    seen.pop(GENERAL, None)
    return tuple(seen)


def _first_domain(acts: DialogueActs) -> str | None:
    return next((domain for domain in acts if domain not in (GENERAL, BOOKING)), None)
