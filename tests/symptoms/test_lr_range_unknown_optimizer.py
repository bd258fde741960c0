"""The logged learning rate is evidence even when the optimizer is not logged."""

from __future__ import annotations

import numpy as np

from tests.symptoms.synth import facts, make_run

STEPS = np.arange(0, 500, 10)


def _run(lr: float, optimizer: str | None = None):
    context = {"optimizer": optimizer} if optimizer else {}
    loss = np.full(STEPS.size, 2.30)
    return make_run(context, train_loss=(STEPS, loss), lr=(STEPS, np.full(STEPS.size, lr)))


def test_a_rate_far_above_adams_range_is_judged_with_the_certainty_of_the_assumption():
    fact = facts(_run(0.3))["lr_vs_optimizer_range"]
    assert fact.value == "far_above" and fact.certainty == 0.5
    assert "optimizer not logged" in fact.evidence


def test_a_rate_above_every_optimizers_range_is_far_above_for_certain():
    fact = facts(_run(20.0))["lr_vs_optimizer_range"]
    assert fact.value == "far_above" and fact.certainty == 1.0


def test_a_rate_typical_for_every_optimizer_is_typical_without_knowing_which():
    for lr in (1e-3, 2e-3, 1e-2):
        fact = facts(_run(lr))["lr_vs_optimizer_range"]
        assert fact.value == "typical" and fact.certainty == 1.0, lr
        assert "every optimizer" in fact.evidence


def test_rates_typical_for_some_optimizers_only_stay_unjudged_without_one():
    for lr in (3e-4, 0.05, 0.1):  # low for SGD / high for Adam: it depends on which
        assert "lr_vs_optimizer_range" not in facts(_run(lr)), lr


def test_a_known_sgd_optimizer_is_judged_by_its_own_range():
    assert facts(_run(0.3, "SGD"))["lr_vs_optimizer_range"].value == "typical"


def test_ten_times_the_top_of_adams_range_is_far_above_it():
    """Adam's usual range ends at 0.01; 0.1 - SGD's classic default, copied into Adam - is ten
    times that, which is what "far above" means."""
    assert facts(_run(0.1, "Adam"))["lr_vs_optimizer_range"].value == "far_above"
    assert facts(_run(0.05, "Adam"))["lr_vs_optimizer_range"].value == "above"
