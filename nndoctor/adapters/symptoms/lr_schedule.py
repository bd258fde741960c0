"""The learning rate: its peak, warmup, and schedules that die early."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms.base import Curve, Params, detector, log_fact, num
from nndoctor.adapters.symptoms.context import _number
from nndoctor.engine.facts import Fact


@detector("lr_schedule", produces=("lr", "lr_final", "lr_warmup", "lr_decays_to_zero_early"))
def lr_schedule(run: Run, p: Params) -> Iterator[Fact]:
    curve = Curve.of(run.get("lr"), "lr")
    if curve is None or len(curve) < p["min_points"]:
        value = _number(run.context.get("lr"))
        if value is not None and value >= 0:
            yield log_fact("lr", value, f"lr = {value:g} in the run's hyper-parameters", "hparams")
        return
    peak_i = int(curve.values.argmax())
    peak = float(curve.values[peak_i])
    yield log_fact("lr", peak, f"peak learning rate {num(peak)} at step {int(curve.steps[peak_i])}",
                   "lr")
    last = float(curve.values[-1])
    yield log_fact("lr_final", last, f"last logged learning rate {num(last)} at step "
                   f"{int(curve.steps[-1])}", "lr")
    if peak <= 0:
        return
    warm = curve.values[0] <= p["warmup_start"] * peak and peak_i > 0
    yield log_fact("lr_warmup", bool(warm),
                   f"lr starts at {num(float(curve.values[0]))} and peaks at {num(peak)} at step "
                   f"{int(curve.steps[peak_i])}", "lr")
    last_step = int(curve.steps[-1])
    low = curve.values <= p["dead_fraction"] * peak
    dead = (low & (np.arange(len(curve)) > peak_i)).nonzero()[0]
    if dead.size and (curve.values[dead[0]:] <= p["dead_fraction"] * peak).all():
        at = int(curve.steps[dead[0]])
        early = at <= p["early_by"] * last_step
        yield log_fact("lr_decays_to_zero_early", bool(early),
                       f"lr fell below {p['dead_fraction']:.0%} of its peak at step {at} of "
                       f"{last_step}", "lr")
    else:
        yield log_fact("lr_decays_to_zero_early", False,
                       f"lr ends at {num(float(curve.values[-1]))} (peak {num(peak)})", "lr")
