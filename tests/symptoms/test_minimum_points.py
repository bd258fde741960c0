"""Every detector that reads curves declares its minimum number of points in detectors.yaml
(``min_points``, ``min_val_points``, …) and says nothing below it - so `nndoctor watch` cannot
alert on a run that has not logged enough points for the detector in question."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nndoctor.adapters.run import Run, Series
from nndoctor.adapters.symptoms import derive_facts
from nndoctor.adapters.symptoms.base import DETECTORS, PRODUCES
from nndoctor.knowledge.loader import builtin_knowledge_base

KB = builtin_knowledge_base()
# detectors that judge from any number of points, and why
ANY_POINTS = {
    "nonfinite_loss": "one NaN/Inf is evidence at any length",
    "nonfinite_from_start": "a non-finite first point is evidence at any length",
    "run_length": "how far the log got is known at any length",
    "run_context": "the configuration, not the curves",
    "task": "the configuration, or the first points only (ln C, 1/C)",
    "lr_range": "the configured learning rate",
    "batch_vs_data": "the configuration",
    "training_set_size": "the configuration and the task",
    "probes": "the probe's per-layer signals, judged from their first or last points",
    "checkpoints": "two saved checkpoints' weights, not the curves",
    "optimizer_state": "the saved optimiser state, not the curves",
    "minimum_points": "it is the one that says a run has too few points",
    "architecture": "the configuration's model type, or the names of the logged layers",
    "finetune_setup": "the configuration (pretrained weights, precision, accumulation)",
}
# facts of a detector with a minimum that hold at any length (the minimum is for its others)
POINT_FREE = {
    "loss_absurd_scale": "one loss >= 1e3 is absurd at any length (AUTOTRAINER)",
    "initial_loss_absurd": "the first point",
    "loss_negative": "a running median below 0 is negative at any length",
    "loss_negative_impossible": "a classification loss below 0 is impossible at any length",
}


def minimums(name: str) -> list[int]:
    params = KB.detector_params(name) if name in KB.detectors.detectors else {}
    return [int(v) for k, v in params.items() if k.startswith("min_") and k.endswith("points")]


def lively_run(points: int) -> Run:
    """Every canonical series with ``points`` points: a classifier whose loss falls, turns up on
    validation, spikes in the gradient norm, with a warm-up and decay of the learning rate."""
    rng = np.random.default_rng(0)
    steps = np.arange(points) * 10
    shape = np.exp(-np.arange(points) / max(points / 4, 1))
    train = 2.2 * shape + 0.1 + rng.normal(0, 0.02, points)
    val = 2.2 * shape + 0.4 + np.linspace(0, 0.8, points) ** 2
    acc = 0.1 + 0.85 * (1 - shape)
    lr = np.minimum(np.linspace(0.2, 3, points), 1.0) * 1e-3 * np.cos(np.linspace(0, 1.5, points))
    grad = 1.0 + rng.normal(0, 0.05, points)
    grad[points // 2:points // 2 + 1] *= 50
    series = {"train_loss": train, "val_loss": val, "train_acc": acc, "val_acc": acc - 0.1,
              "lr": lr, "grad_norm": grad}
    return Run("lively", Path("lively"), "test",
               {k: Series.from_pairs(steps, v, k) for k, v in series.items()},
               {"num_classes": 10})


def judged(name: str, run: Run) -> list[str]:
    """The facts a detector establishes (a False is only the absence of a symptom)."""
    params = KB.detector_params(name) if name in KB.detectors.detectors else {}
    return [f.name for f in DETECTORS[name](run, params)
            if f.name not in POINT_FREE and f.value is not False]


def test_every_curve_detector_declares_its_minimum():
    missing = sorted(n for n in DETECTORS if not minimums(n) and n not in ANY_POINTS)
    assert not missing, f"declare min_points (or min_val_points) in detectors.yaml for {missing}"


@pytest.mark.parametrize("name", sorted(n for n in DETECTORS
                                        if minimums(n) and n not in ANY_POINTS))
def test_a_detector_says_nothing_below_its_minimum(name):
    smallest = min(minimums(name))
    if smallest <= 1:
        pytest.skip(f"{name} judges from one point")
    from nndoctor.adapters.symptoms import curves, task

    def prepared(points: int) -> Run:  # what derive_facts gives every detector first
        run = task.annotate(lively_run(points), KB.detector_params("task"))
        return curves.annotate(run, KB.detector_params("loss_shape"))

    assert judged(name, prepared(smallest - 1)) == [], \
        f"{name} judged {smallest - 1} points, below its min {smallest}"


def test_the_minimums_are_met_by_the_test_run():
    """The check above can fail: with enough points most of these detectors do speak."""
    run = lively_run(80)
    derived = {f.name for f in derive_facts(run, KB)}
    speaking = [n for n in DETECTORS if minimums(n) and set(PRODUCES[n]) & derived]
    assert len(speaking) >= 15, speaking


def test_too_few_points_is_insufficient_data_and_raises_no_alarm():
    """Below the run-level minimum only point-free evidence could alarm; this run has none."""
    from nndoctor.pipeline import diagnose_run

    floor = int(KB.detector_params("minimum_points")["min_points"])
    for points in range(1, floor):
        report = diagnose_run(lively_run(points), questions=0)
        assert report.diagnosis.verdict == "insufficient-data", points
        assert report.diagnosis.alarming("possible") == (), points
