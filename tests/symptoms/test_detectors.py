"""Detectors on synthetic curves with known shapes; healthy noisy runs must stay healthy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nndoctor.adapters.run import Run, Series
from nndoctor.adapters.symptoms import derive_facts
from nndoctor.adapters.symptoms.base import DETECTORS
from nndoctor.knowledge.loader import builtin_knowledge_base
from nndoctor.pipeline import diagnose_run

KB = builtin_knowledge_base()
STEPS = np.arange(0, 5000, 10)
VAL_STEPS = np.arange(0, 5000, 250)


def make_run(context=None, **series) -> Run:
    built = {}
    for name, (steps, values) in series.items():
        built[name] = Series.from_pairs(steps, values, name)
    return Run("synthetic", Path("synthetic"), "test", built, context or {})


def facts(run: Run) -> dict:
    return {f.name: f for f in derive_facts(run, KB)}


def healthy_run(seed: int, noise: float = 0.05) -> Run:
    rng = np.random.default_rng(seed)
    tau = rng.uniform(500, 1500)
    train = 2.3 * np.exp(-STEPS / tau) + 0.2 + rng.normal(0, noise, STEPS.size)
    val = 2.3 * np.exp(-VAL_STEPS / tau) + 0.25 + rng.normal(0, noise / 3, VAL_STEPS.size)
    acc = 1 - 0.9 * np.exp(-STEPS / tau)
    return make_run({"num_classes": 10}, train_loss=(STEPS, train), val_loss=(VAL_STEPS, val),
                    train_acc=(STEPS, acc), val_acc=(VAL_STEPS, 1 - 0.9 * np.exp(-VAL_STEPS / tau)
                                                     - 0.02))


def test_every_detector_has_thresholds_in_the_knowledge_base_and_vice_versa():
    assert set(DETECTORS) == set(KB.detectors.detectors)


@pytest.mark.parametrize("seed", range(12))
def test_healthy_noisy_runs_stay_healthy(seed):
    report = diagnose_run(healthy_run(seed, noise=0.02 + 0.01 * seed), questions=0)
    likely = [c.id for c in report.diagnosis.causes if c.band in {"likely", "confirmed"}]
    assert not likely
    assert report.diagnosis.verdict == "healthy"


def test_nan_is_found_with_its_first_step():
    loss = np.r_[np.linspace(2.3, 1.0, 30), [np.nan] * 20]
    found = facts(make_run(train_loss=(STEPS[:50], loss)))
    assert found["loss_nonfinite"].value is True
    assert "step 300" in found["loss_nonfinite"].evidence
    assert found["nonfinite_early"].value is False


def test_early_nan_counts_as_early():
    loss = np.r_[[2.3, 2.5, 9.0], [np.nan] * 40]
    found = facts(make_run(train_loss=(np.arange(43), loss)))
    assert found["nonfinite_early"].value is True


def test_overfitting_onset_and_gap():
    train = 2.3 * np.exp(-STEPS / 600)
    val = 1.0 + 4 * (VAL_STEPS / 5000 - 0.3) ** 2
    found = facts(make_run(train_loss=(STEPS, train), val_loss=(VAL_STEPS, val)))
    assert found["val_loss_rising"].value is True
    assert "at step 1500" in found["val_loss_rising"].evidence
    assert found["generalization_gap"].value == "large"
    report = diagnose_run(make_run(train_loss=(STEPS, train), val_loss=(VAL_STEPS, val)))
    assert report.diagnosis.causes[0].id == "overfitting"


def test_flat_loss_at_chance():
    rng = np.random.default_rng(1)
    loss = np.log(10) + rng.normal(0, 0.005, STEPS.size)
    found = facts(make_run({"num_classes": 10}, train_loss=(STEPS, loss)))
    assert found["train_loss_trend"].value == "flat"
    assert found["loss_at_chance"].value is True
    assert found["initial_loss_vs_expected"].value == "about_expected"


def test_slow_linear_decrease():
    loss = 2.3 - 0.0002 * STEPS
    found = facts(make_run(train_loss=(STEPS, loss)))
    assert found["loss_slow_linear"].value is True
    assert found["loss_still_decreasing_at_end"].value is True


def test_lr_warmup_and_early_decay_to_zero():
    lr = np.where(STEPS < 500, 1e-3 * STEPS / 500, 1e-3)
    lr = np.where(STEPS > 2000, 1e-7, lr)
    found = facts(make_run(train_loss=(STEPS, np.linspace(2, 1, STEPS.size)), lr=(STEPS, lr)))
    assert found["lr_warmup"].value is True
    assert found["lr_decays_to_zero_early"].value is True
    assert found["lr"].value == pytest.approx(1e-3)


def test_grad_norm_spike_growth_and_collapse():
    rng = np.random.default_rng(2)
    spiky = 1 + rng.uniform(0, 0.1, STEPS.size)
    spiky[300] = 40
    found = facts(make_run(grad_norm=(STEPS, spiky), train_loss=(STEPS, np.ones(STEPS.size))))
    assert found["grad_norm_spikes"].value is True and "step 3000" in \
        found["grad_norm_spikes"].evidence
    growing = facts(make_run(grad_norm=(STEPS, np.exp(STEPS / 1000)),
                             train_loss=(STEPS, np.ones(STEPS.size))))
    assert growing["grad_norm_growing"].value is True
    vanishing = facts(make_run(grad_norm=(STEPS, 1e-9 * np.ones(STEPS.size)),
                               train_loss=(STEPS, np.ones(STEPS.size))))
    assert vanishing["grad_norm_vanishing"].value is True


def test_too_few_points_is_insufficient_data():
    report = diagnose_run(make_run(train_loss=(np.arange(4), [2.3, 2.2, 2.1, 2.0])))
    assert report.diagnosis.verdict == "insufficient-data"


def test_exact_zero_loss_and_explosion():
    loss = np.r_[np.linspace(2, 0.5, 40), [0.0] * 5, [800.0] * 5]
    found = facts(make_run(train_loss=(np.arange(50), loss)))
    assert found["zero_loss"].value is True
    assert found["loss_exploded"].value is True


def test_detectors_leave_their_parameters_unchanged():
    """derive_facts hands every detector the knowledge base's own parameters, not a copy."""
    from nndoctor.adapters.readers import read_path

    before = {name: dict(spec.params) for name, spec in KB.detectors.detectors.items()}
    examples = Path(__file__).resolve().parents[2] / "examples"
    runs = [run for folder in sorted(examples.iterdir()) if folder.is_dir()
            for run in read_path(folder)]
    for run in [*runs, healthy_run(0), make_run(train_loss=(STEPS[:50], np.r_[
            np.linspace(2.3, 1.0, 30), [np.nan] * 20]))]:
        facts(run)
    assert {name: dict(spec.params) for name, spec in KB.detectors.detectors.items()} == before
