"""The loss rising in the first steps (the first updates overshot), and Hugging Face's 0.0
placeholders for NaN losses read as NaN."""

from __future__ import annotations

import numpy as np
import pytest

from tests.symptoms.test_detectors import facts, healthy_run, make_run

STEPS = np.arange(2, 400, 2)


def _rise_then_recover(peak: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = 0.9 + 0.5 * np.exp(-STEPS / 100) + rng.normal(0, 0.02, STEPS.size)
    bump = (peak - 1.4) * np.exp(-((STEPS - 10) / 6.0) ** 2)  # up by step 10, gone by 30
    return base + np.clip(bump, 0, None)


def test_a_loss_that_triples_early_and_recovers_rises_at_start():
    fact = facts(make_run(train_loss=(STEPS, _rise_then_recover(4.5))))["loss_rises_at_start"]
    assert fact.value is True and fact.certainty >= 0.6
    assert "overshot" in fact.evidence


@pytest.mark.parametrize("seed", range(6))
def test_healthy_noisy_runs_do_not_rise_at_start(seed):
    fact = facts(healthy_run(seed, noise=0.02 + 0.01 * seed))["loss_rises_at_start"]
    assert fact.value is False


def test_a_rise_that_never_comes_back_is_no_transient():
    values = np.where(STEPS < 20, 1.4, 5.0)  # a lasting blow-up: loss_exploded's business
    assert facts(make_run(train_loss=(STEPS, values)))["loss_rises_at_start"].value is False


def test_noise_as_large_as_the_rise_is_no_rise():
    rng = np.random.default_rng(3)
    values = np.abs(1.0 + rng.normal(0, 1.0, STEPS.size)) + 0.05  # first point may be low
    fact = facts(make_run(train_loss=(STEPS, values))).get("loss_rises_at_start")
    assert fact is None or fact.value is False


def test_a_loss_that_goes_negative_is_not_judged():
    values = -_rise_then_recover(4.5)
    assert "loss_rises_at_start" not in facts(make_run(train_loss=(STEPS, values)))


def _nan_run(zeros_from: int) -> dict:
    steps = np.arange(5, 100, 5)
    train = np.linspace(2.4, 2.0, steps.size)
    train[steps >= zeros_from] = 0.0
    grad = np.linspace(1.5, 0.7, steps.size)
    grad[steps >= 65] = np.nan
    val_steps = np.arange(10, 100, 10)
    val = np.linspace(2.2, 2.0, val_steps.size)
    val[val_steps >= 70] = np.nan
    return facts(make_run({"num_classes": 10}, train_loss=(steps, train),
                          grad_norm=(steps, grad), val_loss=(val_steps, val)))


def test_zeros_after_the_run_turned_non_finite_are_nan_not_a_perfect_fit():
    found = _nan_run(zeros_from=70)
    assert found["zero_loss"].value is False and "placeholder" in found["zero_loss"].evidence
    assert found["generalization_gap"].value != "large"  # no train loss of 0 to compare with


def test_zeros_before_anything_broke_stay_zeros():
    assert _nan_run(zeros_from=30)["zero_loss"].value is True
