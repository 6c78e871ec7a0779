"""``spec-tod judge``: the LLM judge over a finished bench run, resumable, repeated, summarised.

Input: a bench run folder (its ``config.json`` says which dataset, split and dialogues; its
``predictions.json`` holds the responses). Each dialogue becomes one prompt
(:func:`spec_tod.judge.criteria.judge_prompt`) sent through the bench client (retries, concurrency
limit); the judge's answer is read with :func:`spec_tod.judge.criteria.read_judgment`.

Outputs in ``<run>/judge`` (or ``--out``):

* ``config.json``: what decides the judgments (prompt fingerprint, sampling, repeats, the
  predictions' fingerprint); a rerun with other settings is refused, as for bench runs;
* ``judgments-<k>.jsonl``: one line per dialogue of repeat ``k``, appended and synced as each answer
  arrives. After a SIGKILL a torn last line is dropped; a rerun judges only the dialogues without
  a line, and retries those whose request failed;
* ``judge.json`` and ``judge.md``: per criterion the mean, the number of scores and the distribution
  of 0-5; the dialogues whose answer was refused, partial or unreadable; and with two repeats or more
  the agreement of repeat 1 and 2 (exact, within one point, quadratic weighted kappa).

Repeat ``k`` samples with seed ``seed + k - 1``, so repeats are independent draws of one judge and
a rerun repeats its own draws where the server honours seeds.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from spec_tod.bench.client import CompletionClient, GenerationParams, RequestFailed
from spec_tod.bench.config import read_config, text_fingerprint
from spec_tod.bench.runner import load_inputs
from spec_tod.chat.template import load_chat_template
from spec_tod.data.dialogue import Dialogue
from spec_tod.errors import SpecTodError
from spec_tod.fileio import write_json, write_text
from spec_tod.judge.criteria import (
    MAX_NEW_TOKENS,
    MAX_SCORE,
    MIN_SCORE,
    NAMES,
    TEMPERATURE,
    TOP_P,
    judge_prompt,
    read_judgment,
)
from spec_tod.parsing import loads_json
from spec_tod.score.predictions import PREDICTIONS_FILE, load_predictions
from spec_tod.score.references import interchange_id

JUDGE_DIR = "judge"
CONFIG_FILE = "config.json"
SUMMARY_JSON = "judge.json"
SUMMARY_MD = "judge.md"


class JudgeConfig(BaseModel):
    """What decides the judgments; compared on every rerun."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt_sha256: str
    predictions_sha256: str
    template: str
    served_model: str | None
    temperature: float
    top_p: float
    max_new_tokens: int
    seed: int
    repeats: int
    dialogues: int


class Judgment(BaseModel):
    """One dialogue's judgment in one repeat: a line of ``judgments-<k>.jsonl``."""

    model_config = ConfigDict(extra="forbid")

    dialogue_id: str
    repeat: int
    status: str
    """scored, partial, refused, unreadable, or failed (the request failed; retried on a rerun)."""
    scores: dict[str, int] = {}
    note: str = ""
    text: str = ""


@dataclass
class JudgeOptions:
    run_dir: Path
    endpoints: list[str]
    data_dir: Path
    out: Path | None = None
    template: str | None = None
    """A named template or a model folder: render the prompt as one user message; ``None``: raw, as the release."""
    served_model: str | None = None
    protocol: str = "openai"
    repeats: int = 2
    temperature: float = TEMPERATURE
    top_p: float = TOP_P
    max_new_tokens: int = MAX_NEW_TOKENS
    seed: int = 0
    concurrency: int = 8
    timeout_s: float = 300.0
    max_retries: int = 5

    @property
    def folder(self) -> Path:
        return self.out if self.out is not None else self.run_dir / JUDGE_DIR


def judgments_path(folder: Path, repeat: int) -> Path:
    return folder / f"judgments-{repeat}.jsonl"


def load_judgments(path: Path) -> tuple[dict[str, Judgment], int]:
    """The latest line per dialogue and the byte length of the intact part (a torn last line is dropped)."""
    if not path.is_file():
        return {}, 0
    data = path.read_bytes()
    latest: dict[str, Judgment] = {}
    position = 0
    number = 0
    while position < len(data):
        end = data.find(b"\n", position)
        number += 1
        if end < 0:
            break
        try:
            judgment = Judgment.model_validate_json(data[position:end])
        except ValidationError:
            raise SpecTodError(
                f"{path}: line {number} is not a judgment; remove it (that dialogue is judged again) and rerun"
            ) from None
        latest[judgment.dialogue_id] = judgment
        position = end + 1
    return latest, position


