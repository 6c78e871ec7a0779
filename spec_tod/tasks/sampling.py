"""Which dialogues go into a data set: a seeded fraction and per-domain caps.

Both draw from the one ``random.Random`` of a build, in a fixed order (fraction first, then caps),
and both work on dialogue ids sorted, never on file order, so a subset depends only on the seed
and the ids, and the same command picks the same dialogues. The kept dialogues stay in input order.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence

from spec_tod.data.dialogue import Dialogue


def fraction_size(total: int, fraction: float) -> int:
    """How many of ``total`` dialogues a fraction keeps: rounded half up, at least one of a non-empty set."""
    if total == 0:
        return 0
    return min(total, max(1, int(total * fraction + 0.5)))


def sample_fraction(dialogues: Sequence[Dialogue], fraction: float, rng: random.Random) -> list[Dialogue]:
    """A ``fraction`` of the dialogues drawn by id with ``rng``; ``fraction == 1`` keeps all and draws nothing."""
    if fraction >= 1:
        return list(dialogues)
    ids = sorted(dialogue.id for dialogue in dialogues)
    chosen = set(rng.sample(ids, fraction_size(len(ids), fraction)))
    return [dialogue for dialogue in dialogues if dialogue.id in chosen]


def cap_per_domain(
    dialogues: Sequence[Dialogue],
    max_per_domain: int,
    rng: random.Random,
    domains_of: Callable[[Dialogue], Sequence[str]],
) -> list[Dialogue]:
    """At most ``max_per_domain`` dialogues per domain (FnCTOD's ``--domain_size``), drawn with ``rng``.

    Dialogues are visited in a seeded shuffle of their ids; one is kept when every domain it touches
    (``domains_of``) is still under the cap, and then counts once for each of them. A multi-domain
    dialogue with one full domain is therefore dropped, so no domain ever exceeds the cap.
    """
    by_id = {dialogue.id: dialogue for dialogue in dialogues}
    order = sorted(by_id)
    rng.shuffle(order)
    counts: Counter[str] = Counter()
    kept: set[str] = set()
    for dialogue_id in order:
        domains = set(domains_of(by_id[dialogue_id]))
        if all(counts[domain] < max_per_domain for domain in domains):
            counts.update(domains)
            kept.add(dialogue_id)
    return [dialogue for dialogue in dialogues if dialogue.id in kept]
