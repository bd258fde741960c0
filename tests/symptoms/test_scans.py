"""Scans the detectors make over whole curves at once, against the point-by-point loops they
replace: the longest run of absurd gradient norms and the search for a loss blow-up."""

from __future__ import annotations

import numpy as np

from nndoctor.adapters.symptoms.base import Curve
from nndoctor.adapters.symptoms.curves import find_blowup
from nndoctor.adapters.symptoms.gradients import longest_run
from nndoctor.knowledge.loader import builtin_knowledge_base


def _longest_by_loop(high: np.ndarray) -> tuple[int, int]:
    run_start, longest, best = -1, 0, -1
    for i, h in enumerate(high):
        if h:
            run_start = i if run_start < 0 else run_start
            if i - run_start + 1 > longest:
                longest, best = i - run_start + 1, run_start
        else:
            run_start = -1
    return longest, best


def test_longest_run_is_the_first_of_the_longest() -> None:
    rng = np.random.default_rng(3)
    for n in range(60):
        for share in (0.0, 0.3, 0.7, 1.0):
            mask = rng.random(n) < share
            assert longest_run(mask) == _longest_by_loop(mask), mask
    assert longest_run(np.array([True, True, False, True, True])) == (2, 0)


def _blowup_by_loop(curve: Curve, p: dict) -> tuple[int, int] | None:
    """The point-by-point scan of curves._find_blowup: (first index, last index) of the first
    jump that lasts, or None."""
    window, n = int(p["explode_window"]), len(curve)
    smooth = curve.smooth(int(p["explode_smooth"])).tolist()
    start = abs(curve.level_start(p["edge_fraction"]))
    floor = max(p["explode_floor"] * start, 1e-12)
    reference = np.maximum(curve.trailing_median(window), floor).tolist()
    bar = p["explode_start_share"] * start
    i = window
    while i < n:
        ref = reference[i]
        if smooth[i] >= p["explode_ratio"] * ref and smooth[i] >= bar:
            j = i
            while j + 1 < n and smooth[j + 1] >= p["explode_ratio"] * ref:
                j += 1
            length = j - i + 1
            if length >= p["explode_persist"] or (j == n - 1 and length >= 2):
                return i, j
            i = j + 1
            continue
        i += 1
    return None


def test_blowup_search_finds_what_the_point_by_point_scan_finds() -> None:
    p = builtin_knowledge_base().detectors.detectors["loss_shape"].params
    rng = np.random.default_rng(8)
    found = 0
    for trial in range(300):
        n = int(rng.integers(12, 200))
        values = 2.0 * np.exp(-np.arange(n) / 40) + rng.normal(0, 0.02, n) ** 2
        for _ in range(int(rng.integers(0, 4))):  # jumps of 1 to 6 points, some lasting
            at, width = int(rng.integers(0, n)), int(rng.integers(1, 7))
            values[at:at + width] *= rng.choice([3.0, 15.0, 40.0])
        if trial % 7 == 0:
            values[int(n * 0.8):] *= 30  # up at the end of the log
        curve = Curve("train_loss", np.arange(n, dtype=np.int64) * 10, values)
        expected = _blowup_by_loop(curve, p)
        blowup = find_blowup(curve, p)
        if expected is None:
            assert blowup is None or "AUTOTRAINER" in blowup.text
        else:
            found += 1
            assert blowup is not None
            assert (blowup.index, blowup.end_step) == (expected[0], int(curve.steps[expected[1]]))
    assert found > 50
