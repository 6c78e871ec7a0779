"""Which dialogue goes to which shard, and in which order work reaches the server.

Sharding: dialogues are ordered longest first (number of turns, then id) and dealt round-robin to
the shards, so every shard gets a similar mix of long and short dialogues. The assignment depends
only on the dialogues and the shard count, never on what is already done.

Scheduling is longest-processing-time-first list scheduling. The work is a list of *units*: in
end-to-end mode a unit is the remaining turns of one dialogue (run in order: each turn's prompt
holds the model's earlier outputs); in DST mode a unit is one turn (its history is gold, so turns
are independent). Units are taken longest first by a fixed number of workers, the server's
concurrency plus a quarter, so that the long chains start at once and never end up last
while the server idles, and the server always has a full queue. Units of all selected shards
share one pool; the shard only decides the file a turn is written to.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from spec_tod.data.dialogue import Dialogue


def longest_first(dialogues: Sequence[Dialogue]) -> list[Dialogue]:
    """``dialogues`` by number of turns, longest first; ties by id, so the order is total."""
    return sorted(dialogues, key=lambda dialogue: (-len(dialogue.turns), dialogue.id))


def assign_shards(dialogues: Sequence[Dialogue], shards: int) -> dict[str, int]:
    """``{dialogue id: shard}``: longest first, dealt round-robin."""
    return {dialogue.id: position % shards for position, dialogue in enumerate(longest_first(dialogues))}


def worker_count(concurrency: int, units: int) -> int:
    """Workers for ``units`` units under ``concurrency`` requests in flight.

    A worker spends some time between calls (parsing, the database, the checkpoint's sync, and on a
    busy machine the event loop's lag): a quarter more workers than request slots keeps the slots busy
    through those gaps, while the client's bound keeps the requests in flight at ``concurrency``. More
    is not better: every dialogue in progress shares the slots, so the longest ones, started first,
    would advance more slowly and end the run late (docs/speed.md has the measurements).
    """
    return max(1, min(units, concurrency + max(1, concurrency // 4)))


@dataclass(frozen=True)
class Unit:
    """A piece of work: ``run`` does it; ``weight`` (model calls left) orders it."""

    weight: int
    run: Callable[[], Awaitable[None]]


async def run_longest_first(units: Sequence[Unit], workers: int) -> None:
    """Run ``units`` with ``workers`` concurrent workers, heaviest first (stable for equal weights)."""
    queue = deque(sorted(units, key=lambda unit: -unit.weight))

    async def worker() -> None:
        while queue:
            await queue.popleft().run()

    async with asyncio.TaskGroup() as group:
        for _ in range(min(workers, len(queue))):
            group.create_task(worker())
