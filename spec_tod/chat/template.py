"""Render prompts with a served model's chat template, so any engine's raw-prompt API can take prefills.

The client sends raw prompts, so it renders them itself, the way ``transformers``'
``apply_chat_template`` does: a jinja2 ``ImmutableSandboxedEnvironment`` with ``trim_blocks`` and
``lstrip_blocks``, the ``loopcontrols`` extension, a ``tojson`` filter that does not escape HTML,
and the ``raise_exception`` and ``strftime_now`` helpers; the tokenizer's special tokens
(``bos_token``, ``eos_token``, ...) are template variables. (Facts from transformers 5.16.1,
``utils/chat_template_utils.py``.)

A **prefill** is a final message the model continues rather than answers, e.g. a ``function``
message holding ``<function_call>{"function": "`` or an ``assistant`` one holding ``Action:``. It is
rendered as a complete message and then exactly the text the template puts after a message's
content (``<|eot_id|>`` for Llama 3: found by rendering a sentinel content, not hard-coded) is
cut off, so the prompt ends inside that message. Templates that trim contents (Llama 3's does)
trim the prefill too; :attr:`RenderedPrompt.prefill` says what the prompt really ends with.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from spec_tod.errors import SpecTodError
from spec_tod.models.chat_template import LLAMA3_CHAT_TEMPLATE
from spec_tod.parsing import loads_json

Message = Mapping[str, Any]

_SENTINEL = "\x00spec-tod-content\x00"
_SPECIAL_TOKEN_KEYS = ("bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token")

NAMED_TEMPLATES: dict[str, tuple[str, dict[str, str]]] = {
    "llama3": (LLAMA3_CHAT_TEMPLATE, {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}),
}
"""Templates that can be named instead of read from a model folder, with their special tokens."""


@dataclass(frozen=True)
class RenderedPrompt:
    """A prompt ready to send, and the prefill it ends with (``""`` when there is none)."""

    text: str
    prefill: str


class _GenerationTag(jinja2.ext.Extension):
    """``{% generation %}...{% endgeneration %}``: marks assistant tokens for training; renders its body."""

    tags = {"generation"}

    def parse(self, parser: jinja2.parser.Parser) -> jinja2.nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller: Any) -> str:
        return caller()


def _raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def _tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None, separators: Any = None,
            sort_keys: bool = False) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


class ChatTemplate:
    """A compiled chat template and the special tokens it renders with."""

    def __init__(self, source: str, special_tokens: Mapping[str, str], *, origin: str = "chat template") -> None:
        self.source = source
        self.special_tokens = dict(special_tokens)
        self.origin = origin
        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=[_GenerationTag, jinja2.ext.loopcontrols]
        )
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise_exception
        env.globals["strftime_now"] = _strftime_now
        try:
            self._template = env.from_string(source)
        except jinja2.TemplateError as exc:
            raise SpecTodError(f"{origin}: the chat template does not compile ({exc}); fix or name a template") from None

    @property
    def bos_token(self) -> str | None:
        """The beginning-of-sequence token, if the tokenizer has one."""
        return self.special_tokens.get("bos_token")

    @property
    def eos_token(self) -> str | None:
        """The end-of-sequence token, if the tokenizer has one."""
        return self.special_tokens.get("eos_token")

    def render_messages(self, messages: Sequence[Message], *, add_generation_prompt: bool = False) -> str:
        """The template applied to whole ``messages`` (``apply_chat_template(..., tokenize=False)``)."""
        try:
            return self._template.render(
                messages=list(messages),
                add_generation_prompt=add_generation_prompt,
                tools=None,
                documents=None,
                **self.special_tokens,
            )
        except jinja2.TemplateError as exc:
            roles = [m.get("role") for m in messages]
            raise SpecTodError(
                f"{self.origin}: rendering messages with roles {roles} failed: {exc}. "
                "The template must accept every role spec-tod uses (system, user, assistant, function, observation)."
            ) from None

    def render(self, messages: Sequence[Message], prefill: Message | None = None) -> RenderedPrompt:
        """The prompt for ``messages`` and an optional final ``prefill`` message the model continues.

        Without a prefill the template's generation prompt is added (the model starts a new
        assistant message). With one, the prompt ends inside the prefill message: exactly the
        template's end-of-message text is removed after it.
        """
        if prefill is None:
            return RenderedPrompt(self.render_messages(messages, add_generation_prompt=True), "")
        role, content = prefill["role"], str(prefill["content"])
        text = self.render_messages([*messages, {"role": role, "content": content}])
        head, suffix = self._around_content([*messages, {"role": role, "content": _SENTINEL}])
        if not (text.startswith(head) and text.endswith(suffix) and len(text) >= len(head) + len(suffix)):
            raise SpecTodError(
                f"{self.origin}: cannot end a prompt inside a {role!r} message: the template does not close "
                "messages with a fixed text after their content"
            )
        rendered_prefill = text[len(head) : len(text) - len(suffix)]
        if content.strip() not in rendered_prefill:
            raise SpecTodError(f"{self.origin}: the template changes the prefill {content!r} into {rendered_prefill!r}")
        return RenderedPrompt(text[: len(text) - len(suffix)], rendered_prefill)

    def end_of_message(self, role: str) -> str:
        """The text the template writes after a ``role`` message's content (``<|eot_id|>`` for Llama 3)."""
        return self._around_content([{"role": "user", "content": "hi"}, {"role": role, "content": _SENTINEL}])[1]

    def _around_content(self, messages: Sequence[Message]) -> tuple[str, str]:
        """The rendered text before and after the last message's sentinel content."""
        probe = self.render_messages(messages)
        if _SENTINEL not in probe:
            raise SpecTodError(f"{self.origin}: a message's content does not appear in the rendered prompt")
        cut = probe.rindex(_SENTINEL)
        return probe[:cut], probe[cut + len(_SENTINEL) :]

    @cached_property
    def stop_strings(self) -> tuple[str, ...]:
        """Stop strings to send: the end of an assistant message (``<|eot_id|>``) and the eos token."""
        candidates = [self.end_of_message("assistant").strip(), self.eos_token or ""]
        return tuple(dict.fromkeys(s for s in candidates if s))


