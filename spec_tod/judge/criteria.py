"""The LLM judge's prompt, its eight criteria, and reading a score out of whatever the judge answered.

Source: the Spec-TOD release's ``gpt_score_2.ipynb`` (quangvinh2110/Spec-TOD): Llama-3-70B-Instruct
behind an OpenAI-compatible ``/v1/completions`` endpoint, the prompt sent raw (no chat template),
``max_tokens=256, temperature=0.5, top_p=0.9``, one request per dialogue. The instruction and the
criteria below are the notebook's words; the dialogue is rendered as there, one
``user:`` / ``assistant:`` (generated) / ``reference:`` (gold) triple per turn, with the
delexicalised responses of both (the release judged PPTOD's delexicalised outputs the same way).

One deliberate change: the notebook asks for ``{"score": "an integer score range from 0 to 5"}`` (a
single number) yet sums per-criterion keys (``o["Interesting"]`` ...), and counts 1 for every
criterion of an answer it cannot read. spec-tod asks for the eight keys it reads, and an answer
without them counts as unreadable (reported), never as a score.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from spec_tod.parsing import loads_json

CRITERIA: tuple[tuple[str, str], ...] = (
    ("Interesting", "Are the responses of AI interesting."),
    ("Engaging", "Are the responses of AI engaging."),
    ("Understandable", "Are the responses of AI understandable."),
    ("Relevant", "Are the responses of AI relevant to the conversation."),
    ("Correct", "Are the responses of AI correct to conversations."),
    ("Appropriate", "Are the responses of AI semantically appropriate."),
    ("Fluently", "Are the responses of AI fluently written."),
    ("Direct", "Are the responses of AI directly answer request from human."),
)
NAMES = tuple(name for name, _ in CRITERIA)
MIN_SCORE, MAX_SCORE = 0, 5

# The release's sampling (gpt_score_2.ipynb, generate()).
TEMPERATURE = 0.5
TOP_P = 0.9
MAX_NEW_TOKENS = 256

_INSTRUCTION = (
    "You are a powerful and accurate assistant in checking the quality of a predicted answer. You will be given "
    "a dialogue between human and AI, which contains user utterance, assistant response and reference label. \n"
    "### Please evaluate the dialogue based on the following criteria and give a score from 0 to 5 for each "
    "criterion:\n"
)
_ANSWER_FORMAT = (
    "### Note:\nRespond in the following JSON format and do NOT generate unnecessary details beyond the JSON object\n"
    + json.dumps({name: "an integer score range from 0 to 5" for name in NAMES}, indent=4)
    + "\n"
)


def dialogue_text(turns: Sequence[tuple[str, str, str]]) -> str:
    """``(user, generated response, reference)`` per turn, as the notebook joined them."""
    return "".join(
        f"user: {user}\nassistant: {generated}\nreference: {reference}\n" for user, generated, reference in turns
    )


def judge_prompt(turns: Sequence[tuple[str, str, str]]) -> str:
    """The whole prompt for one dialogue."""
    criteria = "".join(f"{index}) {name}: {question}\n" for index, (name, question) in enumerate(CRITERIA, 1))
    return _INSTRUCTION + criteria + f"### Dialogue: {dialogue_text(turns)}" + _ANSWER_FORMAT


Status = Literal["scored", "partial", "refused", "unreadable"]


@dataclass(frozen=True)
class Reading:
    status: Status
    scores: dict[str, int]
    """The criteria that could be read, each 0-5."""
    note: str = ""


# A criterion is recognised by the start of its name, so "fluency", "correctness", "relevance" count.
_STEMS = {
    "Interesting": "interest",
    "Engaging": "engag",
    "Understandable": "understand",
    "Relevant": "relevan",
    "Correct": "correct",
    "Appropriate": "appropriat",
    "Fluently": "fluen",
    "Direct": "direct",
}
_NUMBER = r"(\d+(?:\.\d+)?)(?:\s*/\s*5)?"
_REFUSALS = re.compile(
    r"\b(i can(?:no|')t|i cannot|i am unable|i'm unable|i won't|i will not|i'm sorry|i apologi[sz]e|as an ai)\b",
    re.IGNORECASE,
)


def _criterion(key: str) -> str | None:
    folded = re.sub(r"[^a-z]", "", key.lower())
    return next((name for name, stem in _STEMS.items() if folded.startswith(stem)), None)


def _score(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and (match := re.search(_NUMBER, value)):
        number = float(match.group(1))
    else:
        return None
    if not number.is_integer() or not MIN_SCORE <= number <= MAX_SCORE:
        return None
    return int(number)


def _from_json(text: str) -> dict[str, int]:
    first, last = text.find("{"), text.rfind("}")
    if first < 0 or last <= first:
        return {}
    try:
        data = loads_json(text[first : last + 1])
    except ValueError:
        return {}
    found: dict[str, int] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            name = _criterion(str(key))
            score = _score(value)
            if name is not None and score is not None:
                found.setdefault(name, score)
    return found


def _from_prose(text: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for name, stem in _STEMS.items():
        # "Interesting: 4", "**Fluency** - 5/5", "3) Correct = 2" (the number within a few characters of the name)
        match = re.search(rf"(?i)\b{stem}[a-z]*\W{{0,6}}{_NUMBER}", text)
        if match is not None and (score := _score(match.group(1))) is not None:
            found[name] = score
    return found


def read_judgment(text: str) -> Reading:
    """The criteria's scores in an answer: JSON first (anywhere in the text), then ``name: N`` prose."""
    scores = _from_json(text)
    for name, score in _from_prose(text).items():
        scores.setdefault(name, score)
    if len(scores) == len(NAMES):
        return Reading("scored", dict(sorted(scores.items(), key=lambda item: NAMES.index(item[0]))))
    if scores:
        missing = [name for name in NAMES if name not in scores]
        return Reading("partial", scores, f"no score for {', '.join(missing)}")
    if _REFUSALS.search(text):
        return Reading("refused", {}, text.strip()[:200])
    return Reading("unreadable", {}, text.strip()[:200])
