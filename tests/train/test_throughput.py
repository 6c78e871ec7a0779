"""Training throughput read from axolotl's log: lines of real runs (the tiny model on a CPU with spec-tod's dev
evaluation; axolotl's own evaluation line is from the H200 run of docs/speed.md)."""

from __future__ import annotations

import pytest

from spec_tod.train.throughput import DEV_EVAL_MARK, train_throughput

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


def test_the_steady_rate_leaves_out_the_warm_up_and_the_windows_that_evaluated() -> None:
    """axolotl's rate of each window covers the time since the previous log: an evaluation in it would count."""
    log = "\n".join([
        "{'loss': '7.6', 'tokens/trainable': 100, 'tokens/total': 400}",
        "{'loss': '7.5', 'tokens/train_per_sec_per_gpu': '5.0', 'tokens/trainable': 200, 'tokens/total': 800}",
        "{'loss': '7.4', 'tokens/train_per_sec_per_gpu': '50.0', 'tokens/trainable': 300, 'tokens/total': 1200}",
        "{'eval_loss': '8.6', 'eval_runtime': '3.0'}",
        "{'loss': '7.3', 'tokens/train_per_sec_per_gpu': '10.0', 'tokens/trainable': 400, 'tokens/total': 1600}",
        "{'loss': '7.2', 'tokens/train_per_sec_per_gpu': '100.0', 'tokens/trainable': 520, 'tokens/total': 2000}",
        f" 83%|########  | 5/6 [00:07<00:02,  2.1s/it]{DEV_EVAL_MARK} step 6: bleu 0.04 (2 dev dialogues, 9.0 s)",
        "{'loss': '7.1', 'tokens/train_per_sec_per_gpu': '1.0', 'tokens/trainable': 600, 'tokens/total': 2400}",
        "{'loss': '7.0', 'tokens/train_per_sec_per_gpu': '80.0', 'tokens/trainable': 680, 'tokens/total': 2800}",
        "{'train_runtime': '30.0', 'train_samples_per_second': '0.4', 'train_steps_per_second': '0.233'}",
    ]) + "\n"  # fmt: skip
    figures = train_throughput(log, paused_s=9.0)
    assert figures is not None and figures.steps == 7
    # steps 1-2 are the warm-up; 4 followed an evaluation; 6 held the dev evaluation
    assert figures.steady_steps == 3
    assert figures.steady_trainable_tokens_per_s == pytest.approx((100 + 120 + 80) / (100 / 50 + 120 / 100 + 80 / 80))
    assert figures.trainable_tokens_per_s == pytest.approx(680 / (30.0 - 9.0 - 3.0))


def test_a_run_of_warm_up_only_has_no_steady_rate() -> None:
    figures = train_throughput(LOG)
    assert figures is not None and (figures.steady_steps, figures.steady_trainable_tokens_per_s) == (0, None)
