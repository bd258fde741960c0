"""Medians as ``np.median`` gives them, bit for bit, without its per-call cost or its import of
``numpy.ma`` (np.median loads it on first use: ~12 ms of every process that reads a log). The
detectors (symptoms/base.py) and the readers (readers/_runs.py) share them."""

from __future__ import annotations

import numpy as np

_SMALL = 64  # values: up to this many, a median is taken of a Python list (no numpy call)
_FLOAT64 = np.dtype(np.float64)


def median(values: np.ndarray | list[float]) -> float:
    """``float(np.median(values))`` of a 1-D array (or list), bit for bit, without np.median's
    per-call cost (~30 µs, paid about a hundred times per run in a sweep): the middle value, or
    the mean of the two middle ones, computed as numpy computes it ((a + b) / 2, integers as
    float64); NaN if any is. Up to ``_SMALL`` floats are sorted as a Python list (the same
    values in the same order, up to the sign of equal zeros, which no sort fixes)."""
    if type(values) is np.ndarray and values.dtype is _FLOAT64 and values.ndim == 1 \
            and 0 < values.size <= _SMALL:  # (numpy's own float64: compared by identity)
        items = values.tolist()
        total = sum(items)
        if total == total:  # no NaN (nor +inf with -inf): the middle of the sorted list
            items.sort()
            m = len(items) // 2
            return items[m] if len(items) % 2 else (items[m - 1] + items[m]) / 2
    values = np.asarray(values)
    n = values.size
    if values.dtype.kind in "iu" and values.ndim == 1:
        values = values.astype(np.float64)  # numpy's mean of integers: float64 (monotone)
    if n == 0 or values.ndim != 1 or values.dtype != np.float64:
        return float(np.median(values))
    ordered = values.copy()  # np.sort's own steps: a copy sorted in place; NaN sorts last
    ordered.sort()
    if ordered[-1] != ordered[-1]:
        return float("nan")
    m = n // 2
    return float(ordered[m]) if n % 2 else float((ordered[m - 1] + ordered[m]) / 2)


def row_medians(rows: np.ndarray) -> np.ndarray:
    """``np.median(rows, axis=1)`` of a 2-D float array of finite values, bit for bit."""
    if rows.dtype != np.float64 or not rows.size or not np.isfinite(rows).all():
        return np.median(rows, axis=1)
    ordered = rows.copy()  # np.sort(rows, axis=1) without its wrapper
    ordered.sort(axis=1)
    m = rows.shape[1] // 2
    if rows.shape[1] % 2:
        return ordered[:, m].copy()
    return (ordered[:, m - 1] + ordered[:, m]) / 2
