"""The detectors' median and quantile helpers give numpy's values bit for bit (diagnoses must not
move)."""

from __future__ import annotations

import numpy as np

from nndoctor.adapters.symptoms.base import Curve, median, quantile, row_medians, share_of
from nndoctor.adapters.symptoms.labels import _above_diagonal


def test_median_is_numpys_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    for n in range(0, 80):  # both sides of the Python-list path (up to 64 values)
        for _ in range(30):
            x = rng.normal(size=n) * 10.0 ** rng.integers(-8, 8)
            if n and rng.random() < 0.15:
                x[rng.integers(n)] = rng.choice([np.inf, -np.inf, np.nan])
            want = np.median(x) if n else np.nan
            got = median(x) if n else np.nan
            assert np.array_equal(np.float64(got), np.float64(want), equal_nan=True), x
    assert median(np.array([1, 2, 3, 4])) == 2.5


def test_row_medians_are_numpys_bit_for_bit() -> None:
    rng = np.random.default_rng(1)
    for width in range(1, 40):
        rows = rng.normal(size=(25, width)) * 1e3
        assert row_medians(rows).tobytes() == np.median(rows, axis=1).tobytes()
    rows = np.array([[1.0, np.nan, 3.0], [1.0, 2.0, 3.0]])
    assert np.array_equal(row_medians(rows), np.median(rows, axis=1), equal_nan=True)


def test_median_of_integers_and_lists_is_numpys() -> None:
    rng = np.random.default_rng(2)
    for n in range(1, 40):
        steps = rng.integers(-10**6, 10**6, size=n)
        assert np.float64(median(steps)).tobytes() == np.float64(np.median(steps)).tobytes()
        values = list(rng.normal(size=n))
        assert np.float64(median(values)).tobytes() == np.float64(np.median(values)).tobytes()


def test_quantile_is_numpys_bit_for_bit() -> None:
    rng = np.random.default_rng(2)
    for n in range(1, 60):
        for q in (0.0, 0.05, 0.1, 0.5, 0.9, 0.95, 1.0, float(rng.random())):
            x = rng.normal(size=n) * 10.0 ** rng.integers(-8, 8)
            if rng.random() < 0.3:
                x = np.round(x)  # ties
            assert quantile(x, q) == float(np.quantile(x, q))  # -0.0 and 0.0 may swap places
    assert np.isnan(quantile(np.array([1.0, np.nan]), 0.5))


def test_correlation_is_numpys_bit_for_bit() -> None:
    from nndoctor.adapters.symptoms.base import correlation

    rng = np.random.default_rng(3)
    for n in range(2, 120):
        for _ in range(10):
            x, y = rng.normal(size=n), rng.normal(size=n) * 10.0 ** rng.integers(-6, 6)
            if rng.random() < 0.3:
                y = np.round(y)  # ties
            for a, b in ((x, y), (np.arange(n, dtype=float), y), (y, y)):
                with np.errstate(all="ignore"):  # a row of equal values: NaN in both
                    got, want = correlation(a, b), float(np.corrcoef(a, b)[0, 1])
                assert np.float64(got).tobytes() == np.float64(want).tobytes()
    constant = np.ones(5)
    with np.errstate(all="ignore"):
        assert np.isnan(correlation(constant, np.arange(5.0)))


def test_share_of_is_numpys_mean_bit_for_bit() -> None:
    rng = np.random.default_rng(5)
    for n in range(1, 300):
        mask = rng.random(n) < rng.random()
        assert np.float64(share_of(mask)).tobytes() == np.float64(np.mean(mask)).tobytes()


def test_running_and_trailing_medians_pad_as_before() -> None:
    rng = np.random.default_rng(6)
    for n in range(1, 40):
        values = rng.normal(size=n)
        curve = Curve("x", np.arange(n), values)
        for window in range(1, n + 1):
            pad = window // 2
            padded = np.concatenate((np.full(pad, values[0]), values,
                                     np.full(window - 1 - pad, values[-1])))
            want = np.median(np.lib.stride_tricks.sliding_window_view(padded, window), axis=1) \
                if window > 1 else values
            assert curve.smooth(window).tobytes() == want.tobytes()
        trailing = curve.trailing_median(3)
        assert np.isnan(trailing[:min(3, n)]).all()


def test_rising_share_mask_is_numpys_triu() -> None:
    for n in range(1, 30):
        want = np.triu(np.ones((n, n), dtype=bool), k=1)
        assert np.array_equal(_above_diagonal(n), want)
