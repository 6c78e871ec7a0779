"""A split's references as the cache knows them, and their BLEU statistics read without reading them.

``spec-tod score``'s worker reads the BLEU statistics (:class:`~spec_tod.score.bleu.ReferenceIndex`) of
the split while the command reads its inputs. It imports only this module, the cache and the BLEU
code, and does not unpickle the references: the statistics are kept under the digest of the
references' cache entry (docs/speed.md has the figures).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spec_tod.cache import cached, lookup, payload_digest
from spec_tod.score.bleu import ReferenceIndex

REFERENCES = "references"
"""The cache's kind for a split's references (:func:`spec_tod.score.references.split_references`)."""
_KIND = "split-reference-ngrams"


def split_identity(
    dataset: str,
    data_dir: Path,
    split: str,
    *,
    db_dir: Path | None = None,
    booked_domains_file: Path | None = None,
    goals_data_dir: Path | None = None,
) -> dict[str, Any]:
    """What identifies a split's references in the cache: the arguments of ``split_references``."""
    return {
        "dataset": dataset, "data_dir": Path(data_dir).resolve(), "split": split, "db_dir": db_dir,
        "booked": booked_domains_file and Path(booked_domains_file).resolve(),
        "goals": goals_data_dir and Path(goals_data_dir).resolve(),
    }


def cached_split_index(identity: dict[str, Any]) -> ReferenceIndex | None:
    """The BLEU statistics of every reference response of the split's references (:func:`split_identity`)
    when those references are in the cache; ``None`` when they are not, rather than building them (for
    a worker started before the command has read them: ``spec_tod.score.bleu_worker``).

    Kept with the digest of the references' entry's value, so valid exactly as long as that entry (and
    an entry of older references is pruned as superseded); counted from the references once."""
    digest = payload_digest(REFERENCES, identity)
    if digest is None:
        return None
    found: ReferenceIndex | None = lookup(_KIND, identity, derived_from=digest)
    if found is not None:
        return found
    references = lookup(REFERENCES, identity)
    if references is None:  # removed or changed since its digest was read
        return None
    texts = [response for reference in references.values() for response in reference.responses]
    return cached(_KIND, identity, lambda: (ReferenceIndex.of(texts), []), derived_from=digest)
