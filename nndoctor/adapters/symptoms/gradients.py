"""The global gradient norm: spikes, growth, collapse."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms.base import Curve, Params, detector, log_fact, num
from nndoctor.engine.facts import Fact


@detector("grad_norm")
def grad_norm(run: Run, p: Params) -> Iterator[Fact]:
    curve = Curve.of(run.get("grad_norm"), "grad_norm")
    if curve is None or len(curve) < p["min_points"]:
        return
    rolling = curve.trailing_median(p["window"])
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = curve.values / np.maximum(rolling, 1e-30)
    spikes = np.flatnonzero(ratio >= p["spike_ratio"])  # NaN where no history: never a spike
    if spikes.size:
        i = int(spikes[0])
        text = (f"grad_norm spiked to {num(float(curve.values[i]))} at step "
                f"{int(curve.steps[i])}, {ratio[i]:.0f}× the median of the previous "
                f"{p['window']} points ({spikes.size} spikes)")
    else:
        text = (f"grad_norm never exceeds {p['spike_ratio']}× the median of the previous "
                f"{p['window']} points")
    yield log_fact("grad_norm_spikes", bool(spikes.size), text, f"grad_norm, {curve.span()}")
    start, end = curve.level_start(0.2), curve.level_end(0.2)
    growth = end / max(start, 1e-30)
    yield log_fact("grad_norm_growing", bool(growth >= p["growth_ratio"]),
                   f"grad_norm went from {num(start)} to {num(end)} ({growth:.2g}×)",
                   f"grad_norm, {curve.span()}")
    vanished = end <= p["vanish_abs"] or growth <= p["vanish_ratio"]
    yield log_fact("grad_norm_vanishing", bool(vanished),
                   f"grad_norm ends at {num(end)} ({growth:.2g}× its start {num(start)})",
                   f"grad_norm, {curve.span()}")
