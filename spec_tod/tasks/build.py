"""Building one instruction data set: read a split, choose dialogues, write records and a manifest.

``build_data`` is what ``spec-tod build-data`` runs. Randomness comes from one
``random.Random(seed)`` used in a fixed order (the fraction, then the per-domain cap) and, for the
instruction paraphrases, from each dialogue's own ``random.Random(f"{seed}:{dialogue id}")`` (the
generator inference draws from, :mod:`spec_tod.tasks.layout`), and every output is a pure function of the
inputs and options, so the same command writes byte-identical files (the manifest's provenance
holds the date: fix it with ``$SOURCE_DATE_EPOCH`` for identical manifests too). Everything is
validated and built
in memory before the first file is written; each file is written to a temporary file and
renamed, so a failed build leaves no partial output.

Outputs in ``out``: ``<dataset>-<split>-<task>.jsonl`` (ShareGPT) or ``....messages.jsonl``
(messages layout), ``<dataset>-<split>-<task>.manifest.json`` (one manifest per data file, so that
several corpora, FnCTOD-style, can be built into one folder), and with ``hf_dataset`` a
``<dataset>-<split>-<task>.hf/`` folder for ``datasets.load_from_disk``.
"""

from __future__ import annotations

import dataclasses
import os
import random
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from spec_tod import __version__
from spec_tod.data.background import Forked, Gate, can_fork
from spec_tod.data.dialogue import Dialogue
from spec_tod.data.gc_pause import gc_paused
from spec_tod.data.readers import DATASETS, SPLITS, LoadResult, find_db_dir, find_schema, load_database, load_dialogues
from spec_tod.data.schema import Service, load_schema
from spec_tod.errors import SpecTodError
from spec_tod.fileio import atomic_group
from spec_tod.provenance import provenance
from spec_tod.tasks.functions import is_multiwoz_domain, multiwoz_rules
from spec_tod.tasks.length import TokenCounter
from spec_tod.tasks.records import TASKS, GoldCache, Record, Task, build_record, dialogue_domains
from spec_tod.tasks.sampling import cap_per_domain, sample_fraction
from spec_tod.tasks.writers import (
    Counts,
    FileEntry,
    Layout,
    Manifest,
    jsonl_line,
    save_hf_dataset,
    sha256_file,
    write_lines,
    write_manifest,
)


class ProgressSink(Protocol):
    """Where a build reports progress (the CLI's progress bar)."""

    def stage(self, description: str, total: int | None) -> None: ...

    def advance(self, count: int = 1) -> None: ...


@dataclass(frozen=True)
class BuildOptions:
    dataset: str
    data_dir: Path
    split: str
    task: Task
    out: Path
    fraction: float = 1.0
    seed: int = 42
    layout: Layout = "sharegpt"
    schema_path: Path | None = None
    db_dir: Path | None = None
    skip_invalid: bool = False
    max_per_domain: int | None = None
    max_tokens: int | None = None
    tokenizer: Path | None = None
    hf_dataset: bool = False
    command: tuple[str, ...] = ()
    """The command line, recorded in the manifest."""
    label: str | None = None
    """A name for the data set, recorded in the manifest's provenance."""


@dataclass(frozen=True)
class BuildSummary:
    counts: Counts
    data_file: Path
    manifest: Path
    hf_dataset: Path | None
    seconds: float


def output_stem(dataset: str, split: str, task: str) -> str:
    """``multiwoz21-test-dst``: the common start of a build's output names."""
    return f"{dataset}-{split}-{task}"


