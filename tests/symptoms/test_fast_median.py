"""The detectors' median and quantile helpers give numpy's values bit for bit (diagnoses must not
move)."""

from __future__ import annotations

import numpy as np

from nndoctor.adapters.symptoms.base import median, quantile, row_medians


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
