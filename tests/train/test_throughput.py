"""Training throughput read from axolotl's log: lines of real runs (the tiny model on a CPU with spec-tod's dev
evaluation; axolotl's own evaluation line is from the H200 run of docs/speed.md)."""

from __future__ import annotations

import pytest

from spec_tod.train.throughput import train_throughput

LOG = (
    "\n".join(
        [
            "  0%|          | 0/4 [00:00<?, ?it/s]",
            "{'loss': '7.638', 'grad_norm': '0.1561', 'learning_rate': '0.001', 'ppl': '2076', 'memory/max_active (GiB)': '0', 'tokens/trainable': 85, 'tokens/total': 234, 'epoch': '0.02439'}",  # noqa: E501
            " 50%|#####     | 2/4 [00:07<00:07,  3.91s/it][spec-tod dev eval] step 2: bleu 0.04, combined 0.04 (2 dev dialogues, 67.2 s)",  # noqa: E501
            "{'eval_loss': '8.663', 'eval_runtime': '3.633', 'eval_samples_per_second': '1.101', 'eval_ppl': '5784', 'epoch': '0.05'}",
            "{'loss': '7.654', 'grad_norm': '0.1062', 'tokens/train_per_sec_per_gpu': '2.68', 'tokens/trainable': 281, 'tokens/total': 1932, 'epoch': '0.07317'}",  # noqa: E501
            "100%|##########| 4/4 [01:17<00:00, 20.63s/it]{'train_runtime': '139.1', 'train_samples_per_second': '0.058', 'train_steps_per_second': '0.029', 'train_loss': '7.653', 'epoch': '0.09756'}",  # noqa: E501
        ]
    )
    + "\n"
)


def test_rates_exclude_the_time_spent_evaluating() -> None:
    """spec-tod's dev evaluation (given) and axolotl's own (its eval_runtime entries) both paused training."""
    figures = train_throughput(LOG, paused_s=67.2 + 58.7)
    assert figures is not None
    assert (figures.steps, figures.tokens, figures.trainable_tokens) == (4, 1932, 281)
    assert figures.paused_s == pytest.approx(125.9 + 3.633)
    training = 139.1 - 125.9 - 3.633
    assert figures.steps_per_s == pytest.approx(4 / training)
    assert figures.tokens_per_s == pytest.approx(1932 / training)
    assert figures.samples_per_s == pytest.approx(0.058 * 139.1 / training)


def test_a_resumed_runs_earlier_evaluations_are_not_this_trainings() -> None:
    earlier = "{'eval_loss': '9.1', 'eval_runtime': '50.0'}\n{'train_runtime': '80.0', 'train_steps_per_second': '0.05'}\n"
    figures = train_throughput(earlier + LOG)
    assert figures is not None and figures.paused_s == pytest.approx(3.633)


def test_an_unfinished_training_has_no_figures() -> None:
    assert train_throughput(LOG.rsplit("\n", 2)[0]) is None
