"""The run's own numbers that fix texts show: the p90 gradient norm, the last learning rate, how
far training got and where the validation loss was best - in optimisation steps."""

from __future__ import annotations

import numpy as np

from tests.symptoms.synth import facts, make_run, value

STEPS = np.arange(0, 2000, 10)


def _loss(steps: np.ndarray = STEPS) -> tuple[np.ndarray, np.ndarray]:
    return steps, 2.3 * np.exp(-steps / 800) + 0.2


def test_p90_gradient_norm_is_the_percentile_of_the_logged_norms():
    rng = np.random.default_rng(0)
    norms = rng.lognormal(0.0, 0.3, STEPS.size)
    fact = facts(make_run(train_loss=_loss(), grad_norm=(STEPS, norms)))["grad_norm_p90"]
    assert fact.value == float(np.percentile(norms, 90))
    assert "90th percentile of 200 logged gradient norms" in fact.evidence


def test_p90_gradient_norm_ignores_the_blow_up_and_placeholders():
    rng = np.random.default_rng(1)
    norms = rng.lognormal(0.0, 0.2, STEPS.size)
    norms[::7] = 0.0  # a logger's placeholder on skipped steps
    norms[150:] = np.inf  # the run blew up at step 1500
    fact = facts(make_run(train_loss=_loss(), grad_norm=(STEPS, norms)))["grad_norm_p90"]
    sane = norms[:150][norms[:150] > 0]
    assert fact.value == float(np.percentile(sane, 90)) and "before step 1500" in fact.evidence


def test_no_p90_when_the_norms_were_absurd_from_the_start():
    norms = np.full(STEPS.size, 5e6)
    assert value(make_run(train_loss=_loss(), grad_norm=(STEPS, norms)), "grad_norm_p90") is None


def test_the_last_learning_rate_and_the_steps_trained():
    lr = np.linspace(0.1, 0.001, STEPS.size)
    found = facts(make_run(train_loss=_loss(), lr=(STEPS, lr)))
    assert found["lr"].value == 0.1 and found["lr_final"].value == lr[-1]
    assert found["steps_trained"].value == 1990.0


def test_steps_on_an_epoch_axis_count_the_epochs_times_the_steps_per_epoch():
    epochs = np.arange(0, 30)
    val = 1.0 + 0.02 * (epochs - 11) ** 2  # lowest after the 12th epoch (0-based 11)
    context = {"step_unit": "epoch", "steps_per_epoch": 50}
    run = make_run(context, train_loss=_loss(epochs), val_loss=(epochs, val))
    assert value(run, "steps_trained") == 30 * 50.0
    assert value(run, "val_loss_best_step") == 12 * 50.0
    unknown = make_run({"step_unit": "epoch"}, train_loss=_loss(epochs), val_loss=(epochs, val))
    assert value(unknown, "steps_trained") is None and value(unknown, "val_loss_best_step") is None


def test_the_best_validation_step_on_a_step_axis():
    val_steps = np.arange(100, 2001, 100)
    val = 1.0 + ((val_steps - 800) / 1000.0) ** 2
    found = facts(make_run(train_loss=_loss(), val_loss=(val_steps, val)))
    assert found["val_loss_best_step"].value == 800.0
    assert "after 800 optimisation steps" in found["val_loss_best_step"].evidence
