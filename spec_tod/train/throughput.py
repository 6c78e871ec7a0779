"""Training throughput from axolotl's log: optimizer steps (it/s), samples and tokens per second.

The HF Trainer prints its log dicts to the log (``{'loss': '7.638', ..., 'tokens/total': 234}``)
and at the end ``{'train_runtime': '139.1', 'train_steps_per_second': '0.029', ...}``; axolotl's
token counter (``include_tkps``, on by default) adds the running ``tokens/total`` (every position of
the batches, padding included: axolotl 0.19 counts ``numel``, so a row padded to ``sequence_len``
counts whole) and ``tokens/trainable`` (tokens with labels: the work, the same for the same records
however they are batched). The figures are read from the last of each. Evaluation during training
pauses the training loop: axolotl's own (its ``eval_runtime`` entries) and spec-tod's dev evaluation
(``paused_s``) are both taken out of the runtime, so the rates are those of training alone.
"""

from __future__ import annotations

import ast
from dataclasses import asdict, dataclass
from typing import Any


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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def log_entries(log: str) -> list[dict[str, Any]]:
    """The HF Trainer's log dicts in ``log`` (losses, evaluations, the final figures), in order."""
    found = []
    for line in log.splitlines():
        start = line.find("{'")
        if start < 0 or not line.rstrip().endswith("}"):
            continue
        try:
            value = ast.literal_eval(line[start:].strip())
        except (ValueError, SyntaxError):
            continue
        if isinstance(value, dict):
            found.append(value)
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
    entries = log_entries(log)
    ends = [index for index, entry in enumerate(entries) if "train_runtime" in entry]
    if not ends:
        return None
    final = entries[ends[-1]]
    # A resumed run's log holds the earlier trainings too: only this one's evaluations paused it.
    own = entries[ends[-2] + 1 if len(ends) > 1 else 0 : ends[-1]]
    paused_s += sum(_number(entry.get("eval_runtime")) or 0.0 for entry in own)
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
    )
