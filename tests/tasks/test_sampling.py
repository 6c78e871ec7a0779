"""The seeded fraction and the per-domain caps."""

from __future__ import annotations

import random
from collections import Counter

from spec_tod.tasks.records import dialogue_domains
from spec_tod.tasks.sampling import cap_per_domain, fraction_size, sample_fraction


def test_fraction_size_rounds_half_up():
    assert fraction_size(1000, 0.1) == 100
    assert fraction_size(8438, 0.1) == 844
    assert fraction_size(3, 0.01) == 1
    assert fraction_size(0, 0.5) == 0


def test_a_tenth_of_the_test_split_is_100_stable_dialogues(mwz21_test_split):
    dialogues = mwz21_test_split.dialogues
    first = sample_fraction(dialogues, 0.1, random.Random(42))
    assert len(first) == 100
    assert [d.id for d in first] == [d.id for d in sample_fraction(dialogues, 0.1, random.Random(42))]
    # Input order is kept, and the subset depends on ids only, not on file order.
    positions = [dialogues.index(d) for d in first]
    assert positions == sorted(positions)
    reversed_pick = sample_fraction(dialogues[::-1], 0.1, random.Random(42))
    assert {d.id for d in reversed_pick} == {d.id for d in first}
    other = sample_fraction(dialogues, 0.1, random.Random(43))
    assert {d.id for d in other} != {d.id for d in first}


def test_full_fraction_draws_nothing(mwz21_test_split):
    rng = random.Random(1)
    state = rng.getstate()
    assert sample_fraction(mwz21_test_split.dialogues, 1.0, rng) == mwz21_test_split.dialogues
    assert rng.getstate() == state


def test_caps_hold_for_every_domain(mwz21_test_split):
    dialogues = mwz21_test_split.dialogues
    kept = cap_per_domain(dialogues, 50, random.Random(5), dialogue_domains)
    counts = Counter(domain for d in kept for domain in set(dialogue_domains(d)))
    assert max(counts.values()) <= 50
    assert 50 <= len(kept) < len(dialogues)
    again = cap_per_domain(dialogues, 50, random.Random(5), dialogue_domains)
    assert [d.id for d in again] == [d.id for d in kept]
