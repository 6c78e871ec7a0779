"""``spec-tod bench sweep``: many bench runs over a grid of decoding parameters, seeds and concurrency, one table.

The grid file (YAML) has three parts::

    bench:                 # what every point shares: the options of `spec-tod bench` (flag names, - or _)
      endpoint: http://127.0.0.1:8000
      mode: response
      limit_dialogues: 5
    grid:                  # every combination of these values ...
      temperature: [0.0, 0.7, 1.0]
      seed: [1, 2]
    points:                # ... and/or these points, one by one
      - {temperature: 0.7, top_p: 0.9}

Each point is an ordinary bench run (:func:`spec_tod.bench.runner.run_bench`, or
:func:`spec_tod.bench.response_run.run_response_bench` for ``mode: response``), called in this
process, in its own folder ``<out>/runs/<point>`` (``.../<point>~r<k>`` for ``--repeat``): it
checkpoints and resumes like any run. A point whose report says every turn is done is not run
again, so rerunning the sweep after an interruption finishes only what is left; a point with
failed turns is rerun (which retries only those turns).

Swept keys: ``temperature``, ``top_p``, ``top_k``, ``repetition_penalty``, ``max_new_tokens``
(the response call), ``dst_max_new_tokens``, ``seed`` and ``concurrency``. Decoding options that
OpenAI-style ``/v1/completions`` and TGI's ``/generate`` do not have (beam search, contrastive search,
...) are refused with the reason before anything runs. Servers differ in the extra keys they
take: ``top_k`` and ``repetition_penalty`` are accepted by vLLM, SGLang and TGI but refused by
``transformers serve``, whose answer the first point then reports.

Outputs in ``<out>``: ``sweep.csv`` and ``sweep.md`` (one row per point: scores, richness, JGA,
requests/s, tokens/s, latency percentiles), the variation table (runs that differ only by seed or
repeat: are the predictions identical, how far do the scores spread), and ``plots/`` (each score
against each swept parameter; the combined score against throughput).
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from spec_tod.bench.config import CallSettings
from spec_tod.bench.outputs import RunOutputs
from spec_tod.bench.report import REPORT_JSON
from spec_tod.bench.runner import BenchOptions
from spec_tod.errors import SpecTodError
from spec_tod.fileio import write_text
from spec_tod.parsing import load_yaml
from spec_tod.score.predictions import PREDICTIONS_FILE

SWEPT_KEYS = (
    "temperature",
    "top_p",
    "top_k",
    "repetition_penalty",
    "max_new_tokens",
    "dst_max_new_tokens",
    "seed",
    "concurrency",
)
UNSUPPORTED = {
    "num_beams": "beam search is a transformers generate() option; /v1/completions and TGI /generate decode one "
    "sequence per request (vLLM's separate beam-search API is not what bench calls)",
    "penalty_alpha": "contrastive search (penalty_alpha) is a transformers generate() option that OpenAI-style "
    "servers and TGI do not offer",
    "do_sample": "sampling is switched by temperature here: temperature 0 decodes greedily, above 0 samples",
    "typical_p": "typical decoding is not an option of /v1/completions (bench sends only OpenAI completion fields)",
    "num_beam_groups": "diverse beam search is a transformers generate() option that servers do not offer",
    "length_penalty": "length_penalty only applies to beam search, which servers do not offer",
    "no_repeat_ngram_size": "no_repeat_ngram_size is a transformers generate() option that servers do not offer",
}
SWEEP_CSV = "sweep.csv"
SWEEP_MD = "sweep.md"
RUNS_DIR = "runs"


class SweepFile(BaseModel):
    """The grid file; see the module docstring."""

    model_config = ConfigDict(extra="forbid")

    bench: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    points: list[dict[str, Any]] = Field(default_factory=list)
    repeat: int = Field(1, ge=1)

    @field_validator("bench")
    @classmethod
    def _dashes(cls, value: dict[str, Any]) -> dict[str, Any]:
        return {key.replace("-", "_"): item for key, item in value.items()}


@dataclass(frozen=True)
class Point:
    """One combination of swept values, and the folder name it gets."""

    values: dict[str, Any]

    @property
    def name(self) -> str:
        if not self.values:
            return "base"
        return ",".join(f"{key}={_short(value)}" for key, value in self.values.items())


def _short(value: Any) -> str:
    return "none" if value is None else str(value).replace("/", "_")


def _refuse(key: str, where: str) -> None:
    if key in UNSUPPORTED:
        raise SpecTodError(f"{where}: {key} cannot be swept: {UNSUPPORTED[key]}")
    if key not in SWEPT_KEYS:
        raise SpecTodError(f"{where}: {key!r} is not a sweep parameter; expected one of {', '.join(SWEPT_KEYS)}")


def plan_points(sweep: SweepFile, source: str) -> list[Point]:
    """The grid's combinations (in file order, last key fastest), then the listed points; duplicates once."""
    for key in [*sweep.grid, *(key for point in sweep.points for key in point)]:
        _refuse(key, source)
    for key in sweep.bench:
        if key in UNSUPPORTED:
            _refuse(key, source)
    for key, values in sweep.grid.items():
        if not values:
            raise SpecTodError(f"{source}: grid.{key} has no values; give a list such as [0.0, 0.7]")
    points: list[Point] = []
    if sweep.grid:
        keys = list(sweep.grid)
        points += [Point(dict(zip(keys, combo, strict=True))) for combo in itertools.product(*sweep.grid.values())]
    points += [Point(dict(point)) for point in sweep.points]
    if not points:
        points = [Point({})]
    unique: dict[str, Point] = {}
    for point in points:
        unique.setdefault(point.name, point)
    return list(unique.values())


