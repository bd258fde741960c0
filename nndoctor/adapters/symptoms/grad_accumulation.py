"""Gradients that are summed instead of replaced: the norm climbs with the steps since a clear.

PyTorch adds every ``backward()`` into the ``.grad`` buffers until something clears them. A loop
that never calls ``optimizer.zero_grad()`` steps along the sum of all past gradients, so the
logged gradient norm grows with the number of steps taken - about in proportion to it while
the gradients point alike, as its square root when they do not - from the first step to the
last; a loop that clears once per epoch (``zero_grad()`` in the epoch loop) climbs the same way
within each epoch and falls back at its start: a sawtooth. A healthy run's gradient norm
may rise for a while (a fine-tune's fresh head, a warmup) but then levels off or falls, and an
exploding one grows faster and faster (exponentially), not in the decelerating way of a sum.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms.base import (
    Curve,
    Params,
    correlation,
    detector,
    log_fact,
    median,
    ranks,
)
from nndoctor.engine.facts import Fact

MAX_POINTS = 4000


def stretches(values: np.ndarray, drop: float) -> list[tuple[int, int]]:
    """[start, end) index ranges between resets: a point at most ``drop`` × the largest of
    the (up to) three points before it in the same stretch starts a new one."""
    out, start = [], 0
    points = values.tolist()  # (Python floats: a quarter of the time of numpy's per-point calls)
    for k in range(1, len(points)):
        if points[k] <= drop * max(points[max(start, k - 3):k]):
            out.append((start, k))
            start = k
    out.append((start, len(points)))
    return out


def climb(steps: np.ndarray, values: np.ndarray, p: Params) -> tuple[bool, float]:
    """Whether one stretch climbs like a running sum - rises with the steps (rank correlation
    ≥ min_rank), ends ≥ min_rise × its first point, at its middle step is already at
    ≥ min_middle of its end (a sum decelerates; an explosion is still far below there), and
    grows at least like (steps since the clear)^min_exponent: a sum of t gradients grows like
    t while they point alike and like √t when they do not, where a healthy norm that drifts up
    over a long run rises far less than the steps do - and the rise."""
    end = median(values[-3:])
    rise = end / values[0]
    t = steps - steps[0]
    k = int(np.abs(t - t[-1] / 2).argmin())
    middle = median(values[max(k - 1, 0):k + 2]) / end
    rho = correlation(ranks(steps), ranks(values))
    interval = float(np.median(np.diff(steps)))  # the first point already sums that many steps
    exponent = np.log(rise) / np.log((t[-1] + interval) / interval) if rise > 0 else 0.0
    return (rho >= p["min_rank"] and rise >= p["min_rise"] and middle >= p["min_middle"]
            and exponent >= p["min_exponent"]), rise


@detector("grad_accumulation", produces=("grad_norm_accumulating",))
def grad_accumulation(run: Run, p: Params) -> Iterator[Fact]:
    curve = Curve.of(run.get("grad_norm"), "grad_norm", MAX_POINTS)
    if curve is None:
        return
    keep = np.isfinite(curve.values) & (curve.values > 0)  # 0.0: a logger's placeholder
    steps, values = curve.steps[keep].astype(float), curve.values[keep]
    if values.size < p["min_points"]:
        return
    judged = [(end - start, *climb(steps[start:end], values[start:end], p))
              for start, end in stretches(values, p["reset_drop"])
              if end - start >= p["min_stretch"]]
    if not judged:
        return
    first_climbs, first_rise = judged[0][1], judged[0][2]
    climbing = [size for size, climbs, _rise in judged if climbs]
    share = sum(climbing) / values.size
    holds = first_climbs and first_rise >= p["first_rise"] and (
        share >= p["min_share"]
        or (len(climbing) >= p["min_sawtooth"] and 2 * len(climbing) >= len(judged)))
    span = f"grad_norm, {curve.span()}"
    if holds and len(climbing) == 1:
        text = (f"grad_norm climbs {first_rise:.3g}× from its first logged step through "
                f"{share:.0%} of the run, decelerating like a running sum of gradients")
    elif holds:
        text = (f"grad_norm climbs like a running sum within {len(climbing)} of {len(judged)} "
                f"stretches ({share:.0%} of the run, {first_rise:.3g}× in the first) and falls "
                "back between them: the gradients are cleared only now and then")
    else:
        text = ("grad_norm does not climb like a running sum of gradients (its first stretch "
                f"rises {first_rise:.3g}×; a sum climbs ≥ {p['first_rise']:g}× and keeps climbing "
                f"over ≥ {p['min_share']:.0%} of the run or in ≥ {p['min_sawtooth']} stretches)")
    yield log_fact("grad_norm_accumulating", holds, text, span)
