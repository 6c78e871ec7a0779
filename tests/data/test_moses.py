"""spec-tod's Moses retokenisation gives sacremoses' text (the pinned release the evaluator runs) for
every corpus and published response and for random texts built from what its rules look at."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sacremoses import MosesDetokenizer, MosesTokenizer

from spec_tod.data.moses import retokenize
from spec_tod.resources import MWZ_EVAL, resource
from tests.data.moses_tables import table_text

_TOKENIZER = MosesTokenizer(lang="en")
_DETOKENIZER = MosesDetokenizer(lang="en")


def _sacremoses(text: str) -> str:
    return _DETOKENIZER.detokenize(_TOKENIZER.tokenize(text))


def _differences(texts: list[str]) -> list[tuple[str, str, str]]:
    return [(text, expected, got) for text in texts if (expected := _sacremoses(text)) != (got := retokenize(text))]


def test_the_shipped_tables_are_those_of_the_pinned_sacremoses() -> None:
    assert resource(MWZ_EVAL, "moses_en.json").read_text(encoding="utf-8") == table_text(), (
        "rewrite them: python -m tests.data.moses_tables"
    )


def test_every_corpus_and_published_text(data_dir: Path) -> None:
    texts: list[str] = []
    for split in ("test", "val"):
        with zipfile.ZipFile(data_dir / "multiwoz21" / f"{split}.json.zip") as archive:
            dialogues = json.loads(archive.read(f"{split}.json"))
        texts += [turn["text"] for dialogue in dialogues.values() for turn in dialogue["log"]]
    for system in ("augpt", "mintl", "sfn"):
        predictions = json.loads((data_dir / "mwz_predictions" / f"{system}.json").read_text(encoding="utf-8"))
        texts += [turn["response"] for turns in predictions.values() for turn in turns]
    texts = list(dict.fromkeys(texts + [text.lower() for text in texts]))
    assert len(texts) > 60_000
    assert _differences(texts) == []


# Every character and string some rule of the tokenizer or detokenizer tests for, and neighbours
_PIECES = [
    " ", "  ", "\t", "\n", "\r", "\x00", "\x01", "\x1f", "\x85", "\xa0", "\u2028", "\u3000",
    ".", "..", "...", ",", "'", '"', "`", "``", "''", "-", "--", "@", "@-@", " @-@ ", "/", "_",
    "&", ";", "#", "|", "<", ">", "[", "]", "(", ")", "{", "}", "?", "!", ":", "\\", "%", "*", "+", "=",
    "$", "£", "€", "¢", "¿", "¡", "„", "“", "”", "‘", "’", "«", "»", "©", "°",
    "a", "s", "A", "S", "n", "t", "x", "I", "é", "ß", "Ω", "ж", "ا",
    "1", "0", "5", "²", "½", "٣", "Ⅳ",
    "中", "文", "가", "ア", "\u3400", "\u1100", "\u0915", "\u094d", "\u093c",
    "DOT", "MULTI", "DOTMULTI", "DOTDOTMULTI", "&amp;", "&lt;", "&gt;", "&#124;", "&bar;", "&bra;", "&ket;",
    "&apos;", "&quot;", "&#91;", "&#93;", "amp;",
    "No", "Mr", "e.g", "p.m.", "u.s", "Art", "pp", "Jones", "n't", "'s", "'ll", "'re", "cannot", "gonna",
]  # fmt: skip


def test_random_texts() -> None:
    rng = random.Random(20261204)
    texts = ["".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 24))) for _ in range(20_000)]
    assert _differences(texts) == []


def test_escaping_and_unescaping_give_back_the_text() -> None:
    # why retokenize may leave both out (spec_tod/data/moses.py)
    rng = random.Random(7)
    texts = ["".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 24))) for _ in range(5_000)]
    assert [_DETOKENIZER.unescape_xml(_TOKENIZER.escape_xml(text)) for text in texts] == texts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("i'd like a table,please.", "i'd like a table, please."),
        ("i 'd like a table , please .", "i 'd like a table, please."),  # a clitic's space stays
        ("the jones ' house is 5,300 pounds !", "the jones' house is 5,300 pounds!"),
        ('he said " hi " ( twice ) ...', 'he said "hi" (twice)...'),
        ("£ 20 , or $ 5 ?", "£20, or $5?"),
        ("mr. smith arrives at 5 p.m. Then", "mr. smith arrives at 5 p.m. Then"),
    ],
)
def test_examples(text: str, expected: str) -> None:
    assert retokenize(text) == expected == _sacremoses(text)


def test_sacremoses_is_not_imported() -> None:
    code = "import sys, spec_tod.data.moses; print('sacremoses' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
