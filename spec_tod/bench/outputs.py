"""What a finished run writes into its run directory, built from the shard checkpoints.

* ``predictions.json``: the interchange format (docs/evaluation.md, section 1), one entry per system turn
  of every dialogue in dataset order: ``response`` (the delexicalised response; empty in DST mode and
  for turns that failed or were skipped), ``state`` (the predicted state after the turn, carried over
  unchanged through failed and skipped turns, without ``dontcare`` slots: the standardized
  evaluator's gold states have none, and the release's DST score ignored predicted ones) and
  ``active_domains`` (the domain of the dialogue's last call so far, none before the first). Only model
  outputs go in, no timings, so an interrupted and resumed run writes the same bytes as an uninterrupted one.
* ``generations.json``: per dialogue and turn, the status, the raw generated texts, the parse
  problems and the request error of failed turns.
* ``scores.json``: ``spec-tod score`` on the predictions (MultiWOZ only): Inform, Success, BLEU,
  richness and DST for end-to-end runs, the DST metrics only for DST runs (their responses are empty
  by design, so response scores would mean nothing).
* ``report.json``, ``report.md`` and ``plots/*.svg`` (:mod:`spec_tod.bench.report`,
  :mod:`spec_tod.bench.plots`).

A run with failed or skipped turns is not a result: it writes ``predictions.incomplete.json`` (same
format) instead of ``predictions.json``, no ``scores.json``, and a report that says so, so that no
figure computed with missing answers is mistaken for the model's score. Predictions, generations,
scores and report are written as one group (:func:`spec_tod.fileio.atomic_group`): all or none.

Turn accounting: every turn of the configuration is ``done`` (parse failures included), ``failed``
(its request failed after the retries), ``skipped`` (end-to-end: an earlier turn of its dialogue
failed) or ``missing`` (not run yet: an interrupted run or a shard run elsewhere). The outputs are
written once nothing is missing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from spec_tod.bench.config import RunConfig
from spec_tod.bench.loops import NO_DOMAIN, StateTracker
from spec_tod.bench.metrics import DEFAULT_STREAM_PERCENTILES, latency_stats, stream_stats, throughput
from spec_tod.bench.plots import write_plots
from spec_tod.bench.report import build_report, write_report
from spec_tod.bench.store import TurnRecord
from spec_tod.data.database import VenueDatabase
from spec_tod.data.dialogue import Dialogue
from spec_tod.fileio import atomic_group
from spec_tod.score.predictions import INCOMPLETE_PREDICTIONS_FILE, PREDICTIONS_FILE
from spec_tod.score.references import interchange_id, without_dontcare

if TYPE_CHECKING:
    from spec_tod.score.prepared import PreparedScorer

GENERATIONS_FILE = "generations.json"
SCORES_FILE = "scores.json"
SERVER_INFO_FILE = "server_info.json"
SCORED_DATASETS = ("multiwoz21", "multiwoz22")

Status = Literal["done", "failed", "skipped", "missing"]
Records = Mapping[tuple[str, int], TurnRecord]


def turn_statuses(config: RunConfig, dialogues: Sequence[Dialogue], records: Records) -> dict[tuple[str, int], Status]:
    """The status of every turn of the run (see the module docstring)."""
    statuses: dict[tuple[str, int], Status] = {}
    for dialogue in dialogues:
        blocked = False
        for turn in range(len(dialogue.turns)):
            record = records.get((dialogue.id, turn))
            if blocked:
                statuses[dialogue.id, turn] = "skipped"
            elif record is None:
                statuses[dialogue.id, turn] = "missing"
            else:
                statuses[dialogue.id, turn] = record.status
                blocked = config.mode == "e2e" and record.status == "failed"
    return statuses


def missing_turns(config: RunConfig, dialogues: Sequence[Dialogue], records: Records) -> list[tuple[str, int]]:
    """Turns not run yet."""
    return [key for key, status in turn_statuses(config, dialogues, records).items() if status == "missing"]


def build_predictions(
    dialogues: Sequence[Dialogue], records: Records, statuses: Mapping[tuple[str, int], Status]
) -> dict[str, list[dict[str, Any]]]:
    """The interchange-format predictions (see the module docstring)."""
    predictions: dict[str, list[dict[str, Any]]] = {}
    for dialogue in dialogues:
        tracker = StateTracker()
        turns = []
        for turn in range(len(dialogue.turns)):
            record = records.get((dialogue.id, turn))
            done = record if statuses[dialogue.id, turn] == "done" else None
            if done is not None:
                tracker.apply(done.updates)
            active = [tracker.domain] if tracker.domain != NO_DOMAIN else []
            response = done.response if done is not None else ""
            turns.append({"response": response, "state": without_dontcare(tracker.state), "active_domains": active})
        predictions[interchange_id(dialogue.id)] = turns
    return predictions


def build_generations(
    dialogues: Sequence[Dialogue], records: Records, statuses: Mapping[tuple[str, int], Status]
) -> dict[str, list[dict[str, Any]]]:
    """Raw generations and problems per turn, without timings (deterministic like the predictions)."""
    generations: dict[str, list[dict[str, Any]]] = {}
    for dialogue in dialogues:
        turns = []
        for turn in range(len(dialogue.turns)):
            record = records.get((dialogue.id, turn))
            entry: dict[str, Any] = {"turn": turn, "status": statuses[dialogue.id, turn]}
            if record is not None and entry["status"] != "skipped":
                entry.update(
                    domain=record.domain,
                    calls={call.kind: call.text for call in record.calls},
                    finish_reasons={call.kind: call.finish_reason for call in record.calls},
                    problems=record.problems,
                    parse_failed=record.parse_failed,
                    error=record.error,
                )
            turns.append(entry)
        generations[interchange_id(dialogue.id)] = turns
    return generations


def turn_counts(statuses: Mapping[tuple[str, int], Status], records: Records) -> dict[str, int]:
    """Turns by status, plus parse failures, turns with problems, calls and retried attempts."""
    by_status = Counter(statuses.values())
    done = [records[key] for key, status in statuses.items() if status == "done"]
    attempts = [call.attempts for record in records.values() for call in record.calls]
    return {
        "dialogues": len({dialogue for dialogue, _ in statuses}),
        "turns": len(statuses),
        "done": by_status["done"],
        "failed": by_status["failed"],
        "skipped": by_status["skipped"],
        "missing": by_status["missing"],
        "parse_failed": sum(record.parse_failed for record in done),
        "with_problems": sum(bool(record.problems) for record in done),
        "calls": len(attempts),
        "retried_attempts": sum(attempts) - len(attempts),
    }


def _score_here(
    predictions: dict[str, Any],
    dialogues: Sequence[Dialogue],
    subset: bool,
    database: VenueDatabase | None,
    goal_dialogues: Sequence[Dialogue] | None,
) -> dict[str, Any]:
    from spec_tod.score.evaluate import score_predictions  # here: a prepared worker imports the scorer

    return score_predictions(
        predictions, dialogues, allow_subset=subset, database=database, goal_dialogues=goal_dialogues
    ).to_json_dict()


def _mode_scores(scores: dict[str, Any], mode: str) -> dict[str, Any]:
    """The scores that mean something for ``mode``: DST runs have empty responses by design."""
    if mode == "dst":
        return {"dst": scores["dst"], "coverage": scores["coverage"], "inputs": scores["inputs"]}
    return scores


@dataclass
class RunOutputs:
    """The files of a finished run and the report they summarise."""

    run_dir: Path
    report: dict[str, Any]
    files: list[Path]
    first_failure: str | None = None
    """``dialogue turn N: why`` of the first failed turn, for the one-line error of an incomplete run."""


def finalize(
    run_dir: Path,
    config: RunConfig,
    dialogues: Sequence[Dialogue],
    records: Records,
    *,
    database: VenueDatabase | None,
    session: dict[str, Any],
    percentiles: Sequence[float] = DEFAULT_STREAM_PERCENTILES,
    provenance: dict[str, Any] | None = None,
    goal_dialogues: Sequence[Dialogue] | None = None,
    scorer: PreparedScorer | None = None,
) -> RunOutputs:
    """Write predictions, generations, scores, the report and the plots of a complete run.

    ``scorer``, when given, is a scorer of ``dialogues`` prepared while the run's loop went on.

    ``provenance`` (:mod:`spec_tod.provenance`) goes into ``scores.json`` and the report; the
    predictions and generations stay bare (the interchange format, and the same bytes on a resume).
    """
    statuses = turn_statuses(config, dialogues, records)
    counts = turn_counts(statuses, records)
    complete = counts["failed"] == counts["skipped"] == 0
    predictions = build_predictions(dialogues, records, statuses)
    document: Callable[[], dict[str, Any]] | None = None
    if complete and config.dataset in SCORED_DATASETS:
        subset = config.limit_dialogues is not None
        if scorer is not None:  # scored there while this process writes the rest
            document = scorer.score_json_later(predictions, allow_subset=subset)
        else:
            document = partial(_score_here, predictions, dialogues, subset, database, goal_dialogues)
    ordered = list(records.values())
    latency, speed, streaming = latency_stats(ordered), throughput(ordered), stream_stats(ordered, percentiles)
    predictions_file = PREDICTIONS_FILE if complete else INCOMPLETE_PREDICTIONS_FILE
    with atomic_group() as group:
        group.write_json(run_dir / predictions_file, predictions)
        group.write_json(run_dir / GENERATIONS_FILE, build_generations(dialogues, records, statuses))
        scores = _mode_scores(document(), config.mode) if document is not None else None
        report = build_report(
            config=config,
            counts=counts,
            scores=scores,
            latency=latency,
            throughput=speed,
            session=session,
            streaming=streaming,
            percentiles=list(percentiles),
            provenance=provenance,
        )
        files = write_plots(run_dir, ordered, scores)
        if scores is not None:
            group.write_json(run_dir / SCORES_FILE, {**scores, "provenance": provenance} if provenance else scores)
        else:
            group.remove(run_dir / SCORES_FILE)
        group.remove(run_dir / (INCOMPLETE_PREDICTIONS_FILE if complete else PREDICTIONS_FILE))
        files += write_report(group, run_dir, report)  # last: a report means the rest is there
    files += [run_dir / predictions_file, run_dir / GENERATIONS_FILE]
    if scores is not None:
        files.append(run_dir / SCORES_FILE)
    failed = [record for record in ordered if record.status == "failed"]
    first_failure = f"{failed[0].dialogue_id} turn {failed[0].turn}: {failed[0].error}" if failed else None
    return RunOutputs(run_dir, report, files, first_failure)