def load_sweep(path: Path) -> SweepFile:
    """The grid file, checked (one-line errors)."""
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecTodError(f"{path}: no such grid file") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise SpecTodError(f"{path}:{where} is not valid YAML ({getattr(error, 'problem', error)})") from None
    if not isinstance(data, dict):
        raise SpecTodError(f"{path}: expected a mapping with bench:, grid: and/or points:")
    try:
        return SweepFile.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        raise SpecTodError(f"{path}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def point_options(base: BenchOptions, values: dict[str, Any], run_dir: Path) -> BenchOptions:
    """``base`` with the point's values applied to both call kinds (token limits per kind)."""
    sampling: dict[str, Any] = {
        key: values[key] for key in ("temperature", "top_p", "top_k", "repetition_penalty") if key in values
    }
    try:
        dst = CallSettings.model_validate(base.dst.model_dump() | sampling | _limit(values, "dst_max_new_tokens"))
        response = CallSettings.model_validate(base.response.model_dump() | sampling | _limit(values, "max_new_tokens"))
    except ValidationError as error:
        first = error.errors()[0]
        raise SpecTodError(f"point {Point(values).name}: {first['loc'][0]}: {first['msg']}") from None
    return replace(
        base,
        run_dir=run_dir,
        dst=dst,
        response=response,
        seed=int(values.get("seed", base.seed)),
        concurrency=values.get("concurrency", base.concurrency),
    )


def _limit(values: dict[str, Any], key: str) -> dict[str, Any]:
    return {"max_new_tokens": values[key]} if key in values else {}


RunOne = Callable[[BenchOptions], RunOutputs | None]


@dataclass
class PointRun:
    """One run of one point: its folder and, once finished, its report."""

    point: Point
    repeat: int
    run_dir: Path
    report: dict[str, Any] | None = None
    reused: bool = False


@dataclass
class SweepResult:
    runs: list[PointRun]
    swept: list[str]
    files: list[Path] = field(default_factory=list)


def finished_report(run_dir: Path) -> dict[str, Any] | None:
    """The report of a run whose every turn is done; ``None`` when it has to run (again)."""
    try:
        report = json.loads((run_dir / REPORT_JSON).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    turns = report.get("turns", {})
    if turns.get("missing") or turns.get("failed") or turns.get("skipped"):
        return None
    return report


def run_sweep(
    base: BenchOptions,
    points: list[Point],
    out: Path,
    run_one: RunOne,
    repeat: int = 1,
    on_point: Callable[[PointRun, int, int], None] | None = None,
) -> SweepResult:
    """Run every point ``repeat`` times (skipping finished runs), then write the tables and plots."""
    runs = [
        PointRun(point, k, out / RUNS_DIR / (point.name if repeat == 1 else f"{point.name}~r{k}"))
        for point in points
        for k in range(1, repeat + 1)
    ]
    for index, run in enumerate(runs):
        run.report = finished_report(run.run_dir)
        run.reused = run.report is not None
        if run.report is None:
            outputs = run_one(point_options(base, run.point.values, run.run_dir))
            run.report = outputs.report if outputs is not None else None
        if on_point is not None:
            on_point(run, index, len(runs))
    swept = list(dict.fromkeys(key for point in points for key in point.values))
    result = SweepResult(runs, swept)
    result.files = write_tables(out, result)
    result.files += write_sweep_plots(out, result)
    return result


# ---- the table ---------------------------------------------------------------------------------

COLUMNS = (
    "point",
    "repeat",
    "bleu",
    "inform",
    "success",
    "combined",
    "avg_len",
    "cbe",
    "uniq_words",
    "uniq_3grams",
    "jga",
    "requests_per_s",
    "tokens_per_s",
    "p50_s",
    "p95_s",
    "p99_s",
    "turns_failed",
)


def row_of(run: PointRun, swept: list[str]) -> dict[str, Any]:
    """The table row of one run (scores blank when the run was not scored)."""
    report = run.report or {}
    scores = report.get("scores") or {}
    richness = scores.get("richness") or {}
    mode = (report.get("config") or {}).get("mode")
    latency = report.get("latency_s") or {}
    kind = latency.get("response") or latency.get("dst") or {}
    speed = report.get("throughput") or {}
    row: dict[str, Any] = {"point": run.point.name, "repeat": run.repeat}
    row |= {key: run.point.values.get(key, "") for key in swept}
    row |= {
        "bleu": scores.get("bleu"),
        "inform": scores.get("inform"),
        "success": scores.get("success"),
        "combined": scores.get("combined"),
        "avg_len": richness.get("avg_length"),
        "cbe": richness.get("cond_entropy"),
        "uniq_words": richness.get("num_unigrams"),
        "uniq_3grams": richness.get("num_trigrams"),
        "jga": (scores.get("dst") or {}).get("joint_accuracy") if mode in ("e2e", "dst") else None,
        "requests_per_s": speed.get("requests_per_s"),
        "tokens_per_s": speed.get("generated_tokens_per_s"),
        "p50_s": kind.get("p50_s"),
        "p95_s": kind.get("p95_s"),
        "p99_s": kind.get("p99_s"),
        "turns_failed": (report.get("turns") or {}).get("failed"),
    }
    return row


def predictions_digest(run_dir: Path) -> str | None:
    path = run_dir / PREDICTIONS_FILE
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


@dataclass(frozen=True)
class Variation:
    """Runs that differ only by seed or repeat."""

    group: str
    runs: int
    identical: bool
    spread: dict[str, tuple[float, float, float]]
    """metric -> (mean, standard deviation, max - min)."""
    sampled: bool = False
    """The runs sample (temperature above 0)."""
    seeds: int = 1
    """Distinct seeds among the runs (1: repeats of one seed)."""


def variations(runs: list[PointRun]) -> list[Variation]:
    """Group runs by their values without the seed; groups of two runs or more."""
    groups: dict[str, list[PointRun]] = {}
    for run in runs:
        rest = {key: value for key, value in run.point.values.items() if key != "seed"}
        groups.setdefault(Point(rest).name, []).append(run)
    found = []
    for name, members in groups.items():
        if len(members) < 2:
            continue
        digests = {predictions_digest(run.run_dir) for run in members}
        spread = {}
        for metric in ("bleu", "inform", "success", "combined"):
            values = [((run.report or {}).get("scores") or {}).get(metric) for run in members]
            numbers = [value for value in values if isinstance(value, (int, float))]
            if len(numbers) >= 2:
                spread[metric] = (statistics.mean(numbers), statistics.stdev(numbers), max(numbers) - min(numbers))
        temperature = (((members[0].report or {}).get("config") or {}).get("response") or {}).get("temperature") or 0
        identical = len(digests) == 1 and None not in digests
        seeds = len({((run.report or {}).get("config") or {}).get("seed") for run in members})
        found.append(Variation(name, len(members), identical, spread, sampled=temperature > 0, seeds=seeds))
    return found


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) >= 0.01 or value == 0 else f"{value:.4f}"
    return str(value)


def render_tables(result: SweepResult) -> tuple[str, str]:
    """``(csv text, markdown text)``."""
    header = ["point", "repeat", *result.swept, *COLUMNS[2:]]
    rows = [row_of(run, result.swept) for run in result.runs]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if row.get(key) is None else row.get(key) for key in header})
    lines = [
        "# spec-tod bench sweep",
        "",
        *markdown_table(header, [[_cell(row.get(key)) for key in header] for row in rows]),
    ]
    found = variations(result.runs)
    if found:
        lines += ["", "## Variation across seeds and repeats", ""]
        lines += markdown_table(
            [
                "runs of",
                "runs",
                "seeds",
                "predictions identical",
                "BLEU mean ± sd (range)",
                "Combined mean ± sd (range)",
            ],
            [
                [
                    group.group,
                    str(group.runs),
                    str(group.seeds),
                    "yes" if group.identical else "no",
                    _spread(group.spread.get("bleu")),
                    _spread(group.spread.get("combined")),
                ]
                for group in found
            ],
        )
        if any(group.sampled and group.identical and group.seeds > 1 for group in found):
            lines += [
                "",
                "Sampled runs with different seeds gave identical predictions: the server may decode greedily "
                "whatever the temperature (transformers serve does when the model's generation_config has "
                "do_sample false).",
            ]
    return buffer.getvalue(), "\n".join(lines) + "\n"


