"""The seed corpus and its retrievers: BM25 (bm25s), or dense embeddings from a local model folder.

A seed corpus is a JSONL file (one object per line) or a JSON array (such as MultiWOZ's
``restaurant_db.json``); the graph's ``corpus`` section names the id field and the fields indexed.
SynTOD retrieved with sentence-transformers embeddings over titles and faiss
(``src/data-generation/Recipe/retriever.py``); spec-tod uses BM25 by default, so no model is
needed, and the same embeddings when ``--embedding-model`` names a local sentence-transformers folder.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from spec_tod.errors import SpecTodError
from spec_tod.parsing import loads_json
from spec_tod.synth.graph import CorpusSpec


@dataclass(frozen=True)
class Corpus:
    items: list[dict[str, Any]]
    ids: list[str]
    texts: list[str]
    source: str
    sha256: str


def load_corpus(path: str | Path, spec: CorpusSpec) -> Corpus:
    """Read the seed items; every item needs the id field and at least one indexed field."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SpecTodError(f"{path}: cannot read the seed corpus ({error.strerror})") from None
    items: list[Any]
    if data.lstrip()[:1] == b"[":
        try:
            items = loads_json(data)
        except json.JSONDecodeError as error:
            raise SpecTodError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from None
    else:
        items = []
        for number, line in enumerate(data.decode("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append(loads_json(line))
            except json.JSONDecodeError as error:
                raise SpecTodError(f"{path}: line {number} is not JSON ({error.msg})") from None
    ids, texts = [], []
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict) or spec.id not in item:
            raise SpecTodError(f"{path}: item {number} is not an object with an {spec.id!r} field")
        text = " ".join(_text(item.get(name)) for name in spec.text).strip()
        if not text:
            raise SpecTodError(f"{path}: item {item[spec.id]!r} has none of the indexed fields {spec.text}")
        ids.append(str(item[spec.id]))
        texts.append(text)
    if len(set(ids)) != len(ids):
        raise SpecTodError(f"{path}: the {spec.id!r} values are not unique")
    if not items:
        raise SpecTodError(f"{path}: the seed corpus is empty")
    return Corpus(items, ids, texts, str(path), hashlib.sha256(data).hexdigest())


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(_text(v) for v in value)
    return str(value)


class Retriever(Protocol):
    def search(self, query: str, k: int) -> list[int]:
        """Indices of the ``k`` best items for ``query``, best first."""
        ...


class BM25Retriever:
    """Okapi BM25 over the indexed fields (bm25s, English stopwords)."""

    def __init__(self, texts: Sequence[str]) -> None:
        import bm25s

        self._bm25s = bm25s
        self._size = len(texts)
        self._index = bm25s.BM25()
        self._index.index(bm25s.tokenize(list(texts), stopwords="en", show_progress=False), show_progress=False)

    def search(self, query: str, k: int) -> list[int]:
        k = min(k, self._size)
        tokens = self._bm25s.tokenize([query], stopwords="en", show_progress=False)
        if not tokens.ids[0]:  # only stopwords: no ranking, keep the corpus order
            return list(range(k))
        indices, _ = self._index.retrieve(tokens, k=k, show_progress=False)
        return [int(i) for i in indices[0]]


class DenseRetriever:
    """Cosine similarity of sentence-transformers embeddings from a local model folder."""

    def __init__(self, texts: Sequence[str], model_dir: Path) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise SpecTodError(
                "--embedding-model needs sentence-transformers: pip install sentence-transformers"
            ) from None
        if not Path(model_dir).is_dir():
            raise SpecTodError(f"{model_dir}: not a model folder (a local sentence-transformers model is expected)")
        self._model = SentenceTransformer(str(model_dir), device="cpu")
        self._vectors = self._model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)

    def search(self, query: str, k: int) -> list[int]:
        vector = self._model.encode([query], normalize_embeddings=True, convert_to_numpy=True)[0]
        scores = self._vectors @ vector
        order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
        return order[:k]


def make_retriever(corpus: Corpus, embedding_model: Path | None = None) -> Retriever:
    return DenseRetriever(corpus.texts, embedding_model) if embedding_model else BM25Retriever(corpus.texts)
