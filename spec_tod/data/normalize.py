"""Normalisation of responses, belief-state slot names and values, as the standardized evaluator does it.

Everything here follows docs/evaluation.md, section 2, to the character, because the scores
(BLEU, Inform, Success, DST) of the standardized MultiWOZ evaluator depend on it. The lookup
tables come from ``spec_tod/resources/mwz_eval`` (:mod:`spec_tod.data.mwz_tables`).

* :func:`normalise_response` - placeholders to class names (``[restaurant_name]`` -> ``NAME``),
  ``-s``/``-ly`` deletion, Moses tokenise + detokenise (section 2.1); :func:`normalise_responses`
  for many at once;
* :func:`normalise_slot_name` / :func:`normalise_slot_value` / :func:`normalise_state` (2.2, 2.3);
* :func:`time_to_minutes` (the database's time comparison);
* :func:`placeholder_class` - the class of one placeholder name, or ``None``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar

from spec_tod.data.background import StandingWorker, can_fork, in_background
from spec_tod.data.mwz_tables import load_table

_T = TypeVar("_T")

_SLOT_NAMES = load_table("slot_name_mapping")
_VALUES = load_table("value_normalization")
_METRIC = load_table("metric_constants")

_PLACEHOLDER = re.compile(_METRIC["placeholder_pattern"])
_CLASS_OF_PLACEHOLDER = {name: cls for cls, names in _SLOT_NAMES["classes"].items() for name in names}
_RESPONSE_DELETIONS = tuple(_METRIC["response_substring_deletions"])

_SLOT_RENAMES = _VALUES["state_slot_name"]["renames"]
_NAME_SLOTS = frozenset(_VALUES["name_slots"])
_NAME_CHARACTER_REPLACEMENTS = tuple(tuple(pair) for pair in _VALUES["name_preprocessing"]["character_replacements"])
_NAME_REPLACEMENTS: dict[str, str] = {}
for _block in _VALUES["name_replacements_by_block"].values():
    for _key, _value in _block.items():
        _NAME_REPLACEMENTS.setdefault(_key, _value)  # the evaluator checks the blocks in file order
_TYPE_SLOTS = frozenset(_VALUES["type_slots"])
_TYPE_REPLACEMENTS = _VALUES["type_replacements"]
_FOOD_SLOTS = frozenset(_VALUES["food_slots"])
_FOOD_REPLACEMENTS = _VALUES["food_replacements"]
_TIME_SLOTS = frozenset(_VALUES["time_slots"])
_TIME_EXACT = _VALUES["time_exact_phrases"]
_TIME_PREFIXES = tuple(_VALUES["time_prefix_phrases"].items())
_YES_NO_SLOTS = frozenset(_VALUES["yes_no_slots"])
_YES_NO_REPLACEMENTS = _VALUES["yes_no_replacements"]

_HH_MM_PREFIX = re.compile(r"[0-9][0-9]:[0-9][0-9]")


def placeholder_class(name: str) -> str | None:
    """The class (``NAME``, ``TRAINID``, ...) of a placeholder's inner text, ``None`` if unlisted."""
    return _CLASS_OF_PLACEHOLDER.get(name.lower())


def _replace_placeholder(match: re.Match[str]) -> str:
    return _CLASS_OF_PLACEHOLDER.get(match.group(1), "")


def moses_input(text: str) -> str:
    """A response as the evaluator hands it to Moses: lower-cased, placeholders replaced, ``-s`` and
    ``-ly`` deleted (docs/evaluation.md 2.1, steps 1-3)."""
    text = _PLACEHOLDER.sub(_replace_placeholder, text.lower())
    for deleted in _RESPONSE_DELETIONS:
        text = text.replace(deleted, "")
    return text


def _normalise_uncached(text: str) -> str:
    from spec_tod.data.moses import retokenize  # its classes compile in 0.05 s: only when needed

    return retokenize(moses_input(text))


def _normalise_batch(texts: list[str]) -> list[str]:
    # remembered where they are computed too: a worker asked for a function of them then has them
    return [normalise_response(text) for text in texts]


_RESPONSES: dict[str, str] = {}
"""Normalised responses by raw text: scoring sees the same responses and references again and again."""
_PARALLEL_MIN = 1000
"""Fewer new texts than this are not worth a worker process (about 0.1 s of Moses)."""