class _AppendLog:
    """Appends lines durably (write + fsync per line: one judgment takes seconds, the sync does not matter)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        _, intact = load_judgments(path)
        if path.is_file() and intact != path.stat().st_size:
            os.truncate(path, intact)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, judgment: Judgment) -> None:
        data = (judgment.model_dump_json() + "\n").encode("utf-8")
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)


def dialogue_turns(dialogue: Dialogue, predicted: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """``(user, generated, reference)`` per turn of a dialogue of the run."""
    return [
        (turn.user, str(entry.get("response", "")), turn.system_delex)
        for turn, entry in zip(dialogue.turns, predicted, strict=False)
    ]


def _open(folder: Path, wanted: JudgeConfig) -> None:
    path = folder / CONFIG_FILE
    if path.is_file():
        try:
            stored = loads_json(path.read_bytes())
        except (OSError, ValueError) as error:
            stored = error
        if not isinstance(stored, dict):
            raise SpecTodError(f"{path}: not a judge configuration ({stored}); pass another --out, or delete the folder")
        differences = [
            f"{key}: {stored.get(key)!r} -> {value!r}"
            for key, value in wanted.model_dump().items()
            if stored.get(key) != value
        ]
        if differences:
            raise SpecTodError(
                f"{path}: these judge settings differ from the stored ones ({'; '.join(differences)}); "
                "rerun with the stored settings to continue, or pass another --out"
            )
        return
    write_json(path, wanted.model_dump())


def run_judge(
    options: JudgeOptions, on_start: Callable[[int, int], Callable[[int], None]] | None = None
) -> dict[str, Any]:
    """Judge every dialogue of the run ``repeats`` times (skipping those already judged); the summary."""
    config = read_config(options.run_dir)
    predictions_file = options.run_dir / PREDICTIONS_FILE
    if not predictions_file.is_file():
        raise SpecTodError(
            f"{options.run_dir}: no {PREDICTIONS_FILE} yet; finish the bench run (rerun its command) first"
        )
    predictions = load_predictions(predictions_file)
    inputs = load_inputs(config.dataset, options.data_dir, config.split, config.limit_dialogues)
    render = _renderer(options.template)
    prompts = {}
    for dialogue in inputs.dialogues:
        predicted = predictions.get(interchange_id(dialogue.id))
        if predicted is None:
            raise SpecTodError(
                f"{predictions_file}: no predictions for dialogue {dialogue.id}; is this the run's data folder?"
            )
        prompts[dialogue.id] = render(judge_prompt(dialogue_turns(dialogue, predicted)))
    judge_config = JudgeConfig(
        prompt_sha256=text_fingerprint(judge_prompt([])),
        predictions_sha256=hashlib.sha256(predictions_file.read_bytes()).hexdigest(),
        template=options.template or "none (raw prompt, as the release)",
        served_model=options.served_model,
        temperature=options.temperature,
        top_p=options.top_p,
        max_new_tokens=options.max_new_tokens,
        seed=options.seed,
        repeats=options.repeats,
        dialogues=len(prompts),
    )
    folder = options.folder
    _open(folder, judge_config)
    stop = tuple(load_chat_template(options.template).stop_strings) if options.template else ()
    asyncio.run(_judge_all(options, prompts, stop, on_start))
    results = {k: load_judgments(judgments_path(folder, k))[0] for k in range(1, options.repeats + 1)}
    summary = summarise(results, list(prompts))
    write_json(folder / SUMMARY_JSON, summary)
    write_text(folder / SUMMARY_MD, render_summary(summary))
    return summary


def _renderer(template: str | None) -> Callable[[str], str]:
    if template is None:
        return lambda prompt: prompt
    chat = load_chat_template(template)
    return lambda prompt: chat.render([{"role": "user", "content": prompt}]).text


async def _judge_all(
    options: JudgeOptions,
    prompts: dict[str, str],
    stop: Sequence[str],
    on_start: Callable[[int, int], Callable[[int], None]] | None,
) -> None:
    todo: list[tuple[int, str]] = []
    logs: dict[int, _AppendLog] = {}
    already = 0
    for repeat in range(1, options.repeats + 1):
        path = judgments_path(options.folder, repeat)
        done, _ = load_judgments(path)
        logs[repeat] = _AppendLog(path)
        for dialogue_id in prompts:
            if dialogue_id in done and done[dialogue_id].status != "failed":
                already += 1
            else:
                todo.append((repeat, dialogue_id))
    progress = on_start(already + len(todo), already) if on_start is not None else None
    client = CompletionClient(
        options.endpoints,
        protocol=options.protocol,  # type: ignore[arg-type]
        model=options.served_model,
        concurrency=options.concurrency,
        timeout_s=options.timeout_s,
        max_retries=options.max_retries,
    )

    async def one(repeat: int, dialogue_id: str) -> None:
        params = GenerationParams(
            max_new_tokens=options.max_new_tokens,
            temperature=options.temperature,
            top_p=options.top_p,
            stop=tuple(stop),
            seed=options.seed + repeat - 1,
        )
        try:
            completion = await client.complete(prompts[dialogue_id], params)
        except RequestFailed as error:
            judgment = Judgment(dialogue_id=dialogue_id, repeat=repeat, status="failed", note=str(error)[:300])
        else:
            reading = read_judgment(completion.text)
            judgment = Judgment(
                dialogue_id=dialogue_id,
                repeat=repeat,
                status=reading.status,
                scores=reading.scores,
                note=reading.note,
                text=completion.text,
            )
        logs[repeat].append(judgment)
        if progress is not None:
            progress(1)

    try:
        async with client:
            await asyncio.gather(*(one(repeat, dialogue_id) for repeat, dialogue_id in todo))
    finally:
        for log in logs.values():
            log.close()


# ---- summary -----------------------------------------------------------------------------------


def quadratic_kappa(first: Sequence[int], second: Sequence[int]) -> float | None:
    """Cohen's kappa with quadratic weights on the 0-5 scale; ``None`` when undefined (no variation)."""
    if not first:
        return None
    categories = range(MIN_SCORE, MAX_SCORE + 1)
    count = len(first)
    observed = Counter(zip(first, second, strict=True))
    left, right = Counter(first), Counter(second)
    span = (MAX_SCORE - MIN_SCORE) ** 2
    disagreement = sum((a - b) ** 2 / span * observed[a, b] / count for a in categories for b in categories)
    expected = sum((a - b) ** 2 / span * left[a] * right[b] / count**2 for a in categories for b in categories)
    return None if expected == 0 else 1 - disagreement / expected


