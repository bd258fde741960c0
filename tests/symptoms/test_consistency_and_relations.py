"""Loss-accuracy consistency (#9.7) and train/validation relations (#9.8)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from nndoctor.adapters.symptoms.consistency import calibrated_loss, double_squash_floor
from nndoctor.pipeline import diagnose_run, parse_answers
from tests.symptoms.synth import HEALTHY, STEPS, VAL_STEPS, classifier, facts, make_run

RNG = np.random.default_rng(11)
EPOCHS = np.arange(30)


def _toward(start: float, end: float, steps: np.ndarray, tau: float = 800.0) -> np.ndarray:
    return end + (start - end) * np.exp(-steps / tau)


def doubled(classes: int, give_classes: bool = True):
    """Probabilities fed to a loss that squashes again: the loss floors at ln(1 + (C-1)/e)."""
    floor = double_squash_floor(classes)
    start = math.log(classes) if classes > 2 else 0.72
    train = _toward(start, floor * 1.01, STEPS) * np.exp(RNG.normal(0, 0.005, STEPS.size))
    acc = np.clip(_toward(1 / classes, 0.98, STEPS) + RNG.normal(0, 0.005, STEPS.size), 0, 1)
    return make_run({"num_classes": classes} if give_classes else {},
                    train_loss=(STEPS, train), train_acc=(STEPS, acc))


# ------------------------------------------------------------------ 7. loss vs accuracy


def test_the_floors_are_the_known_values():
    assert double_squash_floor(10) == pytest.approx(1.4612, abs=1e-3)
    assert double_squash_floor(2) == pytest.approx(0.3133, abs=1e-3)  # ln(1 + 1/e)
    assert calibrated_loss(0.98, 10) == pytest.approx(0.142, abs=2e-3)


@pytest.mark.parametrize("classes", [2, 10, 100])
def test_softmax_applied_twice_floors_the_loss(classes):
    run = doubled(classes)
    found = facts(run)
    assert found["loss_floor_double_activation"].value is True
    assert f"{double_squash_floor(classes):.3f}" in found["loss_floor_double_activation"].evidence
    report = diagnose_run(run, questions=0)
    assert report.diagnosis.causes[0].id == "loss_input_mismatch"
    assert report.diagnosis.verdict == "problem"


def test_double_softmax_is_found_with_an_inferred_class_count():
    found = facts(doubled(10, give_classes=False))
    assert found["num_classes"].value == 10
    assert found["loss_floor_double_activation"].value is True
    assert found["loss_floor_double_activation"].certainty < 0.9


def test_high_accuracy_with_a_loss_far_above_what_it_implies():
    train = _toward(2.5, 1.1, STEPS)
    acc = _toward(0.1, 0.97, STEPS)
    found = facts(make_run({"num_classes": 10}, train_loss=(STEPS, train),
                           train_acc=(STEPS, acc)))
    assert found["loss_accuracy_inconsistent"].value is True
    assert found["loss_floor_double_activation"].value is False


def _fast_learner(first: float, floor: float, top: float) -> object:
    """No class count logged, and the accuracy already far from chance at its first point, so
    the curves do not name C either."""
    train = _toward(first, floor, STEPS) * np.exp(RNG.normal(0, 0.005, STEPS.size))
    acc = np.clip(_toward(0.75, top, STEPS) + RNG.normal(0, 0.005, STEPS.size), 0, 1)
    return make_run({}, train_loss=(STEPS, train), train_acc=(STEPS, acc))


def _class_bound(found: dict) -> int:
    match = re.search(r"C <= (\d+)", found["loss_accuracy_inconsistent"].evidence)
    assert match is not None
    return int(match.group(1))


def test_sigmoid_into_bce_with_logits_without_a_class_count():
    """A sigmoid output fed to BCEWithLogitsLoss on a balanced binary task: the loss bottoms
    out near (ln(1 + 1/e) + ln 2) / 2 = 0.50 at 99 % accuracy. Even as many classes as the
    first loss allows (C <= e^0.72 = 2) imply a loss far below that."""
    run = _fast_learner(0.72, 0.503, 0.99)
    found = facts(run)
    assert "num_classes" not in found
    assert found["loss_accuracy_inconsistent"].value is True
    assert _class_bound(found) in (2, 3)
    assert "loss_floor_double_activation" not in found  # needs the exact class count
    assert diagnose_run(run, questions=0).diagnosis.causes[0].id == "loss_input_mismatch"


@pytest.mark.parametrize("floor", [0.15, 0.5])
def test_unknown_class_count_is_bounded_by_the_first_loss(floor):
    """A healthy 10-class run (label smoothing floors the loss at 0.5) without its class
    count: its first loss ln 10 allows 10 classes, whose calibrated loss at 96 % accuracy keeps
    either floor consistent."""
    found = facts(_fast_learner(math.log(10), floor, 0.96))
    assert found["loss_accuracy_inconsistent"].value is False
    assert _class_bound(found) in (10, 11)


def test_label_smoothing_floor_is_consistent():
    # ε = 0.1 over 10 classes floors the loss at ≈ 0.5 with ~96 % accuracy: normal
    found = facts(classifier(3, floor=0.5))
    assert found["loss_accuracy_inconsistent"].value is False
    assert found["loss_floor_double_activation"].value is False


def test_val_loss_hundreds_of_times_the_train_loss_with_fine_val_accuracy():
    train = _toward(2.3, 0.2, STEPS)
    val = _toward(2.3, 0.2, VAL_STEPS) * 256  # summed over a batch of 256 instead of averaged
    val_acc = _toward(0.1, 0.9, VAL_STEPS)
    run = make_run({"num_classes": 10}, train_loss=(STEPS, train), val_loss=(VAL_STEPS, val),
                   val_acc=(VAL_STEPS, val_acc))
    found = facts(run)
    assert found["val_loss_scale_inconsistent"].value is True
    report = diagnose_run(run, questions=0)
    assert report.diagnosis.causes[0].id == "eval_loss_bug"
    assert report.diagnosis.scores.get("overfitting", 0) < 0.2


def test_memorised_training_set_is_not_a_val_scale_bug():
    train = _toward(2.3, 0.001, STEPS, tau=400)
    val = np.r_[_toward(2.3, 1.0, VAL_STEPS[:8]), np.linspace(1.1, 2.5, VAL_STEPS.size - 8)]
    val_acc = _toward(0.1, 0.85, VAL_STEPS)
    found = facts(make_run({"num_classes": 10}, train_loss=(STEPS, train),
                           val_loss=(VAL_STEPS, val), val_acc=(VAL_STEPS, val_acc)))
    assert found["val_loss_scale_inconsistent"].value is False


@pytest.mark.parametrize("name", sorted(HEALTHY))
def test_healthy_runs_are_consistent(name):
    found = facts(HEALTHY[name]())
    for fact in ("loss_accuracy_inconsistent", "loss_floor_double_activation",
                 "val_loss_scale_inconsistent", "val_bad_from_start", "accuracy_constant",
                 "val_accuracy_at_chance"):
        assert fact not in found or found[fact].value is False, fact


# ------------------------------------------------------------------ 8. train vs validation


def test_validation_bad_from_the_first_evaluation_is_a_mismatch_not_overfitting():
    train = _toward(2.3, 0.3, STEPS) * np.exp(RNG.normal(0, 0.03, STEPS.size))
    val = 2.6 + RNG.normal(0, 0.03, VAL_STEPS.size) + np.linspace(0, 0.2, VAL_STEPS.size)
    run = make_run(train_loss=(STEPS, train), val_loss=(VAL_STEPS, val))
    found = facts(run)
    assert found["val_bad_from_start"].value is True
    scores = diagnose_run(run, questions=0).diagnosis.scores
    assert scores["train_test_mismatch"] > scores.get("overfitting", 0)


def test_overfitting_first_improves_then_degrades():
    train = 2.3 * np.exp(-STEPS / 600)
    val = 1.0 + 4 * (VAL_STEPS / 5000 - 0.3) ** 2
    found = facts(make_run(train_loss=(STEPS, train), val_loss=(VAL_STEPS, val)))
    assert found["val_bad_from_start"].value is False
    assert found["val_loss_above_min_pct"].value >= 3
    assert found["val_loss_rise_steps"].value >= 100
    assert "after the validation minimum" in found["val_loss_rise_steps"].evidence


def test_val_loss_rise_in_epochs_counts_steps_when_the_epoch_length_is_known():
    e = np.arange(20)
    train = 2.3 * np.exp(-e / 4)
    val = 1.0 + 0.02 * (e - 6) ** 2
    run = make_run({"step_unit": "epoch", "steps_per_epoch": 50}, train_loss=(e, train),
                   val_loss=(e, val))
    assert facts(run)["val_loss_rise_steps"].value == 13 * 50


def test_validation_accuracy_far_above_training_accuracy():
    run = make_run(train_acc=(STEPS, _toward(0.1, 0.7, STEPS)),
                   val_acc=(VAL_STEPS, _toward(0.1, 0.86, VAL_STEPS)),
                   train_loss=(STEPS, _toward(2.3, 0.9, STEPS)))
    found = facts(run)
    assert found["val_minus_train_accuracy"].value == pytest.approx(0.16, abs=0.02)
    assert found["train_val_accuracy_gap"].value == pytest.approx(-0.16, abs=0.02)
    causes = [c.id for c in diagnose_run(run, questions=0).diagnosis.causes]
    assert "data_pipeline_bug" in causes


def test_near_zero_losses_do_not_make_a_large_relative_gap():
    train = _toward(2.3, 0.001, STEPS, tau=300)
    val = _toward(2.3, 0.01, VAL_STEPS, tau=300)  # ten times the train loss, both ≈ 0
    found = facts(make_run(train_loss=(STEPS, train), val_loss=(VAL_STEPS, val)))
    assert found["val_train_loss_gap_ratio"].value < 0.05
    assert found["generalization_gap"].value == "none"


def test_real_gap_is_measured_against_the_final_train_loss():
    train = _toward(2.3, 0.4, STEPS)
    val = _toward(2.3, 0.9, VAL_STEPS)
    run = make_run(train_loss=(STEPS, train), val_loss=(VAL_STEPS, val))
    found = facts(run)
    assert 0.8 < found["val_train_loss_gap_ratio"].value < 1.3  # (0.9 - 0.4) / max(0.4, 25 % start)
    assert "GEN003" in diagnose_run(run, questions=0).diagnosis.fired


def test_accuracy_exactly_constant_is_a_constant_prediction():
    train = 2.3 - 0.01 * EPOCHS
    acc = np.r_[0.12, 0.1, np.full(28, 0.1135)]  # the share of the majority class
    run = make_run({"step_unit": "epoch"}, train_loss=(EPOCHS, train), train_acc=(EPOCHS, acc))
    found = facts(run)
    assert found["accuracy_constant"].value is True
    assert "0.1135" in found["accuracy_constant"].evidence
    assert diagnose_run(run, questions=0).diagnosis.findings.get("no_learning", 0) >= 0.5


@pytest.mark.parametrize("acc", [np.r_[np.linspace(0.5, 1.0, 10), np.ones(20)],
                                 np.r_[np.linspace(0.1, 0.9, 20), 0.9 + 0.01 * RNG.random(10)]])
def test_perfect_or_moving_accuracy_is_not_constant(acc):
    found = facts(make_run({"step_unit": "epoch"}, train_loss=(EPOCHS, 2.3 - 0.05 * EPOCHS),
                           train_acc=(EPOCHS, acc)))
    assert found["accuracy_constant"].value is False


def test_small_validation_set_repeating_a_good_score_is_not_constant():
    val_acc = np.r_[np.linspace(0.5, 0.94, 10), np.full(20, 0.94)]
    found = facts(make_run({"step_unit": "epoch"}, train_loss=(EPOCHS, 2.3 - 0.05 * EPOCHS),
                           val_acc=(EPOCHS, val_acc)))
    assert found["accuracy_constant"].value is False


def _binary_at(val_acc: np.ndarray, val_loss: np.ndarray):
    train = 0.69 - 0.001 * EPOCHS + 0.01 * RNG.standard_normal(EPOCHS.size)
    return make_run({"step_unit": "epoch"}, train_loss=(EPOCHS, train),
                    val_acc=(EPOCHS, val_acc), val_loss=(EPOCHS, val_loss))


def test_a_good_score_from_the_start_at_the_loss_of_the_prior_is_a_constant_prediction():
    # 63.4 % of the validation set is one class; predicting it for all costs H(0.634) = 0.657
    run = _binary_at(np.full(30, 0.634), 0.657 + 0.001 * RNG.standard_normal(30))
    found = facts(run)["accuracy_constant"]
    assert found.value is True and "0.634" in found.evidence
    assert "PAT007" in diagnose_run(run, questions=0).diagnosis.fired


@pytest.mark.parametrize("val_acc, val_loss", [
    (np.full(30, 0.634), np.full(30, 0.35)),  # far below the prior's loss: it discriminates
    (np.r_[np.linspace(0.6, 0.99, 10), np.full(20, 0.997)], np.full(30, 0.0184)),  # converged
])
def test_a_good_repeated_score_that_is_not_the_prior_is_not_constant(val_acc, val_loss):
    assert facts(_binary_at(val_acc, val_loss))["accuracy_constant"].value is False


def test_train_accuracy_rises_while_validation_stays_at_chance():
    run = make_run({"num_classes": 10}, train_loss=(STEPS, _toward(2.3, 0.1, STEPS)),
                   train_acc=(STEPS, _toward(0.1, 0.97, STEPS)),
                   val_acc=(VAL_STEPS, 0.1 + RNG.normal(0, 0.01, VAL_STEPS.size)))
    found = facts(run)
    assert found["val_accuracy_at_chance"].value is True
    assert "DAT014" in diagnose_run(run, questions=0).diagnosis.fired  # memorised labels


def test_validation_that_learns_is_not_at_chance():
    run = make_run({"num_classes": 10}, train_loss=(STEPS, _toward(2.3, 0.1, STEPS)),
                   train_acc=(STEPS, _toward(0.1, 0.97, STEPS)),
                   val_acc=(VAL_STEPS, _toward(0.1, 0.6, VAL_STEPS)))
    assert facts(run)["val_accuracy_at_chance"].value is False


def _train_and_val(val_offset: float) -> dict:
    train = _toward(1.4, 0.6, STEPS) * np.exp(0.02 * RNG.standard_normal(STEPS.size))
    return {"train_loss": (STEPS, train),
            "val_loss": (VAL_STEPS, _toward(1.4, 0.6, VAL_STEPS) + val_offset)}


def test_validation_below_training_share_counts_the_second_half():
    below = facts(make_run(**_train_and_val(-0.2)))  # dropout off at validation: val dips below
    level = facts(make_run(**_train_and_val(+0.01)))
    assert below["val_below_train_share"].value == 1.0
    assert below["val_better_than_train"].value is True
    assert level["val_below_train_share"].value == 0.0
    assert "evaluations in the second half" in level["val_below_train_share"].evidence


def test_heavy_dropout_with_validation_never_below_training_asks_about_eval_mode():
    level = make_run({"dropout": 0.5}, **_train_and_val(+0.01))
    dipping = make_run({"dropout": 0.5}, **_train_and_val(-0.2))
    assert "IMP027" in diagnose_run(level, questions=0).diagnosis.fired
    assert "IMP027" not in diagnose_run(dipping, questions=0).diagnosis.fired
    answered = diagnose_run(level, parse_answers(["eval_mode_switched=true"]), questions=0)
    assert "IMP027" not in answered.diagnosis.fired
