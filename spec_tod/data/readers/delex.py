"""Delexicalisation: replacing annotated value spans of a system response by placeholders.

Both procedures keep the first of overlapping spans (in order of start) and never replace a
``dontcare`` value, as the reference procedures of docs/evaluation.md sections 8.1 and 8.2 do.
``delex_words`` is section 8.2 verbatim, so the scorer can build its MultiWOZ 2.1 references from
``Turn.system_delex``.

Placeholder names are one vocabulary for both MultiWOZ versions, the ``value_*`` names of 2.1
(``[value_leave]``, ``[value_id]``, ``[value_reference]``). MultiWOZ 2.2's span slot names are
mapped onto it (``leaveat`` -> ``leave``, ``trainid`` -> ``id``, ``ref`` -> ``reference``). Every
name is in the placeholder class of ``mwz_eval/slot_name_mapping.json`` that section 8.2 gives the
2.1 slot (and the bare 2.2 name has), so the evaluator reads it as intended; ``[value_leaveat]``,
for one, is in no class and would be dropped. For the same reason internet, parking and opening
hours get the only names that class has, ``[internet]``, ``[parking]``, ``[openhours]``. Names not
in the table are ``value_`` + the slot lower-cased. SGD keeps its own slot names
(``[value_restaurant_name]``): its reader passes an empty table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from spec_tod.data.readers.state import DONTCARE

PLACEHOLDER_NAMES: dict[str, str] = {
    # MultiWOZ 2.1 span slots (section 8.2 of docs/evaluation.md gives their classes).
    "addr": "value_address",
    "post": "value_postcode",
    "dest": "value_destination",
    "depart": "value_departure",
    "leave": "value_leave",
    "arrive": "value_arrive",
    "time": "value_time",
    "ticket": "value_price",
    "fee": "value_price",
    "price": "value_price",
    "id": "value_id",
    "ref": "value_reference",
    "choice": "value_choice",
    "people": "value_people",
    "stay": "value_stay",
    "stars": "value_stars",
    "car": "value_car",
    "type": "value_type",
    "day": "value_day",
    "area": "value_area",
    "food": "value_food",
    "name": "value_name",
    "phone": "value_phone",
    "internet": "internet",
    "parking": "parking",
    "department": "value_department",
    "open": "openhours",
    # MultiWOZ 2.2 span slots that differ from the above.
    "address": "value_address",
    "postcode": "value_postcode",
    "destination": "value_destination",
    "departure": "value_departure",
    "leaveat": "value_leave",
    "arriveby": "value_arrive",
    "duration": "value_time",
    "entrancefee": "value_price",
    "pricerange": "value_price",
    "trainid": "value_id",
    "bookday": "value_day",
    "bookpeople": "value_people",
    "bookstay": "value_stay",
    "booktime": "value_time",
    "openhours": "openhours",
}
"""Lower-cased span slot name -> placeholder name (the text inside the brackets)."""


def placeholder(slot: str, names: Mapping[str, str] = PLACEHOLDER_NAMES) -> str:
    """``Addr`` -> ``[value_address]``; slots not in ``names`` -> ``[value_<slot lower-cased>]``."""
    key = slot.lower()
    return f"[{names.get(key) or 'value_' + key}]"


def delex_words(text: str, spans: Iterable[Sequence]) -> str:
    """MultiWOZ 2.1: ``spans`` are ``[act, slot, value, first_word, last_word]`` (inclusive word
    indices into ``text.split()``); the words of each kept span become one placeholder, and the
    result is joined with single spaces. Indices are used as slice bounds, exactly as the standard
    evaluator's reference builder does (docs/evaluation.md 8.2): a span with ``first > last`` (PMUL4672)
    inserts its placeholder without removing a word, and one past the end appends it."""
    words = text.split()
    kept: list[tuple[int, int, str]] = []
    last_end = -1
    for _act, slot, value, first, last in sorted(spans, key=lambda span: span[3]):
        if first <= last_end or value == DONTCARE:
            continue
        kept.append((first, last, placeholder(slot)))
        last_end = last
    if not kept:
        return " ".join(words)
    out: list[str] = []
    position = 0
    for first, last, name in kept:
        out.extend(words[position:first])
        out.append(name)
        position = last + 1
    out.extend(words[position:])
    return " ".join(out)


def delex_chars(text: str, spans: Iterable[Sequence], names: Mapping[str, str] = PLACEHOLDER_NAMES) -> str:
    """MultiWOZ 2.2 and SGD: ``spans`` are ``[act, slot, value, start, end]`` with character
    offsets, ``end`` exclusive; each kept span is replaced by its placeholder and the rest of the
    text is kept as it is. Spans outside the text are skipped."""
    out: list[str] = []
    position = 0
    for _act, slot, value, start, end in sorted(spans, key=lambda span: span[3]):
        if start < position or value == DONTCARE or not 0 <= start < end <= len(text):
            continue
        out.append(text[position:start])
        out.append(placeholder(slot, names))
        position = end
    out.append(text[position:])
    return "".join(out)