def summarise(results: dict[int, dict[str, Judgment]], dialogue_ids: list[str]) -> dict[str, Any]:
    """Means, distributions and problems per repeat; agreement of repeats 1 and 2."""
    repeats: dict[str, Any] = {}
    for repeat, judged in results.items():
        statuses = Counter(judged[d].status if d in judged else "missing" for d in dialogue_ids)
        criteria = {}
        for name in NAMES:
            values = [judged[d].scores[name] for d in dialogue_ids if d in judged and name in judged[d].scores]
            criteria[name] = {
                "n": len(values),
                "mean": sum(values) / len(values) if values else None,
                "distribution": {str(score): values.count(score) for score in range(MIN_SCORE, MAX_SCORE + 1)},
            }
        problems = {
            status: sorted(d for d in dialogue_ids if d in judged and judged[d].status == status)
            for status in ("refused", "partial", "unreadable", "failed")
        }
        repeats[str(repeat)] = {"statuses": dict(statuses), "criteria": criteria, "problems": problems}
    agreement = None
    if 1 in results and 2 in results:
        agreement = {}
        for name in NAMES:
            pairs = [
                (results[1][d].scores[name], results[2][d].scores[name])
                for d in dialogue_ids
                if d in results[1] and d in results[2] and name in results[1][d].scores and name in results[2][d].scores
            ]
            first, second = [a for a, _ in pairs], [b for _, b in pairs]
            agreement[name] = {
                "pairs": len(pairs),
                "exact": sum(a == b for a, b in pairs) / len(pairs) if pairs else None,
                "within_one": sum(abs(a - b) <= 1 for a, b in pairs) / len(pairs) if pairs else None,
                "mean_abs_diff": sum(abs(a - b) for a, b in pairs) / len(pairs) if pairs else None,
                "quadratic_kappa": quadratic_kappa(first, second),
            }
    return {"dialogues": len(dialogue_ids), "repeats": repeats, "agreement": agreement}


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def render_summary(summary: dict[str, Any]) -> str:
    """``judge.md``."""
    lines = ["# spec-tod judge", ""]
    for repeat, data in summary["repeats"].items():
        statuses = ", ".join(f"{count} {status}" for status, count in sorted(data["statuses"].items()))
        lines += [f"## Repeat {repeat}: {summary['dialogues']} dialogues ({statuses})", ""]
        lines += ["| criterion | mean | n | " + " | ".join(str(s) for s in range(MIN_SCORE, MAX_SCORE + 1)) + " |"]
        lines += ["|" + " --- |" * (3 + MAX_SCORE - MIN_SCORE + 1)]
        for name, stats in data["criteria"].items():
            counts = " | ".join(str(stats["distribution"][str(s)]) for s in range(MIN_SCORE, MAX_SCORE + 1))
            lines.append(f"| {name} | {_fmt(stats['mean'])} | {stats['n']} | {counts} |")
        for status, ids in data["problems"].items():
            if ids:
                shown = ", ".join(ids[:10]) + (" ..." if len(ids) > 10 else "")
                lines += ["", f"{status}: {len(ids)} ({shown})"]
        lines.append("")
    if summary["agreement"]:
        lines += [
            "## Agreement of repeats 1 and 2",
            "",
            "| criterion | pairs | exact | within one | mean abs diff | quadratic kappa |",
        ]
        lines.append("|" + " --- |" * 6)
        for name, stats in summary["agreement"].items():
            lines.append(
                f"| {name} | {stats['pairs']} | {_fmt(stats['exact'])} | {_fmt(stats['within_one'])} | "
                f"{_fmt(stats['mean_abs_diff'])} | {_fmt(stats['quadratic_kappa'])} |"
            )
    return "\n".join(lines) + "\n"
