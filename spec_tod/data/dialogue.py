"""The internal dialogue model every reader produces and every later stage consumes.

Slot names follow the MultiWOZ 2.2 schema (the part after ``domain-``: ``pricerange``,
``arriveby``, ``leaveat``, ``bookday``, ``bookpeople``, ``bookstay``, ``booktime``, ...), for
MultiWOZ 2.1 data too, so that one name means one thing everywhere. SGD keeps its own slot
names under its service names (``Restaurants_2``). Values are the dataset's strings; empty,
``not mentioned`` and ``none`` values are dropped, every spelling of "don't care" becomes
``dontcare``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

BeliefState = dict[str, dict[str, str]]
"""``{domain: {slot: value}}``; a domain appears only when it has at least one slot."""

DialogueActs = dict[str, dict[str, list[tuple[str, str]]]]
"""``{domain: {act: [(slot, value), ...]}}``, lower-case, e.g. ``{"restaurant": {"inform": [("area", "west")]}}``."""


@dataclass(frozen=True)
class Turn:
    """One user utterance and the system response that follows it."""

    index: int
    """Position of the system turn in the dialogue, from 0."""
    user: str
    system: str
    """The system response as spoken (lexicalised)."""
    system_delex: str
    """The system response with span values replaced by ``[value_<slot>]`` placeholders."""
    belief_state: BeliefState
    """Cumulative state after the user turn."""
    turn_domain: str
    """The domain this turn is about (``general`` when none)."""
    system_acts: DialogueActs
    db_count: int | None = None
    """Number of venues matching ``belief_state[turn_domain]``; ``None`` for domains without a database."""
    booked_domains: tuple[str, ...] = ()
    """Domains (taxi excluded) with a booking on record at this system turn."""


@dataclass(frozen=True)
class Dialogue:
    id: str
    """The dataset's id without ``.json``, in its original case (``SNG0073``, ``1_00000``)."""
    turns: tuple[Turn, ...]
    domains: tuple[str, ...]
    """Every domain the dialogue touches, in order of first appearance."""
    goal: dict | None = None
    """The raw MultiWOZ goal (2.1 only), used by the scorer."""
    source: str = ""
    """The file the dialogue was read from, for error messages."""
    services: tuple[str, ...] = field(default=())
    """SGD service names; empty for MultiWOZ."""