def load_chat_template(source: str | Path) -> ChatTemplate:
    """A model folder's chat template, or a named one (``"llama3"``).

    A folder's template comes from ``chat_template.jinja``, else ``tokenizer_config.json``'s
    ``chat_template`` (the ``default`` one when it holds several); its special tokens from
    ``tokenizer_config.json``, else ``special_tokens_map.json``.
    """
    if str(source) in NAMED_TEMPLATES:
        text, tokens = NAMED_TEMPLATES[str(source)]
        return ChatTemplate(text, tokens, origin=f"chat template {source!r}")
    folder = Path(source)
    if not folder.is_dir():
        raise SpecTodError(
            f"chat template {str(source)!r}: not a model folder nor a named template; "
            f"pass a folder with tokenizer files or one of {sorted(NAMED_TEMPLATES)}"
        )
    config = _read_json(folder / "tokenizer_config.json")
    template_file = folder / "chat_template.jinja"
    if template_file.is_file():
        text = template_file.read_text(encoding="utf-8")
        origin = str(template_file)
    else:
        text = _template_from_config(config.get("chat_template"), folder)
        origin = str(folder / "tokenizer_config.json")
    tokens_map = _read_json(folder / "special_tokens_map.json")
    tokens = {}
    for key in _SPECIAL_TOKEN_KEYS:
        value = _token_text(config.get(key)) or _token_text(tokens_map.get(key))
        if value:
            tokens[key] = value
    return ChatTemplate(text, tokens, origin=origin)


def _template_from_config(value: Any, folder: Path) -> str:
    if isinstance(value, list):  # several named templates: [{"name": ..., "template": ...}]
        named = {t.get("name"): t.get("template") for t in value if isinstance(t, dict)}
        value = named.get("default")
    if not isinstance(value, str) or not value:
        raise SpecTodError(
            f"{folder}: no chat template (neither chat_template.jinja nor a 'chat_template' string in "
            "tokenizer_config.json); name one instead, e.g. 'llama3'"
        )
    return value


def _token_text(value: Any) -> str | None:
    if isinstance(value, dict):  # a serialised AddedToken
        value = value.get("content")
    return value if isinstance(value, str) and value else None


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = loads_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SpecTodError(f"{path}: not readable JSON ({exc}); restore the tokenizer files") from None
    if not isinstance(data, dict):
        raise SpecTodError(f"{path}: expected a JSON object")
    return data
