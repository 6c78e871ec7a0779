"""The instruction paraphrases of the DST and end-to-end system prompts (docs/method-reference.md, section 2.3).

Texts live in ``spec_tod/resources/templates/instructions.yaml``. The release drew one with an unseeded
``random.choice``; here every draw comes from a ``random.Random`` the caller seeds, so the same
command writes the same prompts.
"""

from __future__ import annotations

import random
from functools import cache

from spec_tod.errors import SpecTodError
from spec_tod.tasks.templates import template_path, yaml_table

_FILE = "instructions.yaml"


@cache
def _texts(key: str) -> tuple[str, ...]:
    texts = yaml_table(_FILE).get(key)
    if not texts or not all(isinstance(text, str) for text in texts):
        raise SpecTodError(f"{template_path(_FILE)}: '{key}' must be a non-empty list of texts")
    return tuple(texts)


def dst_instructions() -> tuple[str, ...]:
    """The 8 one-sentence DST instructions."""
    return _texts("dst")


def dst_notes() -> tuple[str, ...]:
    """The 3 notes that follow the DST instruction, one per line."""
    return _texts("dst_notes")


def e2e_instructions() -> tuple[str, ...]:
    """The 3 long end-to-end instructions (no notes follow them)."""
    return _texts("e2e")


def dst_instruction_block(rng: random.Random) -> str:
    """One DST instruction drawn from ``rng``, then the notes, joined by newlines."""
    return "\n".join((rng.choice(dst_instructions()), *dst_notes()))


def e2e_instruction_block(rng: random.Random) -> str:
    """One end-to-end instruction drawn from ``rng``."""
    return rng.choice(e2e_instructions())
