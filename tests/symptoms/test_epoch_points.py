"""A loss logged once per epoch (step_unit "epoch": Keras, fastai, Sacred, epoch-level CSVs) is
an average over, or an evaluation after, a whole epoch (adapters/symptoms/curves.py): its first
point is no untrained loss, and it keeps little of the mini-batch noise, so a large swing from
epoch to epoch is the loss going up and down - oscillation - even while its trend falls."""

from __future__ import annotations

import numpy as np
import pytest

from tests.symptoms.synth import make_run, value

EPOCHS = np.arange(12)
SWINGS = np.array([2.7, 1.0, 2.8, 2.0, 1.3, 1.8, 0.4, 1.0, 1.7, 1.0, 0.8, 1.7])  # lr too high


@pytest.mark.parametrize("unit", ["epoch", "step"])
def test_a_large_swing_is_oscillation_on_epochs_and_noise_on_steps(unit: str) -> None:
    run = make_run({"step_unit": unit, "num_classes": 4}, train_loss=(EPOCHS, SWINGS))
    assert value(run, "train_loss_trend") == "decreasing"
    assert value(run, "loss_oscillating") is (unit == "epoch")
    assert value(run, "loss_noisy_but_trending_down") is (unit == "step")


def test_a_smooth_epoch_curve_does_not_oscillate() -> None:
    loss = 1.2 * np.exp(-EPOCHS / 4) + 0.2
    run = make_run({"step_unit": "epoch", "num_classes": 4}, train_loss=(EPOCHS, loss))
    assert value(run, "loss_oscillating") is False
    assert value(run, "loss_noisy_but_trending_down") is False


def test_the_first_epoch_point_is_no_untrained_loss() -> None:
    """0.7 after a whole epoch of a 4-class run is learning, not a loss below ln 4; far above
    ln 4 is still far above (an average can only have fallen from a higher start)."""
    low = 0.5 * np.exp(-EPOCHS / 4) + 0.2
    assert value(make_run({"step_unit": "epoch", "num_classes": 4},
                          train_loss=(EPOCHS, low)), "initial_loss_vs_expected") is None
    assert value(make_run({"num_classes": 4}, train_loss=(EPOCHS, low)),
                 "initial_loss_vs_expected") == "much_lower"
    high = 5.0 * np.exp(-EPOCHS / 4) + 0.2
    assert value(make_run({"step_unit": "epoch", "num_classes": 4},
                          train_loss=(EPOCHS, high)), "initial_loss_vs_expected") == "much_higher"
