"""few_points_still_falling: a log too short to judge its curves, whose few points still fall
at every one (adapters/symptoms/nonfinite.py, rule HLT008) - the 5-epoch Keras run of a
tutorial, stopped while it was improving."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from nndoctor.pipeline import diagnose_run, load_runs
from tests.probes.helpers import blobs
from tests.symptoms.synth import make_run, value

EPOCHS = np.arange(5)


def test_a_real_five_epoch_keras_run_still_falling_is_worth_training_longer(
        tmp_path: Path) -> None:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    x, y = blobs(512)
    model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(4)])
    model.compile(optimizer=keras.optimizers.SGD(0.03),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x.numpy(), y.numpy(), epochs=5, batch_size=32, verbose=0, validation_split=0.2,
              callbacks=[keras.callbacks.CSVLogger(str(tmp_path / "training.log"))])
    (run,) = load_runs([tmp_path])
    assert value(run, "few_points_still_falling") is True
    diagnosis = diagnose_run(run, questions=0).diagnosis
    assert diagnosis.verdict == "insufficient-data"
    assert [c.id for c in diagnosis.causes] == ["not_trained_long_enough"]
    assert diagnosis.causes[0].band == "possible"


@pytest.mark.parametrize("train", [
    [1.2, 0.9, 0.85, 0.84, 0.839],  # converged: the last epoch moves by 0.1 %
    [1.2, 0.9, 0.95, 0.8, 0.7],  # not every point falls
])
def test_few_points_that_level_off_or_wobble_are_not_still_falling(train: list[float]) -> None:
    run = make_run(train_loss=(EPOCHS, np.array(train)))
    assert value(run, "few_points_still_falling") is False
    assert diagnose_run(run, questions=0).diagnosis.causes == ()


def test_validation_that_stops_falling_vetoes_a_falling_training_loss() -> None:
    run = make_run(train_loss=(EPOCHS, np.array([1.2, 0.9, 0.7, 0.55, 0.45])),
                   val_loss=(EPOCHS, np.array([1.1, 0.95, 0.9, 0.92, 0.97])))
    assert value(run, "few_points_still_falling") is False


def test_enough_points_or_too_few_say_nothing() -> None:
    steps = np.arange(40)
    assert value(make_run(train_loss=(steps, 2.0 * np.exp(-steps / 10) + 0.1)),
                 "few_points_still_falling") is None  # judged by the curve detectors
    assert value(make_run(train_loss=(EPOCHS[:2], np.array([1.2, 0.9]))),
                 "few_points_still_falling") is None
