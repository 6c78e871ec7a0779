"""The exemplar index and the retriever that training, find-k and inference all share.

As in opendu's ``ContextRetriever`` (docs/du.md): skill descriptions are retrieved by dense embedding (a query
instruction in front of the utterance), exemplars by a hybrid of dense and BM25 whose scores are summed over
the union of both top-k lists; top 8 of each, at most 8 exemplars per owner; the candidate skills are the
skills retrieved by description followed by the owners of the retrieved exemplars, each once. Without an
embedding model (the default, and what the tests use) both lists come from BM25 alone.

BM25 is bm25s (Lucene variant, English stop words) over the exemplar *templates* (`` < slot > `` kept, so slot
names do not match words of the query), the dense side embeds the template with the slot names' underscores
turned into spaces. ``exclude`` drops one exemplar id before the top k are taken: a training item never
retrieves itself and still sees k others.

Index folder: ``index.json`` (settings), ``exemplars.jsonl`` and ``skills.json`` (copies, so the folder is
self-contained), ``bm25/`` (bm25s), and with a model ``dense.npy`` (normalised exemplar embeddings).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from spec_tod.du.exemplars import (
    EXEMPLARS_FILE,
    SKILLS_FILE,
    AnnotatedExemplar,
    Skill,
    exemplar_line,
    read_exemplars,
    read_skills,
    skills_json,
)
from spec_tod.errors import SpecTodError
from spec_tod.fileio import write_json
from spec_tod.parsing import loads_json
from spec_tod.tasks.writers import write_lines

TOP_K = 8
ARITY = 8
# BGE's query instruction for passage search (opendu's BaaiEmbeddings prompts for "desc").
QUERY_INSTRUCTION = "Represent this sentence for searching relevant passages: "
INDEX_FILE = "index.json"
BM25_DIR = "bm25"
DENSE_FILE = "dense.npy"
_SLOT = re.compile(r"< (\S+?) >")


@dataclass(frozen=True)
class IndexSettings:
    top_k_skills: int = TOP_K
    top_k_exemplars: int = TOP_K
    arity: int = ARITY
    """Exemplars of one owner at most among those retrieved."""
    embedding_model: str | None = None
    query_instruction: str = QUERY_INSTRUCTION

    @property
    def kind(self) -> str:
        return "hybrid" if self.embedding_model else "bm25"


@dataclass(frozen=True)
class Hit:
    exemplar: AnnotatedExemplar
    score: float


@dataclass(frozen=True)
class Retrieval:
    skills: list[Skill]
    """Candidate skills: by description first, then the retrieved exemplars' owners; each once."""
    exemplars: list[Hit]
    """Most relevant first."""


def dense_text(template: str) -> str:
    """The template as the embedding model sees it: ``< restaurant_name >`` -> ``< restaurant name >``."""
    return _SLOT.sub(lambda m: f"< {m.group(1).replace('_', ' ')} >", template)


