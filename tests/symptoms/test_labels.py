"""Detectors of labels and data (adapters/symptoms/labels.py) on small synthetic curves."""

from __future__ import annotations

import math

import numpy as np

from tests.symptoms.synth import classifier, facts, make_run, value

STEPS = np.arange(0, 2000, 10)
VAL = np.arange(100, 2001, 100)


def _shuffled_labels(classes: int = 10, seed: int = 0):
    """Train loss creeping below ln C, validation climbing above it from the first evaluation."""
    rng = np.random.default_rng(seed)
    chance = math.log(classes)
    train = chance * (1 - 0.03 * STEPS / STEPS[-1]) + rng.normal(0, 0.01, STEPS.size)
    val = chance * (1 + 0.02 * (VAL - VAL[0]) / VAL[-1]) + rng.normal(0, 0.001, VAL.size)
    train_acc = 1 / classes + 0.15 * STEPS / STEPS[-1] + rng.normal(0, 0.01, STEPS.size)
    val_acc = 1 / classes - 0.04 + rng.normal(0, 0.005, VAL.size)
    return make_run({"num_classes": classes}, train_loss=(STEPS, train), val_loss=(VAL, val),
                    train_acc=(STEPS, train_acc), val_acc=(VAL, val_acc))


def _learns_nothing(classes: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    chance = math.log(classes)
    return make_run({"num_classes": classes},
                    train_loss=(STEPS, chance + rng.normal(0, 0.01, STEPS.size)),
                    val_loss=(VAL, chance + rng.normal(0, 0.001, VAL.size)),
                    val_acc=(VAL, 1 / classes + rng.normal(0, 0.005, VAL.size)))


def test_val_never_improved_on_memorised_random_labels():
    assert value(_shuffled_labels(), "val_loss_never_improved") is True
    assert value(_shuffled_labels(), "val_accuracy_not_above_chance") is True


def test_val_never_improved_silent_when_nothing_is_learned_or_on_healthy_runs():
    assert value(_learns_nothing(), "val_loss_never_improved") is False
    for seed in range(3):
        assert value(classifier(seed=seed), "val_loss_never_improved") is False
        assert value(classifier(seed=seed), "val_accuracy_not_above_chance") is False


def test_val_never_improved_on_shifted_validation():
    train = 1.6 * np.exp(-STEPS / 400) + 0.2
    val = 1.8 + 2.0 * (1 - np.exp(-(VAL - VAL[0]) / 500))
    run = make_run({"num_classes": 5}, train_loss=(STEPS, train), val_loss=(VAL, val))
    assert value(run, "val_loss_never_improved") is True
    # overfitting: validation first improves, then degrades
    over = 1.6 * np.exp(-VAL / 300) + 0.3 + 0.0004 * np.maximum(VAL - 800, 0)
    run = make_run({"num_classes": 5}, train_loss=(STEPS, train), val_loss=(VAL, over))
    assert value(run, "val_loss_never_improved") is False


def test_majority_share_on_constant_majority_predictions():
    share, classes = 0.95, 3
    prior = -share * math.log(share) - (1 - share) * math.log((1 - share) / (classes - 1))
    val_acc = np.full(VAL.size, share)
    val_loss = prior * (1 + 0.02 * np.cos(np.arange(VAL.size)))
    run = make_run({"num_classes": classes}, train_loss=(STEPS, np.full(STEPS.size, prior)),
                   val_loss=(VAL, val_loss), val_acc=(VAL, val_acc))
    assert value(run, "val_accuracy_at_majority_share") is True
    # the same repeated accuracy with a much lower loss discriminates: no majority-class predictor
    run = make_run({"num_classes": classes}, train_loss=(STEPS, np.full(STEPS.size, 0.05)),
                   val_loss=(VAL, val_loss * 0.3), val_acc=(VAL, val_acc))
    assert value(run, "val_accuracy_at_majority_share") is False
    for seed in range(3):
        assert value(classifier(seed=seed), "val_accuracy_at_majority_share") is False


def _noisy_train(train_end: float, val_end: float, val_acc_end: float, classes: int = 10):
    chance = math.log(classes)
    shape, vshape = np.exp(-STEPS / 300), np.exp(-VAL / 300)
    train = (chance - train_end) * shape + train_end
    val = (chance - val_end) * vshape + val_end
    val_acc = 1 / classes + (val_acc_end - 1 / classes) * (1 - vshape)
    return make_run({"num_classes": classes}, train_loss=(STEPS, train), val_loss=(VAL, val),
                    val_acc=(VAL, val_acc))


def test_train_far_above_val_and_label_noise_bound():
    noisy = _noisy_train(1.4, 0.8, 0.92)  # 50 % random labels: the model stays unsure
    assert value(noisy, "train_loss_far_above_val") is True
    assert value(noisy, "val_too_confident_for_noise") is False
    augmented = _noisy_train(0.6, 0.05, 0.995, classes=3)  # confident on clean inputs
    assert value(augmented, "train_loss_far_above_val") is True
    assert value(augmented, "val_too_confident_for_noise") is True
    for seed in range(3):
        assert value(classifier(seed=seed), "train_loss_far_above_val") is False


def _train_trails_val(train_loss: float, train_acc: float, val_loss: float, val_acc: float,
                      classes: int = 4, give_classes: bool = True):
    """Curves that settle at the given ends: validation accuracy above training accuracy."""
    chance = math.log(classes)
    shape, vshape = np.exp(-STEPS / 300), np.exp(-VAL / 300)
    series = {
        "train_loss": (STEPS, (chance - train_loss) * shape + train_loss),
        "val_loss": (VAL, (chance - val_loss) * vshape + val_loss),
        "train_acc": (STEPS, 1 / classes + (train_acc - 1 / classes) * (1 - shape)),
        "val_acc": (VAL, 1 / classes + (val_acc - 1 / classes) * (1 - vshape)),
    }
    return make_run({"num_classes": classes} if give_classes else {}, **series)


def test_training_errors_too_cheap_for_label_noise():
    # 40 % random labels, C = 4: the model is right on clean data and pays dearly for the
    # labels that contradict it - 0.5 of loss for 0.3 of accuracy, 1.67 a unit (the bound is
    # (ln 4 - 0.5) / (0.9 - 1/4) = 1.36)
    noisy = _train_trails_val(1.0, 0.6, 0.5, 0.9)
    assert value(noisy, "train_errors_too_cheap_for_noise") is False
    # input noise at train time: the model hedges on the samples it misses - 0.05 of loss for
    # 0.3 of accuracy, 0.17 a unit, far under the 0.53 that random labels would cost
    augmented = _train_trails_val(1.25, 0.3, 1.2, 0.6)
    assert value(augmented, "train_errors_too_cheap_for_noise") is True
    # the class count inferred from the start at ln C and 1/C: said, and no surer than that
    inferred = facts(_train_trails_val(1.25, 0.3, 1.2, 0.6, give_classes=False))
    found = inferred["train_errors_too_cheap_for_noise"]
    assert found.value is True and found.certainty <= 0.8 and "inferred" in found.evidence
    # training accuracy not behind the validation's: nothing to judge
    for seed in range(3):
        assert value(classifier(seed=seed), "train_errors_too_cheap_for_noise") is None
