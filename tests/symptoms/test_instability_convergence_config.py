"""Instability that survives noise (#9.9), convergence semantics (#9.10) and the logged
configuration as evidence (#9.11)."""

from __future__ import annotations

import numpy as np
import pytest

from nndoctor.adapters.symptoms.periodicity import epoch_lengths
from nndoctor.pipeline import diagnose_run
from tests.symptoms.synth import (
    HEALTHY,
    STEPS,
    VAL_STEPS,
    classifier,
    facts,
    make_run,
    small_batch_sgd,
    warmup_cosine,
)

RNG = np.random.default_rng(5)


def _toward(start: float, end: float, steps: np.ndarray, tau: float = 800.0) -> np.ndarray:
    return end + (start - end) * np.exp(-steps / tau)


# ------------------------------------------------------------------ 9. instability


def test_blowup_on_a_noisy_curve_is_an_explosion():
    loss = _toward(2.3, 0.4, STEPS) * np.exp(RNG.normal(0, 0.2, STEPS.size))
    loss[400:] *= 30
    found = facts(make_run(train_loss=(STEPS, loss)))
    assert found["loss_exploded"].value is True
    assert "steps 4000-" in found["loss_exploded"].evidence


def test_single_noisy_spike_is_no_explosion():
    loss = _toward(2.3, 0.4, STEPS) * np.exp(RNG.normal(0, 0.1, STEPS.size))
    loss[300] = 40.0
    found = facts(make_run(train_loss=(STEPS, loss)))
    assert found["loss_exploded"].value is False


def test_explosion_is_never_judged_against_a_zero_median():
    # a loss that reaches ~0 and then wiggles at 1e-3: no jump to speak of
    loss = np.r_[np.linspace(2.3, 0.0, 250), 1e-3 * RNG.random(250)]
    found = facts(make_run(train_loss=(STEPS, loss)))
    assert found["loss_exploded"].value is False


def test_explosion_is_judged_against_the_running_median_not_the_running_minimum():
    # one lucky low batch (0.01) must not make the ordinary level (0.3) look like a blow-up
    loss = _toward(2.3, 0.3, STEPS) * np.exp(RNG.normal(0, 0.05, STEPS.size))
    loss[200] = 0.01
    found = facts(make_run(train_loss=(STEPS, loss)))
    assert found["loss_exploded"].value is False


@pytest.mark.parametrize("seed", range(3))
def test_small_batch_sgd_noise_is_neither_explosion_nor_spikes(seed):
    found = facts(small_batch_sgd(seed))
    for name in ("loss_exploded", "loss_oscillating", "grad_norm_spikes", "grad_norm_growing"):
        assert found[name].value is False, name


def test_one_blowup_is_counted_once():
    loss = _toward(2.3, 0.4, STEPS) * np.exp(RNG.normal(0, 0.03, STEPS.size))
    grad = np.exp(RNG.normal(0, 0.1, STEPS.size))
    loss[420:], grad[418:] = loss[420:] * 50, grad[418:] * 200
    found = facts(make_run(train_loss=(STEPS, loss), grad_norm=(STEPS, grad)))
    assert found["loss_exploded"].value is True
    assert found["grad_norm_spikes"].value is True  # the gradient's side of the same event
    assert "at the loss blow-up" in found["grad_norm_spikes"].evidence
    assert found["grad_norm_growing"].value is False  # one blow-up is no steady growth
    assert found["loss_oscillating"].value is False  # the swing is judged before the blow-up


def test_gradient_spike_away_from_any_loss_event_is_a_spike():
    grad = 1 + RNG.uniform(0, 0.1, STEPS.size)
    grad[300] = 40
    found = facts(make_run(grad_norm=(STEPS, grad), train_loss=(STEPS, _toward(2.3, 0.3, STEPS))))
    assert found["grad_norm_spikes"].value is True and "step 3000" in \
        found["grad_norm_spikes"].evidence


