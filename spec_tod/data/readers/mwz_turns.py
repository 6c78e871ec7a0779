"""Assembling MultiWOZ turns (2.1 and 2.2): turn domain, database count, dialogue domains."""

from __future__ import annotations

from dataclasses import dataclass, field

from spec_tod.data.database import DB_DOMAINS, VenueDatabase
from spec_tod.data.dialogue import BeliefState, DialogueActs, Turn
from spec_tod.data.readers.domains import turn_domain
from spec_tod.data.readers.state import changed_domains


def db_count(db: VenueDatabase | None, domain: str, state: BeliefState) -> int | None:
    """Venues matching the state of ``domain`` without its booking slots (``bookday``, ...);
    ``None`` without a database, for domains without a table, and when the domain has no state."""
    if db is None or domain not in DB_DOMAINS or domain not in state:
        return None
    constraints = {slot: value for slot, value in state[domain].items() if not slot.startswith("book")}
    return db.count(domain, constraints)


@dataclass
class TurnBuilder:
    """Builds the turns of one dialogue in order, remembering the previous state and domain."""

    db: VenueDatabase | None
    turns: list[Turn] = field(default_factory=list)
    _previous_state: BeliefState = field(default_factory=dict)
    _previous_domain: str | None = None
    _last_counts: dict[str, tuple[dict[str, str] | None, int | None]] = field(default_factory=dict)
    """Per domain, the domain state last counted and its count."""

    def add(
        self,
        *,
        user: str,
        system: str,
        system_delex: str,
        state: BeliefState,
        system_acts: DialogueActs,
        user_acts: DialogueActs,
        booked_domains: tuple[str, ...] = (),
    ) -> None:
        changed = changed_domains(self._previous_state, state)
        domain = turn_domain(system_acts, user_acts, changed, self._previous_domain)
        self.turns.append(
            Turn(
                index=len(self.turns),
                user=user,
                system=system,
                system_delex=system_delex,
                belief_state=state,
                turn_domain=domain,
                system_acts=system_acts,
                db_count=self._count(domain, state),
                booked_domains=booked_domains,
            )
        )
        self._previous_state = state
        self._previous_domain = domain

    def _count(self, domain: str, state: BeliefState) -> int | None:
        # Most turns keep their domain's state (the count depends on nothing else): comparing two
        # small dicts is much cheaper than a database lookup, even a cached one.
        domain_state = state.get(domain)
        last = self._last_counts.get(domain)
        if last is not None and last[0] == domain_state:
            return last[1]
        count = db_count(self.db, domain, state)
        self._last_counts[domain] = (domain_state, count)
        return count
