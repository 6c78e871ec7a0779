"""The plain response-LM task: ``user> ...`` / ``bot> ...`` text, the layout of the JSALT 2023 dialogue lab.

One module defines the text, and both sides use it: ``spec-tod build-data --task response`` writes
training records with :func:`turn_records` / :func:`dialogue_record`, and ``spec-tod bench --mode
response`` sends :func:`response_prompt` and reads the answer with :func:`read_response`. The
per-turn record's unlabelled segment *is* the bench prompt of that turn, character for character.

Layout (from the lab's ``qlora.py``, keya-dialog/jsalt-dialogue-lab: ``USR_PREFIX = "user> "``,
``BOT_PREFIX = "bot> "``, lines joined by ``"\\n"``), with the lab's faults fixed:

* every utterance is one line (whitespace runs, newlines included, become one space), so a line
  is a turn;
* the prompt ends with ``bot>`` and the target starts with the space: the lab's prompt ended
  with ``"bot> "``, whose lone trailing space BPE tokenizers encode as a token of its own that
  ordinary text never has before a word;
* the target ends with ``"\\n"``, the model's end of turn (bench stops on it): no special token,
  so the records are the same for every tokenizer, and the per-dialogue layout, where the next
  ``user>`` line follows, ends a response the same way;
* system lines, history and targets are the delexicalised responses (``[value_name]``), so the
  standardized scores compare like with like (the lab scored lexicalised outputs against
  delexicalised references);
* the history is truncated from the left, whole exchanges at a time, so the current user turn
  always stays (the lab's tokenizer truncation cut the end of the prompt, current turn included);
* the history is gold (teacher forcing), as in training: bench turns are independent.

Records are axolotl ``input_output`` rows: ``{"id": ..., "segments": [{"label": bool, "text": ...}]}``;
axolotl tokenizes each segment on its own without special tokens and trains on the labelled ones
(the responses). A per-turn prompt is therefore tokenized alone both in training and at inference.

**BOS.** Servers tokenize a raw prompt with special tokens, so a tokenizer that adds a BOS (Llama 3's)
puts one before the prompt; axolotl adds none to ``input_output`` rows. Built with the model's
tokenizer (``--tokenizer``), records therefore start with that BOS token's text, which axolotl's
tokenizer reads as the token itself; the bench prompt never holds it. Without a tokenizer the
records have no BOS, right for tokenizers that add none.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from spec_tod.data.dialogue import Dialogue

USER_PREFIX = "user> "
BOT_PREFIX = "bot>"
END_OF_TURN = "\n"
STOP = (END_OF_TURN,)
"""Stop strings of a bench response call."""

ResponseFormat = Literal["turns", "dialogues"]
RESPONSE_FORMATS: tuple[ResponseFormat, ...] = ("turns", "dialogues")

CountTokens = Callable[[Sequence[str]], list[int]]
"""Token counts of texts, e.g. :meth:`spec_tod.tasks.length.TokenCounter.count_texts`."""


@dataclass(frozen=True)
class ContextBudget:
    """How long a per-turn prompt may get: ``max_tokens`` counted by ``count`` (no limit when None)."""

    max_tokens: int | None = None
    count: CountTokens | None = None


@dataclass(frozen=True)
class ResponseRecord:
    id: str
    """``<dialogue id>`` (per dialogue) or ``<dialogue id>/<turn>`` (per turn)."""
    segments: tuple[tuple[bool, str], ...]
    """``(trained on it, text)`` pairs."""
    truncated: bool = False
    """Earlier exchanges were dropped to fit the budget."""


def one_line(text: str) -> str:
    """``text`` with every whitespace run (newlines included) as one space, trimmed."""
    return " ".join(text.split())


def user_line(utterance: str) -> str:
    return USER_PREFIX + one_line(utterance) + END_OF_TURN


def bot_target(response: str) -> str:
    """What the model writes after ``bot>``: a space, the response, the end of turn."""
    return " " + one_line(response) + END_OF_TURN


def _exchanges(dialogue: Dialogue, turn: int) -> list[str]:
    """The gold exchanges before ``turn``: ``user> u\\nbot> r\\n`` each."""
    return [user_line(t.user) + BOT_PREFIX + bot_target(t.system_delex) for t in dialogue.turns[:turn]]


def _truncate(exchanges: list[str], current: str, budget: ContextBudget) -> tuple[list[str], bool]:
    """The latest exchanges that fit beside ``current`` (which always stays)."""
    if budget.max_tokens is None or not exchanges:
        return exchanges, False
    if budget.count is None:
        raise ValueError("a context budget needs a token counter")
    counts = budget.count([*exchanges, current])
    room = budget.max_tokens - counts[-1]
    kept = 0
    for length in reversed(counts[:-1]):
        if length > room:
            break
        room -= length
        kept += 1
    return exchanges[len(exchanges) - kept :], kept < len(exchanges)


def response_prompt(dialogue: Dialogue, turn: int, budget: ContextBudget = ContextBudget()) -> str:
    """The prompt of ``turn``: earlier exchanges (truncated from the left), the user line, ``bot>``."""
    return _prompt(dialogue, turn, budget)[0]


def _prompt(dialogue: Dialogue, turn: int, budget: ContextBudget) -> tuple[str, bool]:
    current = user_line(dialogue.turns[turn].user) + BOT_PREFIX
    kept, truncated = _truncate(_exchanges(dialogue, turn), current, budget)
    return "".join(kept) + current, truncated


def read_response(generated: str) -> str:
    """The response in a generated continuation of a prompt: its first line, one-lined."""
    return one_line(generated.split(END_OF_TURN, 1)[0])


def turn_records(dialogue: Dialogue, budget: ContextBudget = ContextBudget(), bos: str = "") -> list[ResponseRecord]:
    """One record per system turn: ``bos`` + the prompt (not trained on), and the delexicalised response."""
    records = []
    for index, turn in enumerate(dialogue.turns):
        prompt, truncated = _prompt(dialogue, index, budget)
        segments = ((False, bos + prompt), (True, bot_target(turn.system_delex)))
        records.append(ResponseRecord(f"{dialogue.id}/{index}", segments, truncated))
    return records


def dialogue_record(dialogue: Dialogue, bos: str = "") -> ResponseRecord:
    """The whole dialogue as one record, trained on every response (the lab's ``multi_woz_v22_dialogs``)."""
    segments: list[tuple[bool, str]] = []
    for index, turn in enumerate(dialogue.turns):
        segments.append((False, (bos if index == 0 else "") + user_line(turn.user) + BOT_PREFIX))
        segments.append((True, bot_target(turn.system_delex)))
    return ResponseRecord(dialogue.id, tuple(segments))


def record_line(record: ResponseRecord) -> str:
    """One record as an axolotl ``input_output`` JSON line (no newline)."""
    segments = [{"label": label, "text": text} for label, text in record.segments]
    return json.dumps({"id": record.id, "segments": segments}, ensure_ascii=False)
