"""Prompts assembled message by message from pieces of the chat template, instead of running the template
for every call.

Rendering a benchmark prompt with jinja costs two whole renders of the history per call (the prompt,
and the probe that finds where the prefill message's content ends, :meth:`ChatTemplate.render`).
Most chat templates write every message after the first one as a fixed text for its role, the
content (as is, or trimmed), and a fixed closing text; the first message (the system prompt, after
the BOS) is written once per conversation; the prompt ends with a fixed opening for the role the
model writes. For such a template a prompt is a concatenation of these pieces:

    text of the first message + (opening[role] + content + closing[role] for every later message) + start[role]

The pieces are found once, when the renderer is made, by rendering probe messages with the template
itself; the first message's text is rendered once per distinct first message and kept.

**Exactness.** The text must be exactly the template's rendering of the whole prompt (what
build-data trains on). A template may not be this simple (one that numbers messages, checks
alternation, groups runs of one role or looks inside contents), so:

* the pieces are accepted only if every prefix of probe conversations, with every role in turn and
  contents with surrounding spaces and markup characters, renders the same both ways; else every
  prompt is rendered whole;
* the first :attr:`IncrementalRenderer.check_first` prompts and then one in every
  :attr:`IncrementalRenderer.check_every` are also rendered whole and compared; on a difference the
  whole rendering is sent and every later prompt is rendered whole.

``tests/bench/test_incremental.py`` checks, for Llama 3's and Qwen2.5's templates, that every prompt
of MultiWOZ test dialogues is assembled character for character as the whole template renders it,
and the one-format test (``tests/bench/test_one_format.py``) sends the assembled prompts.

An assembled prompt is an :class:`~spec_tod.json_escape.AssembledText`: the text, holding the parts
it was joined from, so that the request's JSON escapes each part once rather than the whole prompt
on every call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from spec_tod.chat.template import ChatTemplate, RenderedPrompt
from spec_tod.errors import SpecTodError
from spec_tod.json_escape import AssembledText

Message = tuple[str, str]
"""``(template role, content)``."""

_MARK = "\x02spec-tod-piece\x02"
_PROBE_CONTENTS = ("  probe one\n", 'probe\ttwo <call> & "q" {x}  ', "\nprobe three\u00e9", "probe four")
"""Contents with surrounding white space and characters a template might escape."""


def _same(text: str) -> str:
    return text


def _strip(text: str) -> str:
    return text.strip()


class IncrementalRenderer:
    """Renders ``(messages, prefill role)`` prompts with ``template``; assembled from pieces where exact.

    ``drop_prefix`` is removed from the start of every prompt that has it (the BOS, when the server's
    tokenizer adds its own: :mod:`spec_tod.bench.render`).
    """

    check_first = 32
    check_every = 64
    max_firsts = 4096
    """First messages whose text is kept (each is often a long system prompt)."""

    def __init__(self, template: ChatTemplate, roles: Sequence[str] = (), drop_prefix: str = "") -> None:
        self.template = template
        self.drop_prefix = drop_prefix
        self.roles = [r for r in dict.fromkeys(roles or ("system", "user", "assistant")) if r != "system"] or ["user"]
        self._firsts: dict[Message, str] = {}
        self._calls = 0
        self._pieces: dict[str, tuple[str, str]] = {}
        self._starts: dict[str, RenderedPrompt] = {}
        self._content: Callable[[str], str] = _same
        self.incremental = self._find_pieces()

    def render(self, messages: Sequence[Message], role: str) -> RenderedPrompt:
        """The prompt for ``messages`` ending at the start of a ``role`` message (the template's text exactly)."""
        self._calls += 1
        if not self.incremental or not messages:
            return self._dropped(self._whole(messages, role))
        try:
            assembled = self._assemble(messages, role)
        except KeyError:  # a role the probes did not cover
            return self._dropped(self._whole(messages, role))
        if self._calls <= self.check_first or self._calls % self.check_every == 0:
            whole = self._dropped(self._whole(messages, role))
            if whole != assembled:
                self.incremental = False
                self._firsts.clear()
                return whole
        return assembled

    def _dropped(self, prompt: RenderedPrompt) -> RenderedPrompt:
        if self.drop_prefix and prompt.text.startswith(self.drop_prefix):
            return RenderedPrompt(prompt.text[len(self.drop_prefix) :], prompt.prefill)
        return prompt

    def _whole(self, messages: Sequence[Message], role: str) -> RenderedPrompt:
        return self.template.render([{"role": r, "content": c} for r, c in messages], {"role": role, "content": ""})

    def _assemble(self, messages: Sequence[Message], role: str) -> RenderedPrompt:
        first = messages[0]
        text = self._firsts.get(first)
        if text is None:
            if len(self._firsts) >= self.max_firsts:
                self._firsts.clear()
            rendered = self.template.render_messages([{"role": first[0], "content": first[1]}])
            text = self._firsts[first] = rendered.removeprefix(self.drop_prefix)
        pieces, content = self._pieces, self._content
        parts = [text]
        for r, c in messages[1:]:
            opening, closing = pieces[r]
            parts += (opening, content(c), closing)
        start = self._starts[role]
        parts.append(start.text)
        return RenderedPrompt(AssembledText.of_parts(parts), start.prefill)

    def _find_pieces(self) -> bool:
        """Read the pieces off probe renderings and check them on probe conversations."""
        system = ("system", " probe system\n")
        try:
            head = self.template.render_messages([{"role": "system", "content": system[1]}])
            for role in self.roles:
                marked = self.template.render_messages(
                    [{"role": "system", "content": system[1]}, {"role": role, "content": _MARK}]
                )
                if not marked.startswith(head) or marked.count(_MARK) != 1:
                    return False
                opening, closing = marked[len(head) :].split(_MARK)
                self._pieces[role] = (opening, closing)
                start = self.template.render([{"role": "system", "content": system[1]}], {"role": role, "content": ""})
                if not start.text.startswith(head):
                    return False
                self._starts[role] = RenderedPrompt(start.text[len(head) :], start.prefill)
            for content in (_same, _strip):
                self._content = content
                if self._probes_agree(system):
                    return True
            return False
        except SpecTodError:
            return False
        finally:
            self._firsts.clear()

    def _probes_agree(self, system: Message) -> bool:
        for shift in range(len(self.roles)):
            conversation: list[Message] = [system]
            for index in range(2 * len(self.roles) + 3):
                role = self.roles[(index * (shift + 1) + shift) % len(self.roles)]
                content = _PROBE_CONTENTS[index % len(_PROBE_CONTENTS)].replace("probe", f"probe {index}")
                conversation.append((role, content))
            for end in range(1, len(conversation) + 1):
                for role in self.roles:
                    if self._assemble(conversation[:end], role) != self._dropped(self._whole(conversation[:end], role)):
                        return False
        return True
