"""Record length in tokens, for the ``--max-tokens`` filter.

A record is counted as the Llama-3 chat layout renders it: the tokens of every message's content,
plus ``MESSAGE_OVERHEAD`` per message (``<|start_header_id|>``, the role, ``<|end_header_id|>``,
``"\\n\\n"``, ``<|eot_id|>``) and ``RECORD_OVERHEAD`` (``<|begin_of_text|>``). This mirrors what
axolotl and the server see without depending on one model's chat template, which may reject the
``function`` and ``observation`` roles.

Content tokens come from the target model's tokenizer when its folder is given (``--tokenizer``):
its ``tokenizer.json`` read with the ``tokenizers`` library (the same ids a fast
``transformers`` tokenizer gives, without importing torch), else ``transformers.AutoTokenizer``
from local files only. Without a tokenizer they are estimated
as the number of words and punctuation marks (regex ``\\w+|[^\\w\\s]``): BPE tokenizers such as
Llama-3's split rare words and long numbers further, so the estimate runs somewhat low on ordinary
English and JSON; pass the tokenizer where the limit matters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from spec_tod.errors import SpecTodError

MESSAGE_OVERHEAD = 5
RECORD_OVERHEAD = 1
_WORDS = re.compile(r"\w+|[^\w\s]")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "vocab.txt")

Messages = Sequence[tuple[str, str]]
"""``(role, content)`` pairs of one record."""


class TokenCounter:
    """Counts record lengths with a tokenizer from a local folder, or estimates them without one."""

    def __init__(self, tokenizer_dir: Path | None = None) -> None:
        self.tokenizer_dir = tokenizer_dir
        self._tokenizer = load_tokenizer(tokenizer_dir) if tokenizer_dir is not None else None

    @property
    def method(self) -> str:
        """How lengths are counted, for the manifest."""
        if self.tokenizer_dir is None:
            return "estimate: words and punctuation marks"
        return f"tokenizer: {self.tokenizer_dir}"

    def count(self, records: Sequence[Messages]) -> list[int]:
        """The length of each record in tokens."""
        lengths = self.count_texts([content for messages in records for _, content in messages])
        totals: list[int] = []
        position = 0
        for messages in records:
            end = position + len(messages)
            totals.append(sum(lengths[position:end]) + MESSAGE_OVERHEAD * len(messages) + RECORD_OVERHEAD)
            position = end
        return totals


    def count_texts(self, texts: Sequence[str]) -> list[int]:
        """The tokens of each text alone (no special tokens, no message overhead)."""
        if not texts:
            return []
        if self._tokenizer is None:
            return [len(_WORDS.findall(text)) for text in texts]
        from tokenizers import Tokenizer  # here: bench and build-data import this module without counting tokens

        if isinstance(self._tokenizer, Tokenizer):
            return [len(encoding.ids) for encoding in self._tokenizer.encode_batch(list(texts), add_special_tokens=False)]
        return [len(ids) for ids in self._tokenizer(list(texts), add_special_tokens=False)["input_ids"]]


def load_tokenizer(path: Path):
    if not path.is_dir():
        raise SpecTodError(f"{path}: tokenizer folder not found; pass the folder of a local model (--tokenizer)")
    if (path / "tokenizer.json").is_file():
        from tokenizers import Tokenizer

        try:
            return Tokenizer.from_file(str(path / "tokenizer.json"))
        except Exception as exc:  # the Rust library raises plain Exceptions for bad files
            raise SpecTodError(f"{path / 'tokenizer.json'}: not a readable tokenizer file ({exc})") from None
    if not any((path / name).is_file() for name in _TOKENIZER_FILES):
        raise SpecTodError(f"{path}: no usable tokenizer in this folder; expected one of {', '.join(_TOKENIZER_FILES)}")
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise SpecTodError(
            f"{path}: no usable tokenizer in this folder ({exc}); expected tokenizer.json or the files of a "
            "Hugging Face tokenizer"
        ) from None