def check_options(options: BuildOptions) -> None:
    """Reject option combinations that cannot work, before anything is read."""
    if options.dataset not in DATASETS:
        raise SpecTodError(f"unknown dataset {options.dataset!r}; expected one of {', '.join(DATASETS)}")
    if options.split not in SPLITS:
        raise SpecTodError(f"unknown split {options.split!r}; expected one of {', '.join(SPLITS)}")
    if options.task not in TASKS:
        raise SpecTodError(f"unknown task {options.task!r}; expected one of {', '.join(TASKS)}")
    if options.dataset == "sgd" and options.task != "dst":
        raise SpecTodError("SGD has no delexicalised responses or venue database; build it with --task dst")
    if not 0 < options.fraction <= 1:
        raise SpecTodError(f"--fraction {options.fraction} is out of range; give a number in (0, 1]")
    if options.max_per_domain is not None and options.max_per_domain < 1:
        raise SpecTodError(f"--max-per-domain {options.max_per_domain} must be at least 1")
    if options.max_tokens is not None and options.max_tokens < 1:
        raise SpecTodError(f"--max-tokens {options.max_tokens} must be at least 1")
    if not Path(options.data_dir).is_dir():
        raise SpecTodError(f"data folder {options.data_dir} does not exist; pass the folder holding the corpus (--data-dir)")
    if options.task == "e2e":
        # End-to-end observations need real entity counts; without the database they would all
        # read "no database", so a missing one is an error here rather than the reader's warning.
        find_db_dir(Path(options.data_dir), options.db_dir)


@dataclass
class SharedWork:
    """What the builds of one :func:`build_all` share beside the reads: each schema file read once
    (so both tasks offer the same function objects) and the gold calls of each dialogue."""

    schemas: dict[Path, dict[str, Service]] = dataclasses.field(default_factory=dict)
    gold: GoldCache = dataclasses.field(default_factory=GoldCache)

    def schema(self, path: Path) -> dict[str, Service]:
        if path not in self.schemas:
            self.schemas[path] = load_schema(path)
        return self.schemas[path]


def build_data(
    options: BuildOptions,
    progress: ProgressSink | None = None,
    *,
    loaded: LoadResult | None = None,
    shared: SharedWork | None = None,
) -> BuildSummary:
    """Build one data set as described in the module docstring and return its counts.

    ``loaded`` reuses dialogues already read with the same dataset, folder and split (building both
    tasks from one read); otherwise the split is read here. ``shared``: work shared with the other
    builds of the same command.
    """
    started = time.perf_counter()
    check_options(options)
    counter = TokenCounter(options.tokenizer) if options.max_tokens is not None else None
    if loaded is None:
        loaded = read_split(options, progress)
    schema_file = find_schema(options.dataset, options.data_dir, options.schema_path, split=options.split)
    schema = shared.schema(schema_file) if shared is not None else load_schema(schema_file)
    _check_schema_matches(schema_file, schema, loaded.dialogues)

    rng = random.Random(options.seed)
    chosen = sample_fraction(loaded.dialogues, options.fraction, rng)
    if options.max_per_domain is not None:
        chosen = cap_per_domain(chosen, options.max_per_domain, rng, _capped_domains)
    database = load_database(find_db_dir(options.data_dir, options.db_dir)) if options.task == "e2e" else None

    if progress:
        progress.stage(f"building {options.task} records", len(chosen))
    records: list[Record] = []
    for dialogue in chosen:
        records.append(build_record(dialogue, options.task, schema, options.seed, database, shared.gold if shared else None))
        if progress:
            progress.advance()

    dropped = 0
    if counter is not None and options.max_tokens is not None:
        limit = options.max_tokens
        lengths = counter.count([record.messages for record in records])
        kept = [record for record, length in zip(records, lengths, strict=True) if length <= limit]
        dropped = len(records) - len(kept)
        records = kept

    stem = output_stem(options.dataset, options.split, options.task)
    suffix = ".jsonl" if options.layout == "sharegpt" else ".messages.jsonl"
    data_file = options.out / f"{stem}{suffix}"
    if not records:
        why = f"all {dropped} are longer than --max-tokens {options.max_tokens}" if dropped else "no dialogue was kept"
        raise SpecTodError(
            f"{data_file}: no records to write ({len(chosen)} dialogues chosen, {why}); nothing was written"
        )
    counts = Counts(
        dialogues_read=len(loaded.dialogues) + len(loaded.skipped),
        dialogues_skipped=len(loaded.skipped),
        dialogues_kept=len(chosen),
        records_written=len(records),
        dropped_by_length=dropped,
        turns=sum(record.turns for record in records),
        function_calls=sum(record.function_calls for record in records),
    )
    manifest = Manifest(
        version=__version__,
        command=list(options.command),
        dataset=options.dataset,
        split=options.split,
        task=options.task,
        layout=options.layout,
        fraction=options.fraction,
        seed=options.seed,
        max_per_domain=options.max_per_domain,
        max_tokens=options.max_tokens,
        length_method=counter.method if counter else "not filtered",
        inputs=[_file_entry(path) for path in dict.fromkeys(Path(p).resolve() for p in [*loaded.files, schema_file])],
        counts=counts,
        skipped=list(loaded.skipped),
        outputs=[],
        provenance=provenance(label=options.label, model_dir=options.tokenizer, argv=options.command or None),
    )

    if progress:
        progress.stage("writing", None)
    manifest_file = options.out / f"{stem}.manifest.json"
    hf_folder = options.out / f"{stem}.hf" if options.hf_dataset else None
    try:
        with atomic_group() as group:  # the records and their manifest appear together or not at all
            lines = (jsonl_line(record.id, record.messages, record.weights, options.layout) for record in records)
            digest = write_lines(data_file, lines, group)
            manifest.outputs.append(FileEntry(path=str(data_file.resolve()), sha256=digest))
            if hf_folder is not None:
                weights = [r.weights for r in records]
                save_hf_dataset(hf_folder, [r.id for r in records], [r.messages for r in records], weights)
            write_manifest(manifest_file, manifest, group)
    except OSError as exc:
        raise SpecTodError(f"{options.out}: cannot write the outputs ({exc}); pass a writable --out folder") from None
    return BuildSummary(
        counts=counts,
        data_file=data_file,
        manifest=manifest_file,
        hf_dataset=hf_folder,
        seconds=time.perf_counter() - started,
    )


