"""Prompt strings for the server: the chat template, the role mapping, one BOS, and the context limit.

A prompt (messages plus the role the model writes next, :mod:`spec_tod.bench.prompts`) is rendered
(message by message where that gives exactly the same text: :mod:`spec_tod.chat.incremental`)
with the served model's chat template after the role mapping training used
(:func:`spec_tod.chat.roles.role_map`) and ends with the start of the message to write: the
template's rendering of that message with empty content, cut before its end-of-message text. For
Llama 3 that is ``...<|start_header_id|>function<|end_header_id|>\\n\\n``, exactly where the
training text continues with the call.

**One BOS.** Templates write the BOS token at the start; OpenAI-style servers (vLLM, TGI,
``transformers serve``) tokenize the prompt with special tokens, and tokenizers such as Llama 3's
then add a second one. Training tokenizes the rendered text without adding any (axolotl, via
``apply_chat_template``), so the model saw one. When the model's tokenizer adds a BOS itself, the
rendered BOS is removed from the prompt text, so the server sees exactly one.

**Context.** A prompt whose tokens plus the new tokens it may generate exceed the server's limit is
never sent (:class:`~spec_tod.bench.loops.PromptTooLong`, with the numbers). Prompts are counted
with the model's tokenizer only when their UTF-8 length could exceed the limit (a token is at
least one byte), so short prompts cost nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spec_tod.bench.loops import PromptTooLong
from spec_tod.bench.prompts import Prompt
from spec_tod.chat.incremental import IncrementalRenderer
from spec_tod.chat.roles import role_map
from spec_tod.chat.template import ChatTemplate
from spec_tod.tasks.length import load_tokenizer

Encode = Callable[[str, bool], list[int]]
"""``(text, add_special_tokens) -> token ids``."""


def tokenizer_encoder(model_dir: Path) -> Encode:
    """The model folder's tokenizer as an :data:`Encode` function."""
    tokenizer = load_tokenizer(model_dir)

    def encode(text: str, add_special_tokens: bool) -> list[int]:
        if hasattr(tokenizer, "encode_batch"):  # tokenizers.Tokenizer
            return list(tokenizer.encode(text, add_special_tokens=add_special_tokens).ids)
        return list(tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"])

    return encode


def adds_bos(encode: Encode | None, template: ChatTemplate) -> bool:
    """Whether the server's tokenizer adds the template's BOS on its own. Without a tokenizer
    (a named template), as Llama 3's does."""
    bos = template.bos_token
    if not bos:
        return False
    if encode is None:
        return True
    bos_ids = encode(bos, False)
    return encode("a", True)[: len(bos_ids)] == bos_ids and encode("a", False)[: len(bos_ids)] != bos_ids


def model_context(model_dir: Path | None) -> int | None:
    """``max_position_embeddings`` of the model folder's ``config.json``, if any."""
    if model_dir is None:
        return None
    try:
        config = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = config.get("max_position_embeddings") if isinstance(config, dict) else None
    return value if isinstance(value, int) and value > 0 else None


def server_context(info: dict[str, Any] | None) -> int | None:
    """The context limit a server announces (TGI's ``/info``: ``max_total_tokens``)."""
    value = (info or {}).get("max_total_tokens")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


@dataclass
class PromptRenderer:
    """Renders prompts for one server (see the module docstring)."""

    template: ChatTemplate
    encode: Encode | None = None
    limit: int | None = None
    """The server's context in tokens (prompt + new tokens); ``None``: not checked."""

    def __post_init__(self) -> None:
        self.roles = role_map(self.template)
        self.strip_bos = adds_bos(self.encode, self.template)
        dropped = (self.template.bos_token or "") if self.strip_bos else ""
        self._renderer = IncrementalRenderer(self.template, list(dict.fromkeys(self.roles.values())), dropped)

    def __call__(self, prompt: Prompt, new_tokens: int) -> str:
        messages, role = prompt
        roles = self.roles
        text = self._renderer.render([(roles[r], content) for r, content in messages], roles[role]).text
        self._check_fits(text, new_tokens)
        return text

    def _check_fits(self, text: str, new_tokens: int) -> None:
        if self.limit is None or len(text.encode("utf-8")) + new_tokens + 1 <= self.limit:
            return
        if self.encode is None:
            return  # no tokenizer to count with: the server decides
        tokens = len(self.encode(text, self.strip_bos))
        if tokens + new_tokens > self.limit:
            raise PromptTooLong(
                f"prompt too long: {tokens} tokens + {new_tokens} new tokens exceed the server's context of "
                f"{self.limit} tokens; not sent (raise the server's limit or lower the new tokens)"
            )
