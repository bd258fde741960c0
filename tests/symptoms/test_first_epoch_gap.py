"""The first epoch, when no training example has been seen twice (adapters/symptoms/validation.py):
val_gap_in_first_epoch - a validation loss far above the training loss at an evaluation inside
it, when the training loss is itself a held-out loss - and val_worse_since_first_epoch - a
validation loss at its best inside it and worse ever since. Overfitting, which opens its gap over
the epochs, is neither; an unknown epoch length leaves both unknown."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tests.symptoms.synth import HEALTHY, make_run, value

STEPS = np.arange(1, 301)  # 3 epochs of 100 steps
EVALS = np.arange(50, 301, 50)  # twice per epoch
TRAIN = 0.6 + 1.7 * np.exp(-STEPS / 60)


def _run(val: np.ndarray, context: dict | None = None) -> object:
    return make_run({"steps_per_epoch": 100} if context is None else context,
                    train_loss=(STEPS, TRAIN), val_loss=(EVALS, val))


def test_validation_far_above_training_half_an_epoch_in() -> None:
    val = TRAIN[EVALS - 1] + 0.6  # a gap of ~26 % of the initial loss from the start
    run = _run(val)
    assert value(run, "val_gap_in_first_epoch") is True


def test_a_gap_that_opens_at_a_later_evaluation_inside_the_first_epoch() -> None:
    """Padding left in the labels: the training loss falls faster than the validation loss from
    the start; at the first evaluation (step 10) the two still agree, at the second (step 90,
    still inside epoch 1) validation is far above a training loss that is still held out."""
    evals = np.array([10, 90, 150, 200, 250, 300])
    val = TRAIN[evals - 1] + np.array([0.0, 0.5, 0.55, 0.6, 0.6, 0.6])
    run = make_run({"steps_per_epoch": 100}, train_loss=(STEPS, TRAIN), val_loss=(evals, val))
    assert value(run, "val_gap_in_first_epoch") is True
    tracking = TRAIN[evals - 1] + 0.02  # both first-epoch evaluations on the training curve
    run = make_run({"steps_per_epoch": 100}, train_loss=(STEPS, TRAIN),
                   val_loss=(evals, tracking))
    assert value(run, "val_gap_in_first_epoch") is False


def test_overfitting_opens_its_gap_later_and_is_no_first_epoch_gap() -> None:
    val = TRAIN[EVALS - 1] + np.array([0.0, 0.02, 0.2, 0.4, 0.6, 0.8])
    assert value(_run(val), "val_gap_in_first_epoch") is False


def test_unknown_epoch_length_or_a_first_evaluation_after_the_first_epoch_says_nothing() -> None:
    val = TRAIN[EVALS - 1] + 0.6
    assert value(_run(val, context={}), "val_gap_in_first_epoch") is None
    late = make_run({"steps_per_epoch": 20}, train_loss=(STEPS, TRAIN), val_loss=(EVALS, val))
    assert value(late, "val_gap_in_first_epoch") is None  # first evaluation 2.5 epochs in


def test_validation_best_in_the_first_epoch_and_worse_ever_since() -> None:
    val = 1.8 + 0.1 * np.arange(EVALS.size)  # best at step 50 (half an epoch), then rising
    assert value(_run(val), "val_worse_since_first_epoch") is True
    assert value(_run(val, context={}), "val_worse_since_first_epoch") is None
    tiny = make_run({"steps_per_epoch": 5}, train_loss=(STEPS, TRAIN), val_loss=(EVALS, val))
    assert value(tiny, "val_worse_since_first_epoch") is None  # 5-step epochs: tiny data


def test_overfitting_after_an_improving_phase_is_not_worse_since_the_first_epoch() -> None:
    val = np.array([2.0, 1.5, 1.2, 1.1, 1.3, 1.6])  # best 2 epochs in, then rising
    assert value(_run(val), "val_worse_since_first_epoch") is False


@pytest.mark.parametrize("name", sorted(HEALTHY))
def test_healthy_families_show_no_first_epoch_gap(name: str) -> None:
    """Each healthy family with its first evaluation at the end of the first epoch."""
    run = HEALTHY[name]()
    val = run.get("val_loss")
    if val is None or run.context.get("step_unit") == "epoch":
        pytest.skip("no validation curve on a step axis")
    run = replace(run, context={**run.context, "steps_per_epoch": max(int(val.steps[0]), 1)})
    assert value(run, "val_gap_in_first_epoch") is False
    assert value(run, "val_worse_since_first_epoch") is not True