@gc_paused()
def build_all(builds: Sequence[BuildOptions], progress: ProgressSink | None = None) -> list[BuildSummary]:
    """Several builds (splits x tasks) in one go: every option checked and every split read (once each)
    before the first file is written, so bad input in any split leaves no output of any build.

    A split's builds share its gold calls, so they stay together: the first split's are read and built
    here, each further split's in a forked child, one per spare core, which reads its split beside this
    process and builds once every split has been read (a :class:`Gate`); the splits beyond the cores,
    here too (docs/speed.md). The first failing read, in the order of the builds, is the error raised.
    The cyclic collector is paused throughout: the records are acyclic, and each collection would
    scan the loaded splits again."""
    for options in builds:
        check_options(options)
    by_read: dict[tuple, list[int]] = {}
    for index, options in enumerate(builds):
        by_read.setdefault(_read_key(options), []).append(index)
    groups = list(by_read.values())
    children = min(len(groups) - 1, (os.cpu_count() or 1) - 1) if can_fork() else 0
    forked, later = groups[1 : 1 + children], groups[1 + children :]
    started: list[tuple[Gate, Forked[list[BuildSummary]]]] = []
    try:
        for group in forked:
            gate = Gate()
            started.append((gate, Forked(_read_then_build, [builds[i] for i in group], builds, gate)))
            gate.parent_side()
        reads = {_read_key(builds[groups[0][0]]): _read(builds[groups[0][0]], builds, progress)}
        for (gate, child), group in zip(started, forked, strict=True):
            outcome = gate.outcome()
            if outcome == "failed":
                child.result()  # raises the child's error
            if outcome == "died":
                split = builds[group[0]].split
                raise SpecTodError(f"the build of the {split} split stopped before the split was read; rerun the command")
        for group in later:
            reads[_read_key(builds[group[0]])] = _read(builds[group[0]], builds, progress)
        for gate, _ in started:
            gate.release()
        here = [index for group in [groups[0], *later] for index in group]
        summaries = dict(zip(here, _build_group([builds[i] for i in here], reads, progress), strict=True))
        for (_, child), group in zip(started, forked, strict=True):
            summaries.update(zip(group, child.result(), strict=True))
    finally:
        for gate, child in started:
            gate.close()
            child.stop()  # after an error or an interrupt here: the other builds stop too, cleaning up
    return [summaries[index] for index in range(len(builds))]


