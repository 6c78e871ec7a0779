"""Belief-state values and changes, the same for every corpus (see ``spec_tod.data.dialogue``)."""

from __future__ import annotations

from spec_tod.data.dialogue import BeliefState

DONTCARE = "dontcare"
DONTCARE_SPELLINGS = frozenset({"dontcare", "don't care", "dont care", "do n't care", "do not care"})
EMPTY_VALUES = frozenset({"", "not mentioned", "none"})
"""Values that mean "no value": the slot is left out of the state."""


def state_value(value: str) -> str | None:
    """The value as the state keeps it: ``None`` to drop it, ``dontcare`` for every don't-care
    spelling, otherwise unchanged."""
    if value in EMPTY_VALUES:
        return None
    if value in DONTCARE_SPELLINGS:
        return DONTCARE
    return value


def changed_domains(previous: BeliefState, current: BeliefState) -> list[str]:
    """Domains of ``current`` (in its order) with a slot added or changed since ``previous``;
    removals do not count."""
    changed = []
    for domain, slots in current.items():
        before = previous.get(domain, {})
        if any(before.get(slot) != value for slot, value in slots.items()):
            changed.append(domain)
    return changed
