"""Token counts for the length filter: the estimate and a real local tokenizer."""

from __future__ import annotations

import pytest

from spec_tod.errors import SpecTodError
from spec_tod.tasks.length import MESSAGE_OVERHEAD, RECORD_OVERHEAD, TokenCounter


def test_estimate_counts_words_and_punctuation():
    counter = TokenCounter()
    records = [[("user", "hello world ."), ("assistant", '{"a": 1}')], [("user", "")]]
    # "hello", "world", "." and {, ", a, ", :, 1, }
    assert counter.count(records) == [3 + 7 + 2 * MESSAGE_OVERHEAD + RECORD_OVERHEAD, MESSAGE_OVERHEAD + RECORD_OVERHEAD]
    assert counter.method.startswith("estimate")


def test_tokenizer_counts_its_own_tokens(word_tokenizer_dir):
    counter = TokenCounter(word_tokenizer_dir)
    records = [[("user", "hello world"), ("assistant", "a b c unknown")]]
    assert counter.count(records) == [2 + 4 + 2 * MESSAGE_OVERHEAD + RECORD_OVERHEAD]
    assert str(word_tokenizer_dir) in counter.method


def test_missing_tokenizer_folder_is_a_user_error(tmp_path):
    with pytest.raises(SpecTodError, match="tokenizer folder not found"):
        TokenCounter(tmp_path / "absent")
    with pytest.raises(SpecTodError, match="no usable tokenizer"):
        TokenCounter(tmp_path)