def _read(options: BuildOptions, builds: Sequence[BuildOptions], progress: ProgressSink | None = None) -> LoadResult:
    # An e2e build of the split wants the missing-database warning that a dst-only read hides.
    key = _read_key(options)
    wants_db = any(other.task == "e2e" for other in builds if _read_key(other) == key)
    return read_split(dataclasses.replace(options, task="e2e" if wants_db else "dst"), progress)


def _read_then_build(group: Sequence[BuildOptions], builds: Sequence[BuildOptions], gate: Gate) -> list[BuildSummary]:
    """In a forked child: read the group's split, then build once the parent says every split was read."""
    if not gate.in_child():  # the child died after the reads: its builds run here
        return _build_group(group, {_read_key(group[0]): _read(group[0], builds)})
    try:
        loaded = _read(group[0], builds)
    except BaseException:
        gate.failed()
        raise
    if not gate.passed():
        return []  # another split failed to read: the parent raises that, and ignores this
    return _build_group(group, {_read_key(group[0]): loaded})


def _build_group(
    builds: Sequence[BuildOptions], reads: dict[tuple, LoadResult], progress: ProgressSink | None = None
) -> list[BuildSummary]:
    shared = SharedWork()
    return [build_data(options, progress, loaded=reads[_read_key(options)], shared=shared) for options in builds]


def _read_key(options: BuildOptions) -> tuple:
    return (options.dataset, options.data_dir, options.split, options.schema_path, options.db_dir, options.skip_invalid)


def read_split(options: BuildOptions, progress: ProgressSink | None = None) -> LoadResult:
    """Read the dialogues of the options' dataset and split."""
    if progress:
        progress.stage(f"reading {options.dataset} {options.split}", None)
    with warnings.catch_warnings():
        if options.task == "dst":
            # DST records never show entity counts, so the reader's missing-database warning is noise.
            warnings.filterwarnings("ignore", message=".*db_count stays None", category=UserWarning)
        return load_dialogues(
            options.dataset,
            options.data_dir,
            options.split,
            schema_path=options.schema_path,
            db_dir=options.db_dir,
            skip_invalid=options.skip_invalid,
            progress=progress.advance if progress else None,
        )


def _check_schema_matches(schema_file: Path, schema: dict, dialogues: Sequence[Dialogue]) -> None:
    """Raise when no dialogue has a service of the schema: every record would offer no function at all."""
    services = {domain for dialogue in dialogues for domain in dialogue_domains(dialogue)}
    if services and not services & set(schema):
        raise SpecTodError(
            f"{schema_file}: the schema describes none of the dialogues' services (schema: "
            f"{', '.join(sorted(schema)[:5]) or 'none'}; dialogues: {', '.join(sorted(services)[:5])}); "
            "pass the schema of this dataset (--schema)"
        )


def _capped_domains(dialogue: Dialogue) -> Sequence[str]:
    # MultiWOZ caps count the experiment domains (the ones with functions); SGD counts services.
    domains = dialogue_domains(dialogue)
    experiment = multiwoz_rules().experiment_domains
    return [domain for domain in dict.fromkeys(domains) if not is_multiwoz_domain(domain) or domain in experiment]


def _file_entry(path: Path) -> FileEntry:
    return FileEntry(path=str(Path(path).resolve()), sha256=sha256_file(path))
