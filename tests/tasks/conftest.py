"""Session fixtures of the task tests: splits read once, the MultiWOZ schema, a tiny local tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest

from spec_tod.data.readers import LoadResult, load_dialogues
from spec_tod.data.schema import Service, load_schema


@pytest.fixture(scope="session")
def mwz21_test_split(data_dir: Path) -> LoadResult:
    return load_dialogues("multiwoz21", data_dir, "test")


@pytest.fixture(scope="session")
def mwz_schema(data_dir: Path) -> dict[str, Service]:
    return load_schema(data_dir / "multiwoz22" / "schema.json")


@pytest.fixture(scope="session")
def sgd_schema(data_dir: Path) -> dict[str, Service]:
    return load_schema(data_dir / "sgd" / "dev" / "schema.json")


@pytest.fixture(scope="session")
def dialogue_by_id(mwz21_test_split: LoadResult):
    index = {dialogue.id: dialogue for dialogue in mwz21_test_split.dialogues}
    return index.__getitem__


@pytest.fixture(scope="session")
def word_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder with a real ``tokenizer.json`` (one token per whitespace-separated word)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["hello", "world", "a", "b", "c"]
    vocab = {"[UNK]": 0, **{word: index + 1 for index, word in enumerate(words)}}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    folder = tmp_path_factory.mktemp("word-tokenizer")
    tokenizer.save(str(folder / "tokenizer.json"))
    return folder


@pytest.fixture(scope="session")
def mwz_db(data_dir: Path):
    """The MultiWOZ venue database."""
    from spec_tod.data.readers import find_db_dir, load_database

    return load_database(find_db_dir(data_dir))
