"""The character classes and prefix lists of ``spec_tod/resources/mwz_eval/moses_en.json``, derived
from the pinned sacremoses.

sacremoses writes each class as every one of its characters inside ``[...]``; the sets below are what
those brackets match, found by matching every code point, and kept as ranges. ``test_moses.py``
derives them again and compares; after a sacremoses upgrade, rewrite the file with
``python -m tests.data.moses_tables``.
"""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from typing import Any

from sacremoses import MosesDetokenizer, MosesTokenizer
from sacremoses.util import CJKChars

from spec_tod.resources import MWZ_EVAL, resource

_EVERY_CODE_POINT = "".join(map(chr, range(0x110000)))


def _ranges(bracket_contents: str) -> list[list[int]]:
    """The code points ``[bracket_contents]`` matches, as inclusive ``[first, last]`` runs."""
    runs: list[list[int]] = []
    for character in re.findall(f"[{bracket_contents}]", _EVERY_CODE_POINT):
        point = ord(character)
        if runs and runs[-1][1] == point - 1:
            runs[-1][1] = point
        else:
            runs.append([point, point])
    return runs


def _between(pattern: str, start: str, end: str) -> str:
    assert pattern.startswith(start) and pattern.endswith(end), pattern
    return pattern[len(start) : -len(end)]


def derive_tables() -> dict[str, Any]:
    tokenizer = MosesTokenizer(lang="en")
    classes = {
        # PAD_NOT_ISALNUM pads every character outside this class with spaces
        "unpadded": _ranges(_between(MosesTokenizer.PAD_NOT_ISALNUM[0].pattern, "([^", "])")),
        "number": _ranges(MosesTokenizer.IsN),
        "alpha": _ranges(MosesTokenizer.IsAlpha),
        "alpha_or_number": _ranges(MosesTokenizer.IsAlpha + MosesTokenizer.IsN),
        "lower": _ranges(MosesTokenizer.IsLower),
        "currency_or_opening": _ranges(_between(MosesDetokenizer.IS_CURRENCY_SYMBOL.pattern, "^[", "]+$")),
        "contraction_alpha": _ranges(MosesDetokenizer.IsAlpha),
        "cjk": [list(pair) for pair in CJKChars().ranges],
    }
    # islower/isanyalpha test membership of the listed characters, not of the bracket: the same set
    for name, listed in (("alpha", MosesTokenizer.IsAlpha), ("lower", MosesTokenizer.IsLower)):
        assert sum(last - first + 1 for first, last in classes[name]) == len(set(listed)), name
    return {
        "source": f"sacremoses {version('sacremoses')}: MosesTokenizer(lang='en') and MosesDetokenizer(lang='en')",
        "classes": classes,
        "nonbreaking_prefixes": sorted(set(tokenizer.NONBREAKING_PREFIXES)),
        "numeric_only_prefixes": sorted(set(tokenizer.NUMERIC_ONLY_PREFIXES)),
    }


def table_text() -> str:
    return json.dumps(derive_tables(), separators=(",", ":")) + "\n"


if __name__ == "__main__":
    target = resource(MWZ_EVAL, "moses_en.json")
    with open(str(target), "w", encoding="utf-8") as handle:
        handle.write(table_text())
    print(f"wrote {target}")
