"""Signatures of a wrong loss or forward pass (adapters/symptoms/loss_signatures.py): each on a
small synthetic curve that shows it, and on the healthy classifier that must stay silent."""

from __future__ import annotations

import math

import numpy as np

from tests.symptoms.synth import STEPS, VAL_STEPS, classifier, make_run, value

MINE = ("loss_maximised", "loss_scaled_by_batch", "loss_below_ce_floor",
        "loss_at_binary_chance_multiclass", "loss_tracks_double_softmax", "nonfinite_from_start",
        "accuracy_below_chance")


def _acc(top: float, steps=STEPS, start: float = 0.25, tau: float = 900.0) -> np.ndarray:
    return start + (top - start) * (1 - np.exp(-steps / tau))


def test_healthy_classifier_shows_none():
    for seed in range(3):
        for give in (True, False):
            run = classifier(seed=seed, classes=4, give_classes=give)
            for name in MINE:
                assert value(run, name) in (None, False), (name, seed, give)


def test_sign_flipped_loss_is_maximised():
    train = -1.4 * np.exp(STEPS / 600.0)
    run = make_run({"num_classes": 4}, train_loss=(STEPS, train),
                   train_acc=(STEPS, np.full(STEPS.size, 0.25)))
    assert value(run, "loss_maximised") is True
    learning = make_run({"num_classes": 4}, train_loss=(STEPS, train),
                        train_acc=(STEPS, _acc(0.9)))  # NLL on logits: negative, but it learns
    assert value(learning, "loss_maximised") is False


def test_a_maximised_loss_logged_per_epoch_starts_below_zero():
    """Keras logs an epoch's average: the first point of a flipped-sign loss is already
    negative, so the runaway is judged by its falling further, not tenfold."""
    epochs = np.arange(1, 9)
    falling = -7.9 - 0.8 * (epochs - 1)
    run = make_run({}, train_loss=(epochs, falling), train_acc=(epochs, np.full(8, 0.16)))
    assert value(run, "loss_maximised") is True
    learning = make_run({}, train_loss=(epochs, falling),
                        train_acc=(epochs, _acc(0.9, epochs, tau=2)))
    assert value(learning, "loss_maximised") is False  # NLL on logits: negative, but it learns


def test_summed_loss_scaled_by_batch():
    per_sample = 1.386 * np.exp(-STEPS / 900.0) + 0.25
    run = make_run({"num_classes": 4, "batch_size": 32}, train_loss=(STEPS, 32 * per_sample),
                   train_acc=(STEPS, _acc(0.92)))
    assert value(run, "loss_scaled_by_batch") is True
    mean = make_run({"num_classes": 4, "batch_size": 32}, train_loss=(STEPS, per_sample),
                    train_acc=(STEPS, _acc(0.92)))
    assert value(mean, "loss_scaled_by_batch") is False


def test_mse_on_one_hot_is_below_any_cross_entropy():
    acc = _acc(0.95, start=0.1)
    mse = 0.1 * np.exp(-STEPS / 900.0) + 0.01
    run = make_run({"num_classes": 10}, train_loss=(STEPS, mse), train_acc=(STEPS, acc))
    assert value(run, "loss_below_ce_floor") is True
    ce = make_run({"num_classes": 10}, train_loss=(STEPS, 2.3 * np.exp(-STEPS / 900.0) + 0.1),
                  train_acc=(STEPS, acc))
    assert value(ce, "loss_below_ce_floor") is False


def test_loss_pinned_at_ln2_with_four_classes():
    loss = math.log(2) + 0.15 * np.exp(-STEPS / 200.0)
    run = make_run({"num_classes": 4}, train_loss=(STEPS, loss),
                   train_acc=(STEPS, np.full(STEPS.size, 0.35)))
    assert value(run, "loss_at_binary_chance_multiclass") is True
    binary = make_run({"num_classes": 2}, train_loss=(STEPS, loss),
                      train_acc=(STEPS, np.full(STEPS.size, 0.5)))
    assert value(binary, "loss_at_binary_chance_multiclass") in (None, False)


def test_double_softmax_curve_without_class_count():
    acc = _acc(0.95, start=0.1)
    c = 10
    curve = acc * math.log(1 + (c - 1) / math.e) + (1 - acc) * math.log(math.e + c - 1)
    run = make_run({}, train_loss=(STEPS, curve), train_acc=(STEPS, acc))
    assert value(run, "loss_tracks_double_softmax") is True
    healthy = classifier(classes=10, give_classes=False)
    assert value(healthy, "loss_tracks_double_softmax") in (None, False)


def test_double_softmax_curve_of_a_binary_task_from_both_splits():
    """Two classes, no class count and a first loss below 1: the one C whose curve both the
    train and the validation end points follow is the evidence (a sigmoid fed to a with-logits
    loss, or softmax twice over two outputs)."""
    def on_curve(acc):
        return acc * math.log(1 + 1 / math.e) + (1 - acc) * math.log(math.e + 1)
    train_acc, val_acc = _acc(0.985, start=0.5), _acc(0.96, VAL_STEPS, start=0.5)
    run = make_run({}, train_loss=(STEPS, on_curve(train_acc)), train_acc=(STEPS, train_acc),
                   val_loss=(VAL_STEPS, on_curve(val_acc)), val_acc=(VAL_STEPS, val_acc))
    assert value(run, "loss_tracks_double_softmax") is True
    alone = make_run({}, train_loss=(STEPS, on_curve(train_acc)), train_acc=(STEPS, train_acc))
    assert value(alone, "loss_tracks_double_softmax") is None  # one split fits some C anyway
    from nndoctor.adapters.symptoms.consistency import calibrated_loss
    healthy = make_run({}, **{  # logged from late in training: no first loss at ln 2
        "train_loss": (STEPS, [1.1 * calibrated_loss(a, 2) for a in train_acc]),
        "train_acc": (STEPS, train_acc),
        "val_loss": (VAL_STEPS, [1.2 * calibrated_loss(a, 2) for a in val_acc]),
        "val_acc": (VAL_STEPS, val_acc)})
    assert value(healthy, "loss_tracks_double_softmax") is False


def test_nan_from_the_first_step():
    nan = np.full(STEPS.size, np.nan)
    run = make_run({"num_classes": 4}, train_loss=(STEPS, nan),
                   train_acc=(STEPS, np.full(STEPS.size, 0.25)))
    assert value(run, "nonfinite_from_start") is True
    late = np.where(STEPS < 2000, 1.0, np.nan)
    later = make_run({"num_classes": 4}, train_loss=(STEPS, late),
                     train_acc=(STEPS, np.full(STEPS.size, 0.25)))
    assert value(later, "nonfinite_from_start") is False


def test_accuracy_below_chance():
    flat = np.full(STEPS.size, math.log(6))
    run = make_run({"num_classes": 6}, train_loss=(STEPS, flat),
                   val_acc=(VAL_STEPS, np.full(VAL_STEPS.size, 0.06)))
    assert value(run, "accuracy_below_chance") is True
    at = make_run({"num_classes": 6}, train_loss=(STEPS, flat),
                  val_acc=(VAL_STEPS, np.full(VAL_STEPS.size, 0.17)))
    assert value(at, "accuracy_below_chance") is False
