"""``spec-tod build-data --task du-*``: dialogue-understanding training records from an SGD split and an index.

The items are the split's exemplars (the rules of :mod:`spec_tod.du.exemplars`); each one's instances
(:mod:`spec_tod.du.instances`) become records of two messages, ``user`` (the prompt) and ``assistant`` (the
answer), in the ShareGPT or messages layout of the other tasks, so ``spec-tod finetune`` takes them as they
are. Outputs: ``<dataset>-<split>-<task>.jsonl`` (or ``.messages.jsonl``) and ``<...>.manifest.json``.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from spec_tod import __version__
from spec_tod.du.exemplars import AnnotatedExemplar, split_exemplars
from spec_tod.du.index import INDEX_FILE, ExemplarIndex, retriever_for
from spec_tod.du.instances import DuTask, item_instances
from spec_tod.du.prompts import WEIGHTS, messages
from spec_tod.errors import SpecTodError
from spec_tod.fileio import atomic_group
from spec_tod.tasks.sampling import sample_fraction
from spec_tod.tasks.writers import Layout, jsonl_line, sha256_file, write_lines


@dataclass(frozen=True)
class DuBuildOptions:
    dataset: str
    data_dir: Path
    split: str
    task: DuTask
    index: Path
    out: Path
    layout: Layout = "sharegpt"
    fraction: float = 1.0
    """Share of the items to keep, drawn by id with ``seed`` (as build-data draws dialogues)."""
    seed: int = 42
    command: tuple[str, ...] = ()


@dataclass(frozen=True)
class DuBuildSummary:
    items: int
    records: int
    by_kind: dict[str, int]
    data_file: Path
    manifest: Path
    seconds: float


def build_du_data(options: DuBuildOptions) -> DuBuildSummary:
    started = time.perf_counter()
    items, folder = split_exemplars(options.dataset, options.data_dir, options.split)
    if not 0 < options.fraction <= 1:
        raise SpecTodError(f"--fraction {options.fraction} is out of range; give a number in (0, 1]")
    # The exemplars have dialogue-style ids, so build-data's own draw applies to them unchanged.
    chosen = sample_fraction(cast(Any, items.exemplars), options.fraction, random.Random(options.seed))
    index = ExemplarIndex.load(options.index)
    retriever = retriever_for(index, items.skills)
    lines: list[str] = []
    by_kind: Counter[str] = Counter()
    for item in cast(list[AnnotatedExemplar], chosen):
        for number, instance in enumerate(item_instances(options.task, item, retriever)):
            lines.append(
                jsonl_line(f"{item.id}#{number}", messages(instance.prompt, instance.answer), WEIGHTS, options.layout)
            )
            by_kind[
                f"{instance.kind}={instance.answer}" if instance.kind in ("knn", "desc", "binary") else instance.kind
            ] += 1
    stem = f"{options.dataset}-{options.split}-{options.task}"
    data_file = options.out / (f"{stem}.jsonl" if options.layout == "sharegpt" else f"{stem}.messages.jsonl")
    manifest_file = options.out / f"{stem}.manifest.json"
    inputs = sorted(folder.glob("dialogues_*.json")) + [folder / "schema.json", Path(options.index) / INDEX_FILE]
    try:
        with atomic_group() as group:  # the records and their manifest appear together or not at all
            digest = write_lines(data_file, lines, group)
            group.write_json(
                manifest_file,
                {
                    "tool": "spec-tod",
                    "version": __version__,
                    "command": list(options.command),
                    "dataset": options.dataset,
                    "split": options.split,
                    "task": options.task,
                    "layout": options.layout,
                    "index": str(Path(options.index).resolve()),
                    "index_settings": index.settings.__dict__,
                    "fraction": options.fraction,
                    "seed": options.seed,
                    "items": len(chosen),
                    "records": len(lines),
                    "by_kind": dict(sorted(by_kind.items())),
                    "inputs": [{"path": str(p.resolve()), "sha256": sha256_file(p)} for p in inputs],
                    "outputs": [{"path": str(data_file.resolve()), "sha256": digest}],
                },
            )
    except OSError as exc:
        raise SpecTodError(f"{options.out}: cannot write the outputs ({exc}); pass a writable --out folder") from None
    return DuBuildSummary(
        len(chosen), len(lines), dict(by_kind), data_file, manifest_file, time.perf_counter() - started
    )
