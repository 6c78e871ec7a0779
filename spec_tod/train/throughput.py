"""Training throughput from axolotl's log: optimizer steps (it/s), samples and tokens per second.

The HF Trainer prints its log dicts to the log (``{'loss': '7.638', ..., 'tokens/total': 234}``)
and at the end ``{'train_runtime': '139.1', 'train_steps_per_second': '0.029', ...}``; axolotl's
token counter (``include_tkps``, on by default) adds the running ``tokens/total`` (every position of
the batches, padding included: axolotl 0.19 counts ``numel``, so a row padded to ``sequence_len``
counts whole) and ``tokens/trainable`` (tokens with labels: the work, the same for the same records
however they are batched). The figures are read from the last of each. Evaluation during training
pauses the training loop: axolotl's own (its ``eval_runtime`` entries) and spec-tod's dev evaluation
(``paused_s``) are both taken out of the runtime, so the rates are those of training alone.

The whole run's rates include its first steps, where one-time costs fall (CUDA's start, compiling
Triton kernels such as Liger's, the allocator's growth): over a short run they can outweigh the
steps themselves. The steady rate leaves them out. axolotl logs, with each step's loss, the
trainable tokens/s per GPU since the previous log (``tokens/train_per_sec_per_gpu``); the steady rate
combines those windows after the first :data:`WARMUP_WINDOWS` logs, leaving out any window in which
an evaluation ran (axolotl's evaluation runs after the step's log, so in the next window; spec-tod's
dev evaluation runs before it and marks the log with :data:`DEV_EVAL_MARK`).
"""

from __future__ import annotations

import ast
from dataclasses import asdict, dataclass
from typing import Any, cast

WARMUP_WINDOWS = 2
"""Logged windows left out of the steady rate: steps 1-2 at axolotl's ``logging_steps: 1``."""

DEV_EVAL_MARK = "[spec-tod dev eval]"
"""How spec-tod's dev evaluation starts its line in the training log."""


@dataclass(frozen=True)
class TrainThroughput:
    runtime_s: float
    paused_s: float
    steps: int | None
    steps_per_s: float | None
    samples_per_s: float | None
    tokens: int | None
    trainable_tokens: int | None
    tokens_per_s: float | None
    trainable_tokens_per_s: float | None
    steady_steps: int
    """Logged windows in the steady rate (optimizer steps at ``logging_steps: 1``); 0: no steady rate."""
    steady_trainable_tokens_per_s: float | None
    """Per GPU (on one GPU, the run's), without the warm-up and the windows that evaluated."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def log_entries(log: str) -> list[dict[str, Any]]:
    """The HF Trainer's log dicts in ``log`` (losses, evaluations, the final figures), in order."""
    return [item for item in _log_items(log) if isinstance(item, dict)]


def _log_items(log: str) -> list[dict[str, Any] | str]:
    """The log dicts and the dev evaluations' marks (:data:`DEV_EVAL_MARK`), in order."""
    found: list[dict[str, Any] | str] = []
    for line in log.splitlines():
        pieces: list[tuple[int, dict[str, Any] | str]] = []
        if (mark := line.find(DEV_EVAL_MARK)) >= 0:
            pieces.append((mark, DEV_EVAL_MARK))
        if (start := line.find("{'")) >= 0 and line.rstrip().endswith("}"):
            try:
                value = ast.literal_eval(line[start:].strip())
            except (ValueError, SyntaxError):
                value = None
            if isinstance(value, dict):
                pieces.append((start, value))
        found.extend(item for _, item in sorted(pieces, key=lambda piece: piece[0]))
    return found


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def train_throughput(log: str, paused_s: float = 0.0) -> TrainThroughput | None:
    """The throughput of the last training in ``log``; ``None`` when it did not finish.

    ``paused_s`` is the time spec-tod's dev evaluation took during that training.
    """
    items = _log_items(log)
    entries = [item for item in items if isinstance(item, dict)]
    ends = [index for index, item in enumerate(items) if isinstance(item, dict) and "train_runtime" in item]
    if not ends:
        return None
    final = cast(dict[str, Any], items[ends[-1]])
    # A resumed run's log holds the earlier trainings too: only this one's evaluations paused it.
    own = items[ends[-2] + 1 if len(ends) > 1 else 0 : ends[-1]]
    paused_s += sum(_number(item.get("eval_runtime")) or 0.0 for item in own if isinstance(item, dict))
    steady_tokens, steady_seconds = _steady_windows(own)
    runtime = _number(final["train_runtime"]) or 0.0
    training = max(runtime - paused_s, 1e-9)
    counted: dict[str, Any] = next((entry for entry in reversed(entries) if "tokens/total" in entry), {})
    tokens = _number(counted.get("tokens/total"))
    trainable = _number(counted.get("tokens/trainable"))
    steps_per_s = _number(final.get("train_steps_per_second"))
    samples_per_s = _number(final.get("train_samples_per_second"))
    steps = round(steps_per_s * runtime) if steps_per_s is not None else None
    return TrainThroughput(
        runtime_s=runtime,
        paused_s=paused_s,
        steps=steps,
        steps_per_s=steps / training if steps is not None else None,
        samples_per_s=samples_per_s * runtime / training if samples_per_s is not None else None,
        tokens=int(tokens) if tokens is not None else None,
        trainable_tokens=int(trainable) if trainable is not None else None,
        tokens_per_s=tokens / training if tokens is not None else None,
        trainable_tokens_per_s=trainable / training if trainable is not None else None,
        steady_steps=len(steady_tokens),
        steady_trainable_tokens_per_s=sum(steady_tokens) / sum(steady_seconds) if steady_tokens else None,
    )


def _steady_windows(items: list[dict[str, Any] | str]) -> tuple[list[int], list[float]]:
    """The trainable tokens and the tokens over the rate of each logged window after the warm-up that did not evaluate.

    A window's tokens over its rate (per GPU) are its seconds times the number of GPUs, so the sums
    give the rate per GPU however many there are.
    """
    tokens: list[int] = []
    seconds: list[float] = []
    logs = 0
    previous: float | None = None
    evaluated = False
    for item in items:
        if isinstance(item, str) or "eval_runtime" in item:
            evaluated = True
            continue
        trainable = _number(item.get("tokens/trainable"))
        if "loss" not in item or trainable is None:
            continue
        logs += 1
        rate = _number(item.get("tokens/train_per_sec_per_gpu"))
        if logs > WARMUP_WINDOWS and not evaluated and previous is not None and rate and trainable > previous:
            tokens.append(int(trainable - previous))
            seconds.append((trainable - previous) / rate)
        previous, evaluated = trainable, False
    return tokens, seconds