def test_zero_gradient_norms_are_no_baseline_for_spikes():
    grad = np.where(np.arange(STEPS.size) % 4 == 0, 1.0, 0.0) * (1 + 0.05 * RNG.random(STEPS.size))
    found = facts(make_run(grad_norm=(STEPS, grad), train_loss=(STEPS, _toward(2.3, 0.3, STEPS))))
    assert found["grad_norm_spikes"].value is False


def test_gradient_growth_by_log_slope():
    grad = np.exp(STEPS / 1500) * np.exp(RNG.normal(0, 0.3, STEPS.size))
    found = facts(make_run(grad_norm=(STEPS, grad), train_loss=(STEPS, np.ones(STEPS.size))))
    assert found["grad_norm_growing"].value is True
    assert "log-linear fit" in found["grad_norm_growing"].evidence


def test_warmup_transient_of_the_gradient_norm_is_no_growth():
    found = facts(warmup_cosine(0))
    assert found["grad_norm_growing"].value is False
    assert found["grad_norm_spikes"].value is False


def _sawtooth_run(per_epoch: int, amplitude: float, context=None, seed=0):
    rng = np.random.default_rng(seed)
    steps = np.arange(0, 30 * per_epoch, 10)
    phase = (steps % per_epoch) / per_epoch
    loss = _toward(2.3, 0.5, steps, tau=3000) * np.exp(amplitude * (phase - 0.5)
                                                       + rng.normal(0, 0.05, steps.size))
    val_steps = np.arange(per_epoch, 30 * per_epoch + 1, per_epoch)
    val = _toward(2.3, 0.55, val_steps, tau=3000)
    return make_run(context or {}, train_loss=(steps, loss), val_loss=(val_steps, val))


def test_loss_repeating_every_epoch_is_found_from_the_evaluation_interval():
    run = _sawtooth_run(200, 0.6)
    found = facts(run)
    assert found["loss_sawtooth_per_epoch"].value is True
    assert "one epoch" in found["loss_sawtooth_per_epoch"].evidence
    assert diagnose_run(run, questions=0).diagnosis.causes[0].id == "data_not_shuffled"


def test_loss_repeating_every_epoch_from_the_configured_epoch_length():
    run = _sawtooth_run(200, 0.6, {"steps_per_epoch": 200})
    assert facts(run)["loss_sawtooth_per_epoch"].value is True


def test_epoch_length_from_several_evaluations_per_epoch():
    run = _sawtooth_run(44, 0.6)
    val_steps = np.round(np.arange(1, 90) * 44 / 3).astype(int)  # 15, 29, 44, 59, 73, 88 …
    run = make_run(train_loss=(run.get("train_loss").steps, run.get("train_loss").values),
                   val_loss=(val_steps, np.full(val_steps.size, 1.0)))
    assert epoch_lengths(run) == [(44.0, "3 evaluations per 44 steps, taken as one epoch")]


def _sawtooth(per_epoch: int, every: int, amplitude: float, epochs: int = 30, seed: int = 0
              ) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    steps = np.arange(0, epochs * per_epoch, every)
    phase = (steps % per_epoch) / per_epoch
    return steps, _toward(2.3, 0.5, steps, tau=epochs * per_epoch / 10) * np.exp(
        amplitude * (phase - 0.5) + rng.normal(0, 0.05, steps.size))


@pytest.mark.parametrize("amplitude", [0.6, 0.0])
def test_four_evaluations_an_epoch_the_epoch_is_found_among_their_multiples(amplitude):
    """Evaluated every 50 steps of a 200-step epoch: 50, 100 and 150 are candidates too, and
    the pattern shows at 200 only; without one, nothing is found at any candidate."""
    steps, loss = _sawtooth(200, 10, amplitude)
    val_steps = np.arange(50, steps[-1] + 1, 50)
    run = make_run(train_loss=(steps, loss), val_loss=(val_steps, np.full(val_steps.size, 1.0)))
    assert [e for e, _ in epoch_lengths(run)] == [50.0, 100.0, 150.0, 200.0]
    fact = facts(run)["loss_sawtooth_per_epoch"]
    assert fact.value is (amplitude > 0)
    if amplitude:
        assert "20 points, 200 steps: 4 evaluations per 200 steps" in fact.evidence


