"""The letter-count shortcut of the fuzzy match gives exactly fuzzywuzzy's verdicts."""

from __future__ import annotations

import random
import sys

import pytest
from fuzzywuzzy import fuzz

from spec_tod.data import fuzzy
from spec_tod.data.database import VenueDatabase
from spec_tod.data.fuzzy import partial_ratio_reaches
from spec_tod.errors import SpecTodError


def test_same_verdict_as_fuzzywuzzy_on_the_venue_names_and_test_states(data_dir, mwz21_test):
    db = VenueDatabase.load(data_dir / "multiwoz_db")
    columns = [column for table in db.tables.values() for column in table.columns.values() if column.fuzzy]
    names = {name for column in columns for name in column.by_value}
    states = [slots for dialogue in mwz21_test.dialogues for turn in dialogue.turns for slots in turn.belief_state.values()]
    values = {value for slots in states for value in slots.values()}
    verdicts = [(name, value, fuzz.partial_ratio(name, value) >= 90) for name in names for value in values]
    assert sum(reaches for *_, reaches in verdicts) > 400  # not only rejections are compared
    assert [partial_ratio_reaches(name, value, 90) for name, value, _ in verdicts] == [r for *_, r in verdicts]


def test_same_verdict_as_fuzzywuzzy_near_every_threshold():
    # Few letters, so that many pairs share nearly all of them: the bound is tight here.
    rng = random.Random(7)
    words = ["".join(rng.choice("abcde 'f") for _ in range(rng.randint(0, 12))) for _ in range(300)]
    for first, second in zip(words, reversed(words)):
        ratio = fuzz.partial_ratio(first, second)
        for score in (60, 75, 89, 90, 91, 96, 100):
            assert partial_ratio_reaches(first, second, score) == (ratio >= score), (first, second, score)


def test_same_verdict_as_fuzzywuzzy_with_letters_the_other_string_lacks():
    # Many letters, and pairs that differ by a letter or two: the distinct-letters bound rejects some,
    # the letter counts some more, and fuzzywuzzy decides the rest.
    rng = random.Random(11)
    alphabet = "abcdefghijklmnopqrstuvwxyz '"
    words = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 20))) for _ in range(400)]
    pairs = [(word, rng.choice(words)) for word in words]
    for word in words:
        mutated = list(word + rng.choice(alphabet))
        mutated[rng.randrange(len(mutated))] = rng.choice(alphabet)
        pairs.append((word, "".join(mutated)))
    rejected_by_set = 0
    for first, second in pairs:
        ratio = fuzz.partial_ratio(first, second)
        short, long = (first, second) if len(first) <= len(second) else (second, first)
        absent = len(set(short) - set(long))
        for score in (80, 89, 90, 91, 96):
            rejected_by_set += 400 * (len(short) - absent) < (2 * score - 1) * (2 * len(short) - absent)
            assert partial_ratio_reaches(first, second, score) == (ratio >= score), (first, second, score)
    assert rejected_by_set > 1000


def test_missing_levenshtein_is_an_error_not_difflib(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "Levenshtein", None)  # as if python-Levenshtein were not installed
    fuzzy._fuzz.cache_clear()
    try:
        with pytest.raises(SpecTodError, match="python-Levenshtein is not installed"):
            fuzzy._fuzz()
    finally:
        fuzzy._fuzz.cache_clear()
