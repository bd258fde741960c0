"""Task and class count from the curves (#9.5) and the absolute scale of the loss (#9.6)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nndoctor.pipeline import diagnose_run
from tests.symptoms.synth import (
    HEALTHY,
    STEPS,
    VAL_STEPS,
    classifier,
    facts,
    language_model,
    make_run,
    regression,
)

RNG = np.random.default_rng(7)


def stuck_at_chance(classes: int = 10, val_acc: bool = True) -> dict:
    loss = math.log(classes) + RNG.normal(0, 0.01, STEPS.size)
    series = {"train_loss": (STEPS, loss),
              "val_loss": (VAL_STEPS, math.log(classes) + RNG.normal(0, 0.01, VAL_STEPS.size))}
    if val_acc:
        series["val_acc"] = (VAL_STEPS, 1 / classes + RNG.normal(0, 0.005, VAL_STEPS.size))
    return series


# ------------------------------------------------------------------ 5. task and class count


@pytest.mark.parametrize("classes", [2, 10, 100])
def test_loss_at_ln_c_with_accuracy_at_one_over_c_is_at_chance_without_a_config(classes):
    found = facts(make_run(**stuck_at_chance(classes)))
    assert found["num_classes"].value == classes
    assert found["task_type"].value == ("binary" if classes == 2 else "multiclass")
    for name in ("loss_at_chance", "accuracy_at_chance"):
        assert found[name].value is True
        assert found[name].certainty < 1.0  # inferred, so less sure than a configured count
        assert "inferred" in found[name].evidence


def test_a_tight_fit_of_ln_c_and_one_over_c_is_surer_than_one_at_the_edge():
    tight = facts(make_run(**stuck_at_chance(10)))  # loss ±0.4 %, accuracy ±0.005 of 1/C
    edge = stuck_at_chance(10)
    steps, acc = edge["val_acc"]
    edge["val_acc"] = (steps, acc + 0.02)  # 0.12: as far from 1/10 as the tolerance allows
    loose = facts(make_run(**edge))
    assert loose["num_classes"].value == 10
    assert 0.6 <= loose["loss_at_chance"].certainty < tight["loss_at_chance"].certainty <= 0.9


def test_inferred_chance_level_reaches_the_diagnosis():
    report = diagnose_run(make_run(**stuck_at_chance(10)), questions=0)
    assert report.diagnosis.verdict != "healthy"
    assert report.diagnosis.findings.get("no_learning", 0) >= 0.5


def test_a_loss_alone_names_no_class_count():
    found = facts(make_run(**stuck_at_chance(10, val_acc=False)))
    assert "num_classes" not in found and "loss_at_chance" not in found


def test_configured_class_count_wins_and_is_not_marked_inferred():
    found = facts(make_run({"num_classes": 10}, **stuck_at_chance(10)))
    assert found["task_type"].value == "multiclass"
    assert "inferred" not in found["task_type"].evidence
    assert found["loss_at_chance"].certainty == 1.0
    assert "inferred" not in found["loss_at_chance"].evidence


def test_a_class_count_of_zero_states_a_regression():
    # "Answer 0 for regression": the task_type question is not asked then, so it must be known
    found = facts(make_run({"num_classes": 0}, **stuck_at_chance(10, val_acc=False)))
    assert found["task_type"].value == "regression"
    assert "loss_at_chance" not in found


def test_inconsistent_loss_and_accuracy_name_no_class_count():
    # first loss 1.8 (≈ ln 6) but first accuracy 0.35 (≈ 1/3): an epoch average, not chance
    loss = np.linspace(1.8, 0.4, 30)
    acc = np.linspace(0.35, 0.9, 30)
    found = facts(make_run(train_loss=(np.arange(30), loss), train_acc=(np.arange(30), acc)))
    assert "num_classes" not in found


def test_healthy_classifier_without_config_gets_its_class_count_from_the_start():
    found = facts(classifier(0, give_classes=False))
    assert found["num_classes"].value == 10
    assert found["loss_at_chance"].value is False
    assert found["initial_loss_vs_expected"].value == "about_expected"


@pytest.mark.parametrize("metric", ["val_mae", "val_r2", "mean_squared_error"])
def test_regression_metric_names_a_regression(metric):
    run = make_run(train_loss=(STEPS, np.exp(-STEPS / 900) + 0.3),
                   **{metric: (VAL_STEPS, np.linspace(1, 0.5, VAL_STEPS.size))})
    found = facts(run)
    assert found["task_type"].value == "regression"
    assert found["num_classes"].value == 0
    assert "inferred" in found["task_type"].evidence


def test_mse_loss_name_without_accuracy_is_regression():
    run = make_run(tags={"train_loss": "train/mse"}, train_loss=(STEPS, np.exp(-STEPS / 900)))
    assert facts(run)["task_type"].value == "regression"


@pytest.mark.parametrize("with_accuracy", [True, False])
def test_a_language_model_whose_loss_never_nears_0_is_not_at_chance(with_accuracy):
    found = facts(language_model(0, with_accuracy=with_accuracy))
    for name in ("loss_at_chance", "accuracy_at_chance", "initial_loss_absurd"):
        assert name not in found or found[name].value is False, name


def test_a_causal_language_model_predicts_one_class_out_of_its_vocabulary():
    lm = language_model(0)
    found = facts(lm.with_context({**lm.context, "causal_lm": True, "vocab_size": 50257}))
    assert found["task_type"].value == "multiclass" and "50257" in found["task_type"].evidence
    assert "num_classes" not in found  # its classes are tokens, not a class count to compare
    assert "task_type" not in facts(lm)  # not said to be a causal LM: the task stays unknown


# ------------------------------------------------------------------ 6. absolute scale


def test_loss_1e8_with_gradient_norm_1e7_is_never_healthy():
    loss = 1e8 * np.exp(-STEPS / 2000) * np.exp(RNG.normal(0, 0.05, STEPS.size))
    grad = 1e7 * np.exp(RNG.normal(0, 0.1, STEPS.size))
    run = make_run(train_loss=(STEPS, loss), grad_norm=(STEPS, grad))
    found = facts(run)
    for name in ("loss_absurd_scale", "initial_loss_absurd", "loss_stuck_absurd",
                 "grad_norm_absurd"):
        assert found[name].value is True, name
    assert "1000" in found["loss_absurd_scale"].evidence
    report = diagnose_run(run, questions=0)
    assert report.diagnosis.verdict == "problem"
    assert report.diagnosis.findings.get("healthy_training", 0) < 0.5
    assert report.diagnosis.causes[0].id in {"unnormalized_inputs", "exploding_gradients"}


def test_initial_loss_far_above_ln_c():
    loss = np.r_[40.0, 30.0, np.linspace(20, 0.5, STEPS.size - 2)]
    found = facts(make_run({"num_classes": 10}, train_loss=(STEPS, loss)))
    assert found["initial_loss_absurd"].value is True
    assert "ln C" in found["initial_loss_absurd"].evidence
    assert found["loss_stuck_absurd"].value is False


def test_an_explosion_to_1e4_is_absurd_and_an_explosion():
    loss = np.r_[np.linspace(2.3, 0.5, 300), np.full(200, 2e4)]
    found = facts(make_run(train_loss=(STEPS, loss)))
    assert found["loss_absurd_scale"].value is True
    assert found["loss_exploded"].value is True
    assert found["initial_loss_absurd"].value is False


def test_single_gradient_spike_above_1e3_is_a_spike_not_an_absurd_scale():
    grad = np.exp(RNG.normal(0, 0.1, STEPS.size))
    grad[250] = 5e3
    found = facts(make_run(train_loss=(STEPS, np.exp(-STEPS / 900) + 0.2),
                           grad_norm=(STEPS, grad)))
    assert found["grad_norm_absurd"].value is False
    assert found["grad_norm_spikes"].value is True


def test_negative_loss_with_accuracy_logged_is_impossible():
    loss = np.linspace(0.5, -2.0, STEPS.size)
    run = make_run(train_loss=(STEPS, loss), train_acc=(STEPS, np.linspace(0.1, 0.6, STEPS.size)))
    found = facts(run)
    assert found["loss_negative"].value is True
    assert found["loss_negative_impossible"].value is True
    assert "accuracy is logged" in found["loss_negative_impossible"].evidence
    report = diagnose_run(run, questions=0)
    assert "loss_input_mismatch" in [c.id for c in report.diagnosis.causes[:3]]


def test_negative_loss_without_any_hint_may_be_legitimate():
    # e.g. a Gaussian negative log-likelihood: no accuracy, no loss name
    found = facts(make_run(train_loss=(STEPS, np.linspace(1.0, -1.5, STEPS.size))))
    assert found["loss_negative"].value is True
    assert "loss_negative_impossible" not in found


@pytest.mark.parametrize("name", sorted(HEALTHY))
def test_healthy_runs_are_at_a_sane_scale(name):
    found = facts(HEALTHY[name]())
    for fact in ("loss_absurd_scale", "initial_loss_absurd", "loss_stuck_absurd",
                 "grad_norm_absurd", "loss_negative", "loss_negative_impossible"):
        assert fact not in found or found[fact].value is False, fact


def test_regression_in_raw_units_is_absurd_but_says_why():
    run = regression(0)
    scaled = make_run(tags={"train_loss": "loss"},
                      train_loss=(run.get("train_loss").steps, run.get("train_loss").values * 1e5),
                      val_mae=(run.get("val_mae").steps, run.get("val_mae").values * 300))
    found = facts(scaled)
    assert found["loss_stuck_absurd"].value is True
    assert found["task_type"].value == "regression"


def test_a_classifier_loss_above_any_chance_level_is_absurd_without_the_class_count():
    steps = np.arange(0, 500, 10)
    loss = 80.0 + 400.0 * np.exp(-steps / 50.0)  # huge init: CE of 480 falling to 80
    acc = np.full(steps.size, 0.6)
    run = make_run(train_loss=(steps, loss), val_acc=(steps, acc))
    found = facts(run)
    assert found["loss_absurd_scale"].value is True
    assert found["initial_loss_absurd"].value is True


def test_a_regression_loss_of_80_is_not_absurd_without_accuracy():
    steps = np.arange(0, 500, 10)
    run = make_run(train_loss=(steps, 80.0 + 400.0 * np.exp(-steps / 50.0)))
    assert facts(run)["loss_absurd_scale"].value is False