def _spread(values: tuple[float, float, float] | None) -> str:
    if values is None:
        return "—"
    mean, sd, width = values
    return f"{mean:.2f} ± {sd:.2f} ({width:.2f})"


def markdown_table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(" --- " for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def write_tables(out: Path, result: SweepResult) -> list[Path]:
    text_csv, text_md = render_tables(result)
    write_text(out / SWEEP_CSV, text_csv)
    write_text(out / SWEEP_MD, text_md)
    return [out / SWEEP_CSV, out / SWEEP_MD]


def write_sweep_plots(out: Path, result: SweepResult) -> list[Path]:
    """Scores against each numeric swept parameter, and the combined score against generated tokens/s."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spec_tod.fileio import atomic_open

    rows = [row_of(run, result.swept) for run in result.runs]
    written: list[Path] = []

    def save(figure: Any, name: str) -> None:
        path = out / "plots" / name
        with atomic_open(path, "wb") as handle:
            figure.savefig(handle, format="png", dpi=100)
        plt.close(figure)
        written.append(path)

    for key in result.swept:
        pairs = [(row[key], row) for row in rows if isinstance(row.get(key), (int, float))]
        if not pairs:
            continue
        figure, axis = plt.subplots(figsize=(6, 4))
        for metric in ("bleu", "inform", "success", "combined"):
            points = [(x, row[metric]) for x, row in pairs if isinstance(row.get(metric), (int, float))]
            if points:
                axis.scatter([x for x, _ in points], [y for _, y in points], label=metric)
        axis.set_xlabel(key)
        axis.set_ylabel("score")
        axis.legend()
        axis.set_title(f"scores against {key}")
        save(figure, f"scores_vs_{key}.png")
    speed = [(row["tokens_per_s"], row["combined"], row["point"]) for row in rows]
    speed = [p for p in speed if isinstance(p[0], (int, float)) and isinstance(p[1], (int, float))]
    if speed:
        figure, axis = plt.subplots(figsize=(6, 4))
        axis.scatter([x for x, _, _ in speed], [y for _, y, _ in speed])
        for x, y, label in speed:
            axis.annotate(label, (x, y), fontsize=6)
        axis.set_xlabel("generated tokens/s")
        axis.set_ylabel("combined score")
        axis.set_title("score against throughput")
        save(figure, "score_vs_throughput.png")
    return written


def sweep_base_options(
    bench: dict[str, Any], endpoints: list[str] | None, data_dir: Path, out: Path
) -> tuple[BenchOptions, int | None]:
    """The shared bench options of the grid file's ``bench:`` part (and the response task's budget)."""
    settings = dict(bench)
    endpoint = settings.pop("endpoint", None)
    chosen = endpoints or ([endpoint] if isinstance(endpoint, str) else list(endpoint or []))
    if not chosen:
        raise SpecTodError("no endpoint: pass --endpoint URL or put bench: endpoint: URL into the grid file")
    budget = settings.pop("max_context_tokens", None)
    calls: dict[str, dict[str, Any]] = {"dst": {"max_new_tokens": 128}, "response": {"max_new_tokens": 192}}
    for key in ("temperature", "top_p", "top_k", "repetition_penalty"):
        if key in settings:
            value = settings.pop(key)
            calls["dst"][key] = calls["response"][key] = value
    for key, kind in (
        ("dst_max_new_tokens", "dst"),
        ("response_max_new_tokens", "response"),
        ("max_new_tokens", "response"),
    ):
        if key in settings:
            calls[kind]["max_new_tokens"] = settings.pop(key)
    for key in ("run_dir", "shard", "shards"):
        if key in settings:
            raise SpecTodError(f"bench.{key}: a sweep gives every point its own folder and runs all of it; drop {key}")
    if "data_dir" in settings:
        data_dir = Path(settings.pop("data_dir"))
    if "model" in settings:
        settings["served_model"] = settings.pop("model")
    for key in ("model_dir",):
        if settings.get(key) is not None:
            settings[key] = Path(settings[key])
    known = set(BenchOptions.__dataclass_fields__) - {"endpoints", "run_dir", "data_dir", "dst", "response"}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise SpecTodError(f"bench: unknown option(s) {', '.join(unknown)}; expected {', '.join(sorted(known))}")
    try:
        options = BenchOptions(
            endpoints=chosen,
            run_dir=out,
            data_dir=data_dir,
            dst=CallSettings(**calls["dst"]),
            response=CallSettings(**calls["response"]),
            **settings,
        )
    except ValidationError as error:
        first = error.errors()[0]
        raise SpecTodError(f"bench: {first['loc'][0]}: {first['msg']}") from None
    if options.mode not in ("e2e", "dst", "response"):
        raise SpecTodError(f"bench.mode {options.mode!r}: expected e2e, dst or response")
    if budget is not None and options.mode != "response":
        raise SpecTodError("bench.max_context_tokens applies to mode: response only")
    return options, budget


def dump_points(points: list[Point]) -> str:
    """The points as JSON lines, for the sweep's record of what it planned."""
    return "".join(json.dumps({"point": point.name, "values": point.values}) + "\n" for point in points)
