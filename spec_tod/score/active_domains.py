"""Estimating the domain each system turn is about from the states (docs/evaluation.md 5.4).

Used when the input does not give ``active_domains`` for every turn: the domain whose state changed
most recently is taken as the one the system talks about.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def estimate_active_domains(states: Sequence[Mapping[str, Mapping[str, str]]]) -> list[list[str]]:
    """One list (empty or a single domain) per turn of one dialogue, from its normalised states."""
    estimates: list[list[str]] = []
    current: str | None = None
    previous_state: Mapping[str, Mapping[str, str]] = {}
    previous_changed: list[str] = []
    for state in states:
        changed = [
            domain
            for domain, slots in state.items()
            if set(slots.items()) - set(previous_state.get(domain, {}).items())
        ]
        if not changed:
            if current is None:
                estimates.append([])
                continue
            if len(previous_changed) > 1:
                previous_changed = [domain for domain in previous_changed if domain in state and domain != current]
                if previous_changed:
                    current = previous_changed[0]
        elif current not in changed:
            current = max(changed, key=lambda domain: len(state[domain]))
        previous_state = state
        previous_changed = changed
        estimates.append([current])
    return estimates
