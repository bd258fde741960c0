"""val_still_improving: a validation loss still reaching new lows when the log ends."""

from __future__ import annotations

import numpy as np

from tests.symptoms.synth import HEALTHY, facts, make_run

STEPS = np.arange(0, 800, 5)
VAL_STEPS = np.arange(50, 801, 50)


def _run(val: np.ndarray, seed: int = 0):
    rng = np.random.default_rng(seed)
    train = 2.3 * np.exp(-STEPS / 2000) + rng.normal(0, 0.08, STEPS.size)
    return make_run(train_loss=(STEPS, train), val_loss=(VAL_STEPS, val))


def test_a_run_stopped_while_validation_still_falls_is_still_improving():
    val = 2.3 * np.exp(-VAL_STEPS / 1500)  # far from converged at step 800
    fact = facts(_run(val))["val_still_improving"]
    assert fact.value is True and fact.certainty > 0.5


def test_a_levelled_off_validation_is_not_still_improving():
    val = 0.4 + 1.9 * np.exp(-VAL_STEPS / 80)  # converged by step ~400
    assert facts(_run(val))["val_still_improving"].value is False


def test_a_rising_validation_is_not_still_improving():
    val = np.concatenate([np.linspace(2.0, 0.8, 8), np.linspace(0.82, 1.2, 8)])
    assert facts(_run(val))["val_still_improving"].value is False


def test_healthy_families_never_get_a_likely_cause_from_it():
    from nndoctor.pipeline import diagnose_run

    for name, make in HEALTHY.items():
        d = diagnose_run(make(), questions=0).diagnosis
        assert d.alarming("likely") == (), name


def _lr_run(lr: np.ndarray):
    steps = np.arange(lr.size) * 10
    return make_run(train_loss=(steps, np.linspace(2.0, 0.5, lr.size)), lr=(steps, lr))


def test_a_warmup_and_linear_decay_to_zero_is_a_completed_schedule():
    warm = np.linspace(0.0, 1e-3, 10)
    decay = np.linspace(1e-3, 1e-5, 90)
    assert facts(_lr_run(np.concatenate([warm, decay])))["lr_schedule_completed"].value is True


def test_a_constant_or_early_dying_schedule_is_not_completed():
    assert facts(_lr_run(np.full(100, 1e-3)))["lr_schedule_completed"].value is False
    died = np.concatenate([np.linspace(1e-3, 1e-6, 30), np.full(70, 1e-6)])
    assert facts(_lr_run(died))["lr_schedule_completed"].value is False
