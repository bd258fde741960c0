"""Within one run's detectors, curves and running medians are computed once and shared read-only."""

from __future__ import annotations

import numpy as np
import pytest

from nndoctor.adapters.run import Series
from nndoctor.adapters.symptoms.base import Curve, one_run


def _series() -> Series:
    values = np.array([3.0, np.nan, 2.0, 9.0, 1.5, 1.0, np.inf, 0.9, 0.8])
    return Series(np.arange(values.size, dtype=np.int64), values)


def test_shared_within_a_run_and_read_only() -> None:
    series = _series()
    with one_run():
        curve = Curve.of(series, "train_loss")
        assert Curve.of(series, "train_loss") is curve
        assert Curve.of(series, "val_loss") is not curve
        smooth = curve.smooth(3)
        assert curve.smooth(3) is smooth and curve.smooth(5) is not smooth
        for array in (curve.values, curve.steps, smooth):
            with pytest.raises(ValueError):
                array[0] = 0.0
    assert Curve.of(series, "train_loss") is not curve  # nothing outlives the block


def test_same_numbers_as_without() -> None:
    series = _series()
    plain = Curve.of(series, "train_loss")
    assert plain is not None
    with one_run():
        shared = Curve.of(series, "train_loss")
        assert shared is not None
        for window in range(1, 9):
            assert shared.smooth(window).tobytes() == plain.smooth(window).tobytes()
            assert shared.trailing_median(window).tobytes() \
                == plain.trailing_median(window).tobytes()
    padded = np.pad(plain.values, (2, 2), mode="edge")
    want = np.median(np.lib.stride_tricks.sliding_window_view(padded, 5), axis=1)
    assert plain.smooth(5).tobytes() == want.tobytes()


def test_between_is_the_mask() -> None:
    rng = np.random.default_rng(3)
    for ordered in (True, False):
        steps = np.sort(rng.integers(0, 50, 40)) if ordered else rng.integers(0, 50, 40)
        curve = Curve("x", steps.astype(np.int64), rng.normal(size=40))
        for low, high in [(-np.inf, 10), (3, 3), (10, 4), (2.5, 30.5), (49, 60), (-5, -1)]:
            want = curve.values[(curve.steps > low) & (curve.steps <= high)]
            assert curve.between(low, high).tobytes() == want.tobytes()


def test_within_is_between_for_each_pair() -> None:
    rng = np.random.default_rng(4)
    lows, highs = [-np.inf, 3, 10, 2.5, 49, -5], [10, 3, 4, 30.5, 60, -1]
    for ordered in (True, False):
        steps = np.sort(rng.integers(0, 50, 40)) if ordered else rng.integers(0, 50, 40)
        curve = Curve("x", steps.astype(np.int64), rng.normal(size=40))
        got = curve.within(lows, highs)
        assert [g.tobytes() for g in got] \
            == [curve.between(lo, hi).tobytes() for lo, hi in zip(lows, highs, strict=True)]
    assert curve.within([], []) == []


def test_detectors_take_a_validation_curve_without_finite_points() -> None:
    """An all-NaN val_loss is a curve of no points: the windowed detectors see no windows."""
    from pathlib import Path

    from nndoctor.adapters.run import Run
    from nndoctor.adapters.symptoms import derive_facts
    from nndoctor.engine.inference import default_engine

    steps = np.arange(0, 200, 10, dtype=np.int64)
    run = Run("nan-val", Path("x"), "csv", {
        "train_loss": Series(steps, np.linspace(2.0, 0.5, steps.size)),
        "val_loss": Series(steps, np.full(steps.size, np.nan))},
        context={"steps_per_epoch": 40})
    assert derive_facts(run, default_engine().kb)