@pytest.mark.parametrize("amplitude", [0.6, 0.0])
def test_a_logging_interval_that_divides_two_epochs_only(amplitude):
    """Logged every 2 steps of a 79-step epoch, the points repeat every 2 epochs (79 points)."""
    steps, loss = _sawtooth(79, 2, amplitude)
    fact = facts(make_run({"steps_per_epoch": 79}, train_loss=(steps, loss)))[
        "loss_sawtooth_per_epoch"]
    assert fact.value is (amplitude > 0)
    assert "2 epochs (79 points" in fact.evidence


def test_logging_interval_that_drifts_through_the_epoch_is_not_judged():
    run = _sawtooth_run(200, 0.6, {"steps_per_epoch": 203})  # 20.3 points per epoch
    assert "loss_sawtooth_per_epoch" not in facts(run)


def test_shuffled_data_has_no_per_epoch_pattern():
    assert facts(_sawtooth_run(200, 0.0))["loss_sawtooth_per_epoch"].value is False


def test_oscillating_validation_curve():
    train = _toward(2.3, 0.5, STEPS) * np.exp(RNG.normal(0, 0.03, STEPS.size))
    val = _toward(2.3, 0.7, VAL_STEPS) * np.where(np.arange(VAL_STEPS.size) % 2, 1.6, 1.0)
    run = make_run(train_loss=(STEPS, train), val_loss=(VAL_STEPS, val))
    found = facts(run)
    assert found["val_oscillating"].value is True
    assert "OPT024" in diagnose_run(run, questions=0).diagnosis.fired


def test_oscillating_validation_accuracy():
    acc = np.clip(_toward(0.1, 0.8, VAL_STEPS) + np.where(np.arange(VAL_STEPS.size) % 2, 0.12, 0),
                  0, 1)
    run = make_run(train_loss=(STEPS, _toward(2.3, 0.5, STEPS)), val_acc=(VAL_STEPS, acc))
    assert facts(run)["val_oscillating"].value is True


@pytest.mark.parametrize("name", sorted(HEALTHY))
def test_healthy_runs_are_stable(name):
    found = facts(HEALTHY[name]())
    for fact in ("loss_exploded", "loss_oscillating", "grad_norm_spikes", "grad_norm_growing",
                 "val_oscillating", "loss_sawtooth_per_epoch", "loss_nonfinite"):
        assert fact not in found or found[fact].value is False, fact


# ------------------------------------------------------------------ 10. convergence


def test_still_decreasing_needs_a_real_tail_slope():
    # the tail changes by noise only: no "still decreasing" however the noise falls
    loss = np.r_[np.linspace(2.3, 0.5, 350), 0.5 + RNG.normal(0, 0.05, 150)]
    loss[-5:] = 0.42
    found = facts(make_run(train_loss=(STEPS, loss)))
    assert found["loss_still_decreasing_at_end"].value is False


def test_steady_fall_at_the_end_is_still_decreasing():
    loss = 2.3 - 0.0003 * STEPS + RNG.normal(0, 0.02, STEPS.size)
    found = facts(make_run(train_loss=(STEPS, loss)))
    assert found["loss_still_decreasing_at_end"].value is True
    assert "slope t" in found["loss_still_decreasing_at_end"].evidence


def test_short_per_epoch_log_still_decreasing_without_a_slope_test():
    e = np.arange(10)
    found = facts(make_run({"step_unit": "epoch"}, train_loss=(e, 2.3 - 0.15 * e)))
    assert found["loss_still_decreasing_at_end"].value is True


