"""Reading the simulator LLM's answers: plain text, one of several variants, or a JSON object.

SynTOD asked for several variants of a user turn and kept one at random, split on newlines, so
lines such as "Sure, here are three ..." were kept as turns and leak into its released data; here
such preamble lines, enumeration and wrapping quotes are removed first. A JSON answer that does not
parse gets one repair call, worded after SynTOD's ("fix the json below, expected format is ...",
``src/data-generation/Recipe/datagen.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from spec_tod.parsing import decode_json_at

_PREAMBLE_START = re.compile(r"^(sure|certainly|of course|absolutely|okay|ok|alright|here|great|no problem)\b", re.I)
_PREAMBLE_BODY = re.compile(r"\b(here (are|is)|here's|following|variants?|options?|prompts?|examples?)\b", re.I)
_ENUMERATION = re.compile(r"^\s*(?:[-*\u2022]|\(?\d{1,2}[.):])\s*")


def is_preamble(line: str) -> bool:
    """A line that introduces the answer instead of being one ("Sure, here are three prompts:")."""
    text = line.strip()
    if not text:
        return True
    if text.endswith(":"):
        return True
    return bool(_PREAMBLE_START.match(text) and _PREAMBLE_BODY.search(text))


def clean_line(line: str) -> str:
    text = _ENUMERATION.sub("", line.strip()).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


def text_answer(answer: str) -> str:
    """A plain-text turn: the answer without preamble lines, lines joined by a space."""
    lines = [clean_line(line) for line in answer.splitlines() if not is_preamble(line)]
    return " ".join(line for line in lines if line)


def variants(answer: str) -> list[str]:
    """The candidate turns of a variants answer, preamble lines removed."""
    return [text for text in (clean_line(line) for line in answer.splitlines() if not is_preamble(line)) if text]


def json_object(answer: str) -> dict | None:
    """The first JSON object in the answer with a string ``text``, or ``None``."""
    position = answer.find("{")
    while position >= 0:
        try:
            value = decode_json_at(answer, position)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, dict) and isinstance(value.get("text"), str):
            return value
        position = answer.find("{", position + 1)
    return None


def expected_format(slots: Sequence[str]) -> str:
    return "{" + ", ".join(f'"{name}": ...' for name in ("text", *slots)) + "}"


def repair_prompt(answer: str, slots: Sequence[str]) -> str:
    return (
        f"Fix the JSON below. The expected format is {expected_format(slots)}. "
        f"Give only the corrected JSON in your response, nothing else:\n{answer}"
    )
