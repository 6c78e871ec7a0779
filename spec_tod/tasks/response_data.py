"""``spec-tod build-data --task response``: the response-LM records of one MultiWOZ split, with a manifest.

The text comes from :mod:`spec_tod.tasks.response`; the choice of dialogues (``--fraction``,
``--seed``), the file writing and the manifest are those of the other tasks
(:mod:`spec_tod.tasks.build`, :mod:`spec_tod.tasks.writers`). Outputs in ``out``:
``<dataset>-<split>-response-<turns|dialogues>.jsonl`` (axolotl ``input_output`` rows) and its
``.manifest.json``.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tokenizers import Tokenizer

from spec_tod import __version__
from spec_tod.data.readers import DATASETS, SPLITS, LoadResult, find_schema, load_dialogues
from spec_tod.errors import SpecTodError
from spec_tod.fileio import atomic_group
from spec_tod.tasks.build import BuildSummary, output_stem
from spec_tod.tasks.length import TokenCounter, load_tokenizer
from spec_tod.tasks.response import (
    RESPONSE_FORMATS,
    ContextBudget,
    ResponseFormat,
    ResponseRecord,
    dialogue_record,
    record_line,
    turn_records,
)
from spec_tod.tasks.sampling import sample_fraction
from spec_tod.tasks.writers import Counts, FileEntry, Manifest, sha256_file, write_lines, write_manifest

RESPONSE_LAYOUT: Literal["input_output"] = "input_output"


@dataclass(frozen=True)
class ResponseBuildOptions:
    dataset: str
    data_dir: Path
    split: str
    out: Path
    response_format: ResponseFormat = "turns"
    max_context_tokens: int | None = None
    """Per-turn prompts longer than this drop their oldest exchanges (the current user turn stays)."""
    fraction: float = 1.0
    seed: int = 42
    schema_path: Path | None = None
    db_dir: Path | None = None
    skip_invalid: bool = False
    max_tokens: int | None = None
    """Drop records longer than this (prompt and target together)."""
    tokenizer: Path | None = None
    """Counts tokens, and decides the BOS the records start with (:func:`added_bos`)."""
    command: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResponseBuildSummary:
    summary: BuildSummary
    truncated: int
    """Per-turn records whose history was truncated."""


def added_bos(tokenizer_dir: Path) -> str:
    """The text of the tokens a tokenizer puts before a text when it adds special tokens (its BOS), else ``""``."""
    tokenizer = load_tokenizer(tokenizer_dir)
    if isinstance(tokenizer, Tokenizer):
        plain, special = tokenizer.encode("a", add_special_tokens=False).ids, tokenizer.encode("a").ids
    else:
        plain = tokenizer("a", add_special_tokens=False)["input_ids"]
        special = tokenizer("a", add_special_tokens=True)["input_ids"]
    extra = len(special) - len(plain)
    if extra <= 0 or special[extra:] != plain:
        return ""
    return tokenizer.decode(special[:extra], skip_special_tokens=False)


def response_stem(dataset: str, split: str, response_format: str) -> str:
    """``multiwoz21-test-response-turns``."""
    return output_stem(dataset, split, f"response-{response_format}")


def _check(options: ResponseBuildOptions) -> None:
    if options.dataset not in DATASETS or options.dataset == "sgd":
        raise SpecTodError(
            "--task response needs delexicalised responses: --dataset multiwoz21 or multiwoz22, "
            f"not {options.dataset!r}"
        )
    if options.split not in SPLITS:
        raise SpecTodError(f"unknown split {options.split!r}; expected one of {', '.join(SPLITS)}")
    if options.response_format not in RESPONSE_FORMATS:
        raise SpecTodError(
            f"--response-format {options.response_format!r}: expected one of {', '.join(RESPONSE_FORMATS)}"
        )
    if options.max_context_tokens is not None and options.response_format != "turns":
        raise SpecTodError("--max-context-tokens truncates per-turn prompts: use it with --response-format turns")
    if not 0 < options.fraction <= 1:
        raise SpecTodError(f"--fraction {options.fraction} is out of range; give a number in (0, 1]")
    if not Path(options.data_dir).is_dir():
        raise SpecTodError(
            f"data folder {options.data_dir} does not exist; pass the folder holding the corpus (--data-dir)"
        )


def build_response_data(options: ResponseBuildOptions, *, loaded: LoadResult | None = None) -> ResponseBuildSummary:
    """Build the records, then write them and the manifest (nothing is written when anything fails).

    ``loaded`` reuses dialogues already read with the same dataset, folder and split.
    """
    started = time.perf_counter()
    _check(options)
    counter = (
        TokenCounter(options.tokenizer)
        if options.tokenizer or options.max_tokens or options.max_context_tokens
        else None
    )
    loaded = loaded or load_dialogues(
        options.dataset,
        options.data_dir,
        options.split,
        schema_path=options.schema_path,
        db_dir=options.db_dir,
        skip_invalid=options.skip_invalid,
    )
    chosen = sample_fraction(loaded.dialogues, options.fraction, random.Random(options.seed))
    budget = ContextBudget(options.max_context_tokens, counter.count_texts if counter else None)
    bos = added_bos(options.tokenizer) if options.tokenizer is not None else ""
    records: list[ResponseRecord] = []
    for dialogue in chosen:
        if options.response_format == "turns":
            records += turn_records(dialogue, budget, bos)
        else:
            records.append(dialogue_record(dialogue, bos))
    dropped = 0
    if options.max_tokens is not None and counter is not None:
        lengths = counter.count_texts(["".join(text for _, text in record.segments) for record in records])
        kept = [record for record, length in zip(records, lengths, strict=True) if length <= options.max_tokens]
        dropped = len(records) - len(kept)
        records = kept

    stem = response_stem(options.dataset, options.split, options.response_format)
    data_file = options.out / f"{stem}.jsonl"
    counts = Counts(
        dialogues_read=len(loaded.dialogues) + len(loaded.skipped),
        dialogues_skipped=len(loaded.skipped),
        dialogues_kept=len(chosen),
        records_written=len(records),
        dropped_by_length=dropped,
        turns=sum(len(dialogue.turns) for dialogue in chosen),
        function_calls=0,
    )
    schema_file = find_schema(options.dataset, options.data_dir, options.schema_path, split=options.split)
    inputs = dict.fromkeys(Path(p).resolve() for p in [*loaded.files, schema_file])
    manifest = Manifest(
        version=__version__,
        command=list(options.command),
        dataset=options.dataset,
        split=options.split,
        task=f"response-{options.response_format}",
        layout=RESPONSE_LAYOUT,
        fraction=options.fraction,
        seed=options.seed,
        max_per_domain=None,
        max_tokens=options.max_tokens,
        length_method=counter.method if counter else "not counted",
        inputs=[FileEntry(path=str(path), sha256=sha256_file(path)) for path in inputs],
        counts=counts,
        skipped=list(loaded.skipped),
        outputs=[],
    )
    manifest_file = options.out / f"{stem}.manifest.json"
    try:
        with atomic_group() as group:  # the records and their manifest appear together or not at all
            digest = write_lines(data_file, (record_line(record) for record in records), group)
            manifest.outputs.append(FileEntry(path=str(data_file.resolve()), sha256=digest))
            write_manifest(manifest_file, manifest, group)
    except OSError as exc:
        raise SpecTodError(f"{options.out}: cannot write the outputs ({exc}); pass a writable --out folder") from None
    summary = BuildSummary(
        counts=counts,
        data_file=data_file,
        manifest=manifest_file,
        hf_dataset=None,
        seconds=time.perf_counter() - started,
    )
    return ResponseBuildSummary(summary, sum(record.truncated for record in records))