def test_train_longer_is_ruled_out_when_validation_has_plateaued():
    train = 2.3 - 0.0003 * STEPS + RNG.normal(0, 0.01, STEPS.size)  # still falling, short run
    val = np.r_[np.linspace(2.3, 1.4, 8), 1.4 + RNG.normal(0, 0.005, VAL_STEPS.size - 8)]
    run = make_run(train_loss=(STEPS[:100], train[:100]), val_loss=(VAL_STEPS[:20] // 5,
                                                                    val[:20]))
    found = facts(run)
    assert found["loss_still_decreasing_at_end"].value is True
    assert found["val_stopped_improving"].value is True
    diagnosis = diagnose_run(run, questions=0).diagnosis
    assert "OPT025" in diagnosis.fired
    assert diagnosis.scores.get("not_trained_long_enough", 0) < 0.5  # no longer 'likely'


def test_validation_still_improving_leaves_train_longer_open():
    train = 2.3 - 0.0003 * STEPS[:100] + RNG.normal(0, 0.01, 100)
    val = 2.35 - 0.0003 * (VAL_STEPS[:20] // 5)
    run = make_run(train_loss=(STEPS[:100], train), val_loss=(VAL_STEPS[:20] // 5, val))
    assert facts(run)["val_stopped_improving"].value is False
    assert diagnose_run(run, questions=0).diagnosis.scores["not_trained_long_enough"] >= 0.5


def test_saturated_validation_accuracy_has_stopped_improving():
    acc = np.r_[np.linspace(0.5, 0.997, 10), np.full(10, 0.997)]
    run = make_run(train_loss=(STEPS, _toward(2.3, 0.01, STEPS)), val_acc=(VAL_STEPS, acc))
    assert facts(run)["val_stopped_improving"].value is True


def test_converged_plateau_without_gap_well_above_the_achievable_loss_is_underfitting():
    # a gradual descent (not the fast drop then plateau of a too-high LR) that levels off
    train = _toward(2.3, 1.75, STEPS, tau=1200) * np.exp(RNG.normal(0, 0.02, STEPS.size))
    val = _toward(2.3, 1.77, VAL_STEPS, tau=1200)
    run = make_run({"num_classes": 10}, train_loss=(STEPS, train), val_loss=(VAL_STEPS, val))
    found = facts(run)
    assert found["converged_underfit_plateau"].value is True
    assert found["loss_fast_drop_then_plateau"].value is False
    assert "CAP018" in diagnose_run(run, questions=0).diagnosis.fired


def test_a_level_validation_loss_says_converged_when_batch_noise_blurs_the_train_tail():
    rng = np.random.default_rng(11)
    train = _toward(2.3, 1.75, STEPS, tau=900) * np.exp(rng.normal(0, 0.08, STEPS.size))
    tail = STEPS.size // 3
    train[-tail:] *= np.linspace(1.03, 0.97, tail)  # a drift the noise hides: no real slope
    val = _toward(2.3, 1.77, VAL_STEPS, tau=900)
    found = facts(make_run({"num_classes": 10}, train_loss=(STEPS, train),
                           val_loss=(VAL_STEPS, val)))
    assert found["converged_underfit_plateau"].value is True
    still_falling = _toward(2.3, 1.0, VAL_STEPS, tau=6000)  # the validation loss keeps falling
    found = facts(make_run({"num_classes": 10}, train_loss=(STEPS, train),
                           val_loss=(VAL_STEPS, still_falling)))
    assert found["converged_underfit_plateau"].value is False


@pytest.mark.parametrize("name", sorted(HEALTHY))
def test_healthy_runs_are_not_underfit_plateaus(name):
    found = facts(HEALTHY[name]())
    assert "converged_underfit_plateau" not in found or \
        found["converged_underfit_plateau"].value is False


def test_underfitting_needs_no_gap():
    train = _toward(2.3, 1.75, STEPS, tau=500)
    val = _toward(2.3, 2.25, VAL_STEPS, tau=500)
    found = facts(make_run({"num_classes": 10}, train_loss=(STEPS, train),
                           val_loss=(VAL_STEPS, val)))
    assert found["converged_underfit_plateau"].value is False


# ------------------------------------------------------------------ 11. configuration


@pytest.mark.parametrize(("optimizer", "lr", "verdict"), [
    ("SGD", 8.0, "far_above"), ("AdamW", 0.5, "far_above"), ("Adam", 1e-5, "far_below"),
    ("Adam", 3e-4, "typical"), ("SGD", 0.1, "typical"), ("adam", 0.03, "above"),
    ("RMSprop", 1e-3, "typical"), ("Adagrad", 0.01, "typical")])
def test_learning_rate_against_the_optimizers_usual_range(optimizer, lr, verdict):
    run = make_run({"optimizer": optimizer, "lr": lr},
                   train_loss=(STEPS, _toward(2.3, 0.3, STEPS)))
    found = facts(run)
    assert found["lr_vs_optimizer_range"].value == verdict
    assert "usual range" in found["lr_vs_optimizer_range"].evidence


def test_sgd_lr_8_speaks_for_a_too_high_learning_rate():
    run = make_run({"optimizer": "SGD", "lr": 8.0},
                   train_loss=(STEPS, _toward(2.3, 0.3, STEPS)))
    assert "OPT026" in diagnose_run(run, questions=0).diagnosis.fired


def test_tiny_adam_rate_is_evidence_only_when_the_loss_crawls():
    crawl = make_run({"optimizer": "Adam", "lr": 1e-5}, train_loss=(STEPS, 2.3 - 0.0001 * STEPS))
    fine = make_run({"optimizer": "Adam", "lr": 1e-5}, train_loss=(STEPS, _toward(2.3, 0.2, STEPS)))
    assert "OPT027" in diagnose_run(crawl, questions=0).diagnosis.fired
    assert "OPT027" not in diagnose_run(fine, questions=0).diagnosis.fired


def test_unknown_optimizer_gives_no_range_verdict_for_an_ordinary_rate():
    found = facts(make_run({"lr": 0.05}, train_loss=(STEPS, _toward(2.3, 0.3, STEPS))))
    assert "lr_vs_optimizer_range" not in found


def test_batches_per_epoch_from_the_configuration():
    run = make_run({"max_steps": 300, "num_train_epochs": 100},
                   train_loss=(np.arange(300), np.full(300, 2.3)))
    found = facts(run)
    assert found["batches_per_epoch"].value == 3
    run = make_run({"train_samples": 50000, "batch_size": 128},
                   train_loss=(STEPS, _toward(2.3, 0.3, STEPS)))
    assert facts(run)["batches_per_epoch"].value == 391


def test_samples_per_class_from_a_configured_training_set_size():
    run = make_run({"train_samples": 5000, "batch_size": 128, "num_classes": 10},
                   train_loss=(STEPS, _toward(2.3, 0.3, STEPS)))
    found = facts(run)["samples_per_class"]
    assert found.value == 500 and found.certainty == 1.0
    assert "train_samples = 5000" in found.evidence


def test_samples_per_class_from_steps_per_epoch_is_a_lower_bound():
    context = {"steps_per_epoch": 2, "batch_size": 16, "grad_accumulation_steps": 2,
               "num_classes": 4}
    found = facts(make_run(context, train_loss=(STEPS, _toward(1.4, 0.01, STEPS))))
    share = found["samples_per_class"]
    assert share.value == 16  # 2 steps × 16 × 2 accumulated = 64 samples over 4 classes
    assert share.certainty < 1.0 and "at least" in share.evidence
    regression = make_run({"steps_per_epoch": 10, "batch_size": 32, "num_classes": 0},
                          train_loss=(STEPS, _toward(1.0, 0.1, STEPS)))
    assert facts(regression)["samples_per_class"].value == 32  # 320 samples / 10


def test_no_samples_per_class_without_the_task_or_the_batch_size():
    curve = {"train_loss": (STEPS, _toward(1.4, 0.01, STEPS))}
    assert "samples_per_class" not in facts(make_run({"steps_per_epoch": 2, "batch_size": 16},
                                                     **curve))
    assert "samples_per_class" not in facts(make_run({"steps_per_epoch": 2, "num_classes": 4},
                                                     **curve))


def test_few_samples_for_any_class_count_when_the_count_is_unknown():
    """An accuracy is logged (a classifier: at least 2 classes) but no class count: 5 steps of
    16 a epoch is at most 40 samples a class, few whatever the count; 50 steps settle nothing."""
    acc = np.clip(_toward(0.6, 0.95, STEPS), 0, 1)  # far from any chance level: no count inferred
    curves = {"train_loss": (STEPS, _toward(0.9, 0.1, STEPS)), "train_acc": (STEPS, acc)}
    found = facts(make_run({"steps_per_epoch": 5, "batch_size": 16}, **curves))
    assert "num_classes" not in found
    assert found["samples_per_class"].value == 40
    assert "at least 2 classes" in found["samples_per_class"].evidence
    assert "samples_per_class" not in facts(make_run({"steps_per_epoch": 50, "batch_size": 16},
                                                     **curves))


def test_lr_schedule_reaching_zero_early():
    lr = np.where(STEPS < 2000, 1e-3 * (1 - STEPS / 2000), 0.0)
    found = facts(make_run(train_loss=(STEPS, _toward(2.3, 0.8, STEPS)), lr=(STEPS, lr)))
    assert found["lr_decays_to_zero_early"].value is True
    assert facts(warmup_cosine(0))["lr_decays_to_zero_early"].value is False


def test_hf_nan_filter_nan_grad_norm_is_a_non_finite_run():
    loss = _toward(2.3, 0.5, STEPS)
    grad = np.r_[np.ones(300), np.full(200, np.nan)]
    run = make_run(train_loss=(STEPS, loss), grad_norm=(STEPS, grad))
    found = facts(run)
    assert found["loss_nonfinite"].value is True
    assert "grad_norm became NaN at step 3000" in found["loss_nonfinite"].evidence
    assert diagnose_run(run, questions=0).diagnosis.verdict == "problem"


def test_isolated_nonfinite_grad_norm_is_a_skipped_mixed_precision_step():
    grad = np.ones(STEPS.size)
    grad[3] = np.inf
    run = make_run(train_loss=(STEPS, _toward(2.3, 0.5, STEPS)), grad_norm=(STEPS, grad))
    assert facts(run)["loss_nonfinite"].value is False


def test_hf_nan_filter_zero_loss_next_to_nan_eval_loss():
    loss = np.r_[_toward(2.3, 0.5, STEPS[:300]), np.zeros(200)]
    val = np.r_[_toward(2.3, 0.6, VAL_STEPS[:11]), np.full(VAL_STEPS.size - 11, np.nan)]
    run = make_run(train_loss=(STEPS, loss), val_loss=(VAL_STEPS, val))
    found = facts(run)
    assert found["loss_nonfinite"].value is True
    assert found["zero_loss"].value is False
    assert "NaN filter" in found["zero_loss"].evidence
    fired = diagnose_run(run, questions=0).diagnosis.fired
    assert "DAT016" not in fired


def test_real_zero_loss_is_still_zero_loss():
    loss = np.r_[np.linspace(2, 0.5, 40), [0.0] * 10]
    assert facts(make_run(train_loss=(np.arange(50), loss)))["zero_loss"].value is True


def test_classifier_still_healthy_end_to_end():
    report = diagnose_run(classifier(0), questions=0)
    assert report.diagnosis.verdict == "healthy"