def normalise_response(text: str) -> str:
    """A delexicalised response in the evaluator's canonical form (docs/evaluation.md 2.1).

    Lower-cased; each ``[placeholder]`` (with an optional plural suffix) becomes its upper-case class
    name or disappears when unlisted; ``-s`` and ``-ly`` are deleted anywhere; Moses tokenise and
    detokenise canonicalise the spacing.
    """
    normalised = _RESPONSES.get(text)
    if normalised is None:
        normalised = _RESPONSES[text] = _normalise_uncached(text)
    return normalised


def normalise_responses(texts: Iterable[str]) -> list[str]:
    """:func:`normalise_response` of many texts; with many new ones, half go to a forked worker.

    The Moses tokenizer is most of the time of scoring a test set, so on a machine with two cores
    the distinct unseen texts are split between this process and a worker.
    """
    return normalise_responses_later(texts)()


def normalise_responses_later(texts: Iterable[str]) -> Callable[[], list[str]]:
    """:func:`normalise_responses`, started now; call the returned function for the result.

    Inside :func:`standing_normaliser` the unseen texts all go to its worker, which has set up the
    Moses rules meanwhile, and this process is free until it asks for the result.
    """
    texts = list(texts)
    if _STANDING:
        start_normalising(texts)
    else:
        todo = [text for text in dict.fromkeys(texts) if text not in _RESPONSES]
        if len(todo) >= _PARALLEL_MIN and can_fork():
            import spec_tod.data.moses  # noqa: F401  (once here rather than in both processes)

            half = len(todo) // 2
            _PENDING.append((todo[:half], in_background(_normalise_batch, todo[:half])))
            _RESPONSES.update(zip(todo[half:], _normalise_batch(todo[half:]), strict=True))

    def result() -> list[str]:
        while _PENDING:
            done, remote = _PENDING.pop(0)
            _RESPONSES.update(zip(done, remote(), strict=True))
        return [normalise_response(text) for text in texts]

    return result


def start_normalising(texts: Iterable[str]) -> None:
    """Send the unseen ``texts`` to the :func:`standing_normaliser`'s worker now, if there is one; the
    normalisation that asks for them later waits for these results instead of sending them again."""
    if not _STANDING:
        return
    pending = {text for batch, _ in _PENDING for text in batch}
    todo = [text for text in dict.fromkeys(texts) if text not in _RESPONSES and text not in pending]
    if todo:
        _PENDING.append((todo, _STANDING[0].submit(_normalise_batch, todo)))


def apply_to_normalised_later(function: Callable[[list[str]], _T], texts: Iterable[str]) -> Callable[[], _T]:
    """``function`` of the normalised ``texts``, started now; call the returned function for the result.

    Inside :func:`standing_normaliser` it runs in the worker, which normalises (or has normalised)
    those texts itself, so their normalised forms never cross between the processes; elsewhere it
    runs here, when the result is asked for.
    """
    texts = list(texts)
    if not _STANDING:
        return lambda: _apply_to_normalised(function, texts)
    return _STANDING[0].submit(_apply_to_normalised, function, texts)


def in_normaliser(function: Callable[..., _T], *args: object) -> Callable[[], _T] | None:
    """``function(*args)`` started in the :func:`standing_normaliser`'s worker, after what it was given before;
    call the returned function for the result. ``None`` outside such a block."""
    return _STANDING[0].submit(function, *args) if _STANDING else None


def _apply_to_normalised(function: Callable[[list[str]], _T], texts: list[str]) -> _T:
    return function([normalise_response(text) for text in texts])


def _import_moses() -> None:
    import spec_tod.data.moses  # noqa: F401


_STANDING: list[StandingWorker] = []
_PENDING: list[tuple[list[str], Callable[[], list[str]]]] = []
"""Texts being normalised elsewhere, and the function that waits for their results."""


@contextmanager
def standing_normaliser() -> Iterator[None]:
    """Within this block, responses are normalised by a worker forked now, which sets up the Moses
    rules while this process reads its inputs, and functions of them (:func:`apply_to_normalised_later`)
    run there too (``spec-tod score``; docs/speed.md)."""
    with StandingWorker(_import_moses) as worker:
        _STANDING.append(worker)
        try:
            yield
        finally:
            _STANDING.remove(worker)
            _PENDING.clear()  # results never asked for: those texts are normalised here if they come back


