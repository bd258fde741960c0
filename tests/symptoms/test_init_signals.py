"""loss_unmoved and first_loss_spike: a network whose output never changes, a huge first loss."""

from __future__ import annotations

import numpy as np

from tests.symptoms.synth import HEALTHY, STEPS, VAL_STEPS, make_run, value


def _dead(seed: int = 0, level: float = 2.303):
    """Every hidden unit dead from step 0: only the output bias learns, the loss sits at ln C."""
    rng = np.random.default_rng(seed)
    train = level + rng.normal(0, 0.01, STEPS.size)
    val = level + 0.002 * np.exp(-VAL_STEPS / 500)
    return make_run(train_loss=(STEPS, train), val_loss=(VAL_STEPS, val))


def _huge_start(seed: int = 0, first: float = 800.0):
    """Huge initial weights: the loss starts in the hundreds and the model then learns."""
    rng = np.random.default_rng(seed)
    train = 0.4 + 1.2 * np.exp(-STEPS / 1500) + rng.normal(0, 0.03, STEPS.size)
    train[0] = first
    val = 0.45 + 1.2 * np.exp(-VAL_STEPS / 1500)
    return make_run(train_loss=(STEPS, train), val_loss=(VAL_STEPS, val))


def test_a_loss_that_never_leaves_its_level_is_unmoved():
    assert value(_dead(), "loss_unmoved") is True
    assert value(_dead(level=0.98), "loss_unmoved") is True  # regression at the target variance


def test_a_loss_that_falls_a_little_is_not_unmoved():
    rng = np.random.default_rng(1)
    train = 2.303 - 0.3 * STEPS / STEPS[-1] + rng.normal(0, 0.01, STEPS.size)
    val = 2.303 - 0.3 * VAL_STEPS / VAL_STEPS[-1]
    run = make_run(train_loss=(STEPS, train), val_loss=(VAL_STEPS, val))
    assert value(run, "loss_unmoved") is False


def test_a_huge_first_loss_is_a_spike():
    assert value(_huge_start(), "first_loss_spike") is True
    assert value(_huge_start(), "loss_unmoved") is False


def test_a_fast_converging_run_from_a_sane_start_is_no_spike():
    rng = np.random.default_rng(2)
    train = np.maximum(0.65 * np.exp(-STEPS / 30) + rng.normal(0, 1e-4, STEPS.size), 1e-6)
    assert value(make_run(train_loss=(STEPS, train)), "first_loss_spike") is False


def test_healthy_families_are_neither_unmoved_nor_spiked():
    for name, make in HEALTHY.items():
        run = make()
        assert value(run, "loss_unmoved") is not True, name
        assert value(run, "first_loss_spike") is not True, name


def test_a_dead_network_is_diagnosed_among_dead_units_and_init():
    from nndoctor.pipeline import diagnose_run

    top = {c.id for c in diagnose_run(_dead(level=0.98), questions=0).diagnosis.causes[:3]}
    assert top & {"dead_relu", "bad_weight_init"}


def _creeping(seed: int = 0, level: float = 2.303, fall: float = 0.004):
    """A learning rate ~1000x too small: the loss falls by 0.4 % over the run, a little at every
    evaluation."""
    rng = np.random.default_rng(seed)
    train = level * (1 - fall * STEPS / STEPS[-1]) + rng.normal(0, 0.01, STEPS.size)
    val = level * (1 - fall * VAL_STEPS / VAL_STEPS[-1]) + rng.normal(0, 1e-5, VAL_STEPS.size)
    return make_run(train_loss=(STEPS, train), val_loss=(VAL_STEPS, val))


def _wandering(seed: int = 0, level: float = 2.303):
    """A network at a fixed point: the validation loss jitters around the label prior."""
    rng = np.random.default_rng(seed)
    train = level + rng.normal(0, 0.01, STEPS.size)
    val = level + rng.normal(0, 5e-4, VAL_STEPS.size)
    return make_run(train_loss=(STEPS, train), val_loss=(VAL_STEPS, val))


def test_a_tiny_fall_at_every_evaluation_is_a_steady_fall():
    run = _creeping()
    assert value(run, "loss_unmoved") is True
    assert value(run, "val_loss_steady_fall") is True


def test_a_loss_jittering_at_its_level_has_no_steady_fall():
    assert value(_wandering(), "val_loss_steady_fall") is False
    assert value(_dead(), "loss_unmoved") is True


def test_a_creeping_loss_points_at_the_learning_rate_and_a_wandering_one_does_not():
    from nndoctor.pipeline import diagnose_run

    creeping = diagnose_run(_creeping(), questions=0).diagnosis
    wandering = diagnose_run(_wandering(), questions=0).diagnosis
    assert creeping.causes[0].id == "lr_too_low"
    assert wandering.scores.get("lr_too_low", 0.0) < creeping.scores["lr_too_low"]
    assert "lr_too_low" not in [c.id for c in wandering.causes[:1]]
