"""The oracle model: answers each prompt with what the training records say comes next.

It knows nothing of the benchmark's prompt building: it renders build-data's records with a chat
template (after the same role mapping training uses) and, for every trained message, remembers the
text before that message's content. A prompt is answered only when it is exactly such a text (so it
is, character for character, a prefix of a training text ending where a trained message starts),
with that message's content; every other prompt is refused and kept in :attr:`Oracle.refused`.

Some dialogues open with the same text and then continue differently (e.g. "I am looking for
information in Cambridge", answered two ways): no model can know which record a shared prefix
belongs to, so the oracle answers with the first record's continuation and remembers the others
(:attr:`Oracle.ambiguous`). A later prompt (of either layout) that holds that answer where another
record has its own is looked up with the record's own answer in its place, or, when the guess changed more than that
text (e.g. the venue count after a call), answered with the record that shares the longest prefix
with it (both counted in :attr:`Oracle.after_ambiguous`): the oracle then acts as a model that
learnt every record and guessed only where the data gave it no way to know. A prompt without such
a guess in it gets no leniency.
When the server's tokenizer adds a BOS (as Llama 3's does), a prompt that already holds one is
refused too, since the model would see two.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from spec_tod.chat.roles import role_map
from spec_tod.chat.template import ChatTemplate


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class Oracle:
    def __init__(self, record_files: Iterable[Path], template: ChatTemplate, *, server_adds_bos: bool) -> None:
        self.template = template
        self.server_adds_bos = server_adds_bos
        self.answers: dict[bytes, str] = {}
        self.ambiguous: dict[str, list[str]] = {}
        """Prompt texts that several records share with different continuations (the first is answered)."""
        self.refused: list[str] = []
        self.answered = 0
        self.after_ambiguous = 0
        self.texts: list[tuple[str, list[tuple[int, str]]]] = []
        roles = role_map(template)
        for path in record_files:
            with Path(path).open(encoding="utf-8") as handle:
                for line in handle:
                    self._index([*json.loads(line)["conversations"]], roles)

    def _index(self, messages: list[dict], roles: dict[str, str]) -> None:
        text = self.template.render_messages([{"role": roles[m["from"]], "content": m["value"]} for m in messages])
        cursor = 0
        trained: list[tuple[int, str]] = []
        for message in messages:
            content = message["value"]
            position = text.find(content, cursor)
            if position < 0:
                content = content.strip()
                position = text.find(content, cursor)
            assert position >= 0, f"content of a {message['from']} message not found in the training text"
            if message["weight"]:
                trained.append((position, content))
                key = _key(text[:position])
                known = self.answers.setdefault(key, content)
                if known != content:
                    answers = self.ambiguous.setdefault(text[:position], [known])
                    if content not in answers:
                        answers.append(content)
            cursor = position + len(content)
        self.texts.append((text, trained))

    def __call__(self, prompt: str) -> str | None:
        bos = self.template.bos_token or ""
        if self.server_adds_bos and bos:
            if prompt.startswith(bos):
                self.refused.append("two BOS tokens: " + prompt[:80])
                return None
            prompt = bos + prompt
        answer = self.answers.get(_key(prompt))
        if answer is None:
            answer = self._after_ambiguous(prompt)
        if answer is None:
            self.refused.append(prompt[-300:])
            return None
        self.answered += 1
        return answer

    def _after_ambiguous(self, prompt: str) -> str | None:
        for answers in self.ambiguous.values():
            given = answers[0]
            position = prompt.find(given)
            while position >= 0:
                for own in answers[1:]:
                    answer = self.answers.get(_key(prompt[:position] + own + prompt[position + len(given) :]))
                    if answer is not None:
                        self.after_ambiguous += 1
                        return answer
                position = prompt.find(given, position + 1)
        if any(answers[0] in prompt for answers in self.ambiguous.values()):
            shared, text, trained = max((len(os.path.commonprefix([prompt, t])), t, tr) for t, tr in self.texts)
            answer = next((content for position, content in trained if position >= shared), None)
            if answer is not None:
                self.after_ambiguous += 1
            return answer
        return None