def normalise_slot_name(name: str) -> str:
    """Lower-case, drop spaces, then ``arriveby`` -> ``arrive`` and ``leaveat`` -> ``leave``."""
    name = name.lower().replace(" ", "")
    return _SLOT_RENAMES.get(name, name)


def _normalise_name(value: str) -> str:
    value = value.strip().lower()
    for old, new in _NAME_CHARACTER_REPLACEMENTS:
        value = value.replace(old, new)
    return _NAME_REPLACEMENTS.get(value, value)


def _plus_twelve(hour: str, minutes: str) -> str | None:
    try:
        return f"{int(hour) + 12}:{minutes}"
    except ValueError:
        return None


def _normalise_time(value: str) -> str:
    """The evaluator's time canonicaliser (docs/evaluation.md 2.3, steps 1-13).

    Where the reference implementation raises (a non-numeric hour before ``pm``), the suffix-less
    string is kept instead; it then matches no database time.
    """
    time = value.strip().lower()
    if time in _TIME_EXACT:
        return _TIME_EXACT[time]
    for prefix, canonical in _TIME_PREFIXES:
        if time.startswith(prefix):
            return canonical
    if time.startswith("by"):
        time = time[3:]
    if time.startswith("after"):
        time = time[5:].strip()
    if time.startswith("afer"):
        time = time[4:].strip()
    if time.endswith("am"):
        time = time[:-2].strip()
    if time.endswith("a.m."):
        time = time[:-4].strip()
    if time.endswith("pm") or time.endswith("p.m."):
        if time.endswith("pm"):
            time = time[:-2].strip()
        if time.endswith("p.m."):
            time = time[:-4].strip()
        parts = time.split(":")
        if len(parts) == 2:
            shifted = _plus_twelve(parts[0], parts[1])
            if shifted is not None:
                return shifted
        elif len(parts) == 1 and parts[0].isdigit():
            shifted = _plus_twelve(parts[0], "00")
            if shifted is not None:
                return shifted
    if not time:
        return "00:00"
    if time[-1] in ".,?":
        time = time[:-1]
    if time.isdigit() and len(time) == 4:
        return time[:2] + ":" + time[2:]
    if time.isdigit():
        return time.zfill(2) + ":00"
    if ":" in time:
        time = "".join(time.split(" "))
    if len(time) == 4 and time[1] == ":":
        hour, minutes = time.split(":")
        return hour.zfill(2) + ":" + minutes
    return time


def normalise_slot_value(slot: str, value: str) -> str:
    """The value normalisation for an already normalised slot name (docs/evaluation.md 2.3)."""
    if slot in _NAME_SLOTS:
        return _normalise_name(value)
    if slot in _TYPE_SLOTS:
        return _TYPE_REPLACEMENTS.get(value, value)
    if slot in _FOOD_SLOTS:
        food = value.strip().lower()
        return _FOOD_REPLACEMENTS.get(food, food)
    if slot in _TIME_SLOTS:
        return _normalise_time(value)
    if slot in _YES_NO_SLOTS:
        return _YES_NO_REPLACEMENTS.get(value, value)
    return value


def normalise_state(state: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """A belief state with normalised slot names and values; domain names and order are kept.

    When two slots of a domain normalise to the same name, the later one wins.
    """
    if len(_SLOT_VALUES) > _MAX_SLOT_VALUES:
        _SLOT_VALUES.clear()
    normalised: dict[str, dict[str, str]] = {}
    for domain, slots in state.items():
        domain_state: dict[str, str] = {}
        for slot_value in slots.items():
            pair = _SLOT_VALUES.get(slot_value)
            if pair is None:
                name = normalise_slot_name(slot_value[0])
                pair = _SLOT_VALUES[slot_value] = (name, normalise_slot_value(name, slot_value[1]))
            domain_state[pair[0]] = pair[1]
        normalised[domain] = domain_state
    return normalised


_SLOT_VALUES: dict[tuple[str, str], tuple[str, str]] = {}
"""Normalised (slot, value) by raw pair: a dialogue's states repeat its earlier turns' slots."""
_MAX_SLOT_VALUES = 1 << 16


def time_to_minutes(time: str) -> int:
    """Minutes since midnight of a string starting with ``HH:MM``; 0 for anything else."""
    if not _HH_MM_PREFIX.match(time):
        return 0
    parts = time.split(":")
    try:
        return int(parts[0]) * 60 + int(parts[1])
    except ValueError:  # "17:15xyz": the reference implementation raises here
        return 0
