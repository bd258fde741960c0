"""The training loss climbs in the first steps, then recovers: the first updates overshot.

At the start of training the loss surface is at its sharpest; a step larger than about 2 / the
largest curvature makes the loss go up instead of down (Gilmer et al. 2021), which is why large
learning rates need a warm-up (Goyal et al. 2017). A loss that doubles within the first fifth of
the run and later falls below where it started shows exactly that transient. A loss that never
comes back is a blow-up (``loss_exploded``), not this.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms.base import (
    Curve,
    Params,
    detector,
    graded,
    log_fact,
    num,
    point_noise,
)
from nndoctor.engine.facts import Fact


@detector("start_rise", produces=("loss_rises_at_start",))
def start_rise(run: Run, p: Params) -> Iterator[Fact]:
    train = Curve.of(run.get("train_loss"), "train_loss")
    if train is None or len(train) < p["min_points"] or float(train.values.min()) <= 0:
        return  # a loss that reaches 0 or below is no cross-entropy/MSE whose scale means this
    steps, values = train.steps, train.values
    early = int(np.searchsorted(steps, steps[0] + p["early_share"] * (steps[-1] - steps[0]),
                                side="right"))
    if early < 2 or early >= len(train):
        return
    first = float(values[0])
    peak_at = int(values[:early].argmax())
    peak = float(values[peak_at])
    after = float(values[peak_at:].min())
    noise = point_noise(values[early:])
    ratio = peak / first
    rose = ratio >= p["rise_ratio"] and peak - first >= p["noise_z"] * noise
    found = rose and after < first
    text = (f"train_loss rises from {num(first)} (step {int(steps[0])}) to {num(peak)} at step "
            f"{int(steps[peak_at])} ({ratio:.1f}x) in the first {p['early_share']:.0%} of the "
            f"run, then falls to {num(after)}: the first updates overshot" if found else
            f"train_loss peaks at {ratio:.2g}x its first value {num(first)} in the first "
            f"{p['early_share']:.0%} of the run" + ("" if not rose else
                                                   " and never falls below it again"))
    yield log_fact("loss_rises_at_start", bool(found), text, train.span(0, peak_at),
                   certainty=graded(ratio, p["rise_ratio"], p["rise_strong"], floor=0.6)
                   if found else 0.8)
