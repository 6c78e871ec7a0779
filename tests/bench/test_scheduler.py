"""Shard assignment and longest-first scheduling."""

from __future__ import annotations

import asyncio

from spec_tod.bench.scheduler import Unit, assign_shards, longest_first, run_longest_first, worker_count
from spec_tod.data.dialogue import Dialogue, Turn


def _dialogue(name: str, turns: int) -> Dialogue:
    turn = Turn(index=0, user="u", system="s", system_delex="s", belief_state={}, turn_domain="general", system_acts={})
    return Dialogue(id=name, turns=(turn,) * turns, domains=())


def test_shards_are_dealt_longest_first_round_robin() -> None:
    dialogues = [_dialogue(name, turns) for name, turns in [("a", 2), ("b", 9), ("c", 5), ("d", 9), ("e", 1)]]
    assert [d.id for d in longest_first(dialogues)] == ["b", "d", "c", "a", "e"]
    assert assign_shards(dialogues, 2) == {"b": 0, "d": 1, "c": 0, "a": 1, "e": 0}


def test_worker_count_keeps_slack_over_the_concurrency_but_never_exceeds_the_units() -> None:
    assert worker_count(64, 1000) == 80
    assert worker_count(64, 10) == 10
    assert worker_count(1, 5) == 2


def test_units_start_heaviest_first() -> None:
    started: list[int] = []

    def unit(weight: int) -> Unit:
        async def run() -> None:
            started.append(weight)
            await asyncio.sleep(0)

        return Unit(weight, run)

    asyncio.run(run_longest_first([unit(w) for w in (1, 5, 3, 9, 2)], workers=2))
    assert started == [9, 5, 3, 2, 1]