def _tokens(texts: Sequence[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(list(texts), stopwords="en", return_ids=False, show_progress=False)


class _Scorer(Protocol):
    def scores(self, query: str) -> np.ndarray: ...


class Bm25Scorer:
    """BM25 scores of every document for one query."""

    def __init__(self, model: Any) -> None:
        self.model = model

    @classmethod
    def build(cls, texts: Sequence[str]) -> Bm25Scorer:
        import bm25s

        model = bm25s.BM25()
        model.index(_tokens(texts), show_progress=False)
        return cls(model)

    @classmethod
    def load(cls, folder: Path) -> Bm25Scorer:
        import bm25s

        return cls(bm25s.BM25.load(str(folder), show_progress=False))

    def save(self, folder: Path) -> None:
        self.model.save(str(folder), show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        (tokens,) = _tokens([query]) or [[]]
        known = [t for t in tokens if t in self.model.vocab_dict]
        if not known:
            return np.zeros(self.model.scores["num_docs"], dtype=np.float32)
        return np.asarray(self.model.get_scores(known), dtype=np.float32)


class DenseScorer:
    """Cosine similarity of normalised sentence-transformers embeddings (a local model folder only)."""

    def __init__(self, encoder: Any, matrix: np.ndarray, query_prefix: str = "") -> None:
        self.encoder = encoder
        self.matrix = matrix
        self.query_prefix = query_prefix

    def scores(self, query: str) -> np.ndarray:
        vector = encode(self.encoder, [self.query_prefix + query])[0]
        return self.matrix @ vector


def load_encoder(model_dir: str) -> Any:
    """A sentence-transformers model from a local folder (the package is needed only here)."""
    if not Path(model_dir).is_dir():
        raise SpecTodError(f"--embedding-model {model_dir}: not a folder; pass a local sentence-transformers model")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise SpecTodError(
            "dense retrieval needs sentence-transformers: pip install sentence-transformers (or leave out "
            "--embedding-model for BM25 alone)"
        ) from None
    return SentenceTransformer(model_dir, device="cpu", local_files_only=True)


def encode(encoder: Any, texts: Sequence[str]) -> np.ndarray:
    return np.asarray(encoder.encode(list(texts), normalize_embeddings=True, show_progress_bar=False), dtype=np.float32)


def _top(scores: np.ndarray, k: int, excluded: int | None) -> list[int]:
    """Positions of the k best positive scores (ties: earlier position first), ``excluded`` left out.

    A score of 0 (BM25: no word in common) is no evidence, so it is not retrieved.
    """
    order = np.argsort(-scores, kind="stable")
    return [int(i) for i in order if i != excluded and scores[i] > 0][:k]


def _merge(lists: Sequence[tuple[list[int], np.ndarray]]) -> list[tuple[int, float]]:
    """opendu's ``merge_nodes``: the union of the lists, each item's scores summed, best first."""
    total: dict[int, float] = {}
    for positions, scores in lists:
        for position in positions:
            total[position] = total.get(position, 0.0) + float(scores[position])
    return sorted(total.items(), key=lambda item: (-item[1], item[0]))


class ExemplarIndex:
    """Exemplars with their BM25 (and optionally dense) index."""

    def __init__(
        self,
        exemplars: list[AnnotatedExemplar],
        skills: dict[str, Skill],
        settings: IndexSettings,
        bm25: Bm25Scorer,
        dense: np.ndarray | None,
    ) -> None:
        self.exemplars = exemplars
        self.skills = skills
        self.settings = settings
        self.bm25 = bm25
        self.dense = dense
        self.position = {exemplar.id: i for i, exemplar in enumerate(exemplars)}

    @classmethod
    def build(
        cls, exemplars: list[AnnotatedExemplar], skills: dict[str, Skill], settings: IndexSettings, encoder: Any = None
    ) -> ExemplarIndex:
        if not exemplars:
            raise SpecTodError("no exemplars to index")
        dense = None
        if settings.embedding_model:
            encoder = encoder or load_encoder(settings.embedding_model)
            dense = encode(encoder, [dense_text(e.template) for e in exemplars])
        return cls(exemplars, skills, settings, Bm25Scorer.build([e.template for e in exemplars]), dense)

    def save(self, folder: Path) -> None:
        """Write the index folder; a previous index there is replaced only once the new one is complete."""
        folder = Path(folder)
        staging = folder.with_name(f".{folder.name}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        write_lines(staging / EXEMPLARS_FILE, (exemplar_line(e) for e in self.exemplars))
        write_json(staging / SKILLS_FILE, skills_json(self.skills))
        self.bm25.save(staging / BM25_DIR)
        if self.dense is not None:
            np.save(staging / DENSE_FILE, self.dense)
        write_json(
            staging / INDEX_FILE,
            {
                **self.settings.__dict__,
                "kind": self.settings.kind,
                "exemplars": len(self.exemplars),
                "skills": len(self.skills),
            },
        )
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)

    @classmethod
    def from_folder(cls, exemplar_folder: Path, settings: IndexSettings, encoder: Any = None) -> ExemplarIndex:
        """Index the exemplars and skills of an exemplar folder (``spec-tod du exemplars``)."""
        return cls.build(read_exemplars(exemplar_folder), read_skills(exemplar_folder), settings, encoder)

    @classmethod
    def load(cls, folder: Path) -> ExemplarIndex:
        folder = Path(folder)
        try:
            raw = loads_json((folder / INDEX_FILE).read_text(encoding="utf-8"))
        except OSError:
            raise SpecTodError(
                f"{folder}: not an index folder (no {INDEX_FILE}); build it with `spec-tod du index`"
            ) from None
        except ValueError as exc:
            raise SpecTodError(f"{folder / INDEX_FILE}: not JSON ({exc})") from None
        fields = IndexSettings.__dataclass_fields__
        settings = IndexSettings(**{k: v for k, v in raw.items() if k in fields})
        dense = np.load(folder / DENSE_FILE) if settings.embedding_model else None
        return cls(read_exemplars(folder), read_skills(folder), settings, Bm25Scorer.load(folder / BM25_DIR), dense)


class Retriever:
    """Candidate skills and exemplars for an utterance, the same at training and inference."""

    def __init__(self, index: ExemplarIndex, skills: dict[str, Skill] | None = None, encoder: Any = None) -> None:
        """``skills``: the skills to offer (default: the index's); at inference those of the evaluated split,
        so that services without exemplars are still found by their description."""
        self.index = index
        self.settings = index.settings
        self.skills = dict(skills if skills is not None else index.skills)
        self._skill_list = list(self.skills.values())
        descriptions = [skill.description for skill in self._skill_list]
        self._skill_scorers: list[_Scorer] = []
        self._exemplar_scorers: list[_Scorer] = [index.bm25]
        if self.settings.embedding_model:
            encoder = encoder or load_encoder(self.settings.embedding_model)
            self._skill_scorers = [DenseScorer(encoder, encode(encoder, descriptions), self.settings.query_instruction)]
            assert index.dense is not None
            self._exemplar_scorers.append(DenseScorer(encoder, index.dense))
        else:
            self._skill_scorers = [Bm25Scorer.build(descriptions)]

    def ranked_exemplars(self, query: str, depth: int, exclude: str | None = None) -> list[Hit]:
        """The ``depth`` best exemplars (each scorer's top ``depth``, merged), without ``exclude``."""
        excluded = self.index.position.get(exclude) if exclude is not None else None
        lists = []
        for scorer in self._exemplar_scorers:
            scores = scorer.scores(query)
            lists.append((_top(scores, depth, excluded), scores))
        return [Hit(self.index.exemplars[i], score) for i, score in _merge(lists)]

    def ranked_skills(self, query: str, depth: int) -> list[Skill]:
        lists = []
        for scorer in self._skill_scorers:
            scores = scorer.scores(query)
            lists.append((_top(scores, depth, None), scores))
        return [self._skill_list[i] for i, _ in _merge(lists)][:depth]

    def __call__(self, query: str, exclude: str | None = None) -> Retrieval:
        settings = self.settings
        hits = self.ranked_exemplars(query, settings.top_k_exemplars, exclude)[: settings.top_k_exemplars]
        per_owner: dict[tuple[str, str], int] = {}
        kept = []
        for hit in hits:
            key = (hit.exemplar.owner_mode, hit.exemplar.owner)
            if per_owner.get(key, 0) < settings.arity:
                per_owner[key] = per_owner.get(key, 0) + 1
                kept.append(hit)
        owners = [s.name for s in self.ranked_skills(query, settings.top_k_skills)] + [h.exemplar.owner for h in kept]
        skills = [self.skills[owner] for owner in dict.fromkeys(owners) if owner in self.skills]
        return Retrieval(skills, kept)


def retriever_for(index: ExemplarIndex, skills: dict[str, Skill]) -> Retriever:
    """The retriever over ``index`` offering the index's skills and those of the items asked about."""
    return Retriever(index, {**index.skills, **skills})
