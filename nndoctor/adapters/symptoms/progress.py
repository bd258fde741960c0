"""Progress at the end of the log: a validation loss still reaching new lows when the run stopped.

The training loss of a short run is noisy step by step, so a slope test on its tail often cannot
tell a curve that still falls from one that has levelled off; the validation loss, averaged over
a whole set, can. A run stopped while the validation loss still falls clearly is a run that was
not trained long enough (or at too low a rate) - the opposite of a validation loss that has
plateaued or turned up.
"""

from __future__ import annotations

from collections.abc import Iterator

from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms.base import (
    Curve,
    Params,
    detector,
    graded,
    log_fact,
    median,
    num,
    pct,
)
from nndoctor.engine.facts import Fact


@detector("val_progress", produces=("val_still_improving",))
def val_progress(run: Run, p: Params) -> Iterator[Fact]:
    val = Curve.of(run.get("val_loss"), "val_loss")
    if val is None or len(val) < p["min_val_points"]:
        return
    values = val.values
    k = max(1, round(len(values) * p["tail_fraction"]))
    before = median(values[-2 * k:-k]) if len(values) >= 2 * k else float(values[0])
    end = median(values[-min(2, k):])
    best = float(values.min())
    drop = (before - end) / max(abs(before), 1e-12)
    tail_best = float(values[-k:].min())  # the lowest value lies in the last evaluations
    at_best = tail_best <= best + p["near_best"] * abs(best)
    improving = bool(drop >= p["min_drop"] and at_best)
    span = f"val_loss, steps {int(val.steps[-2 * k if len(values) >= 2 * k else 0])}-" \
           f"{int(val.steps[-1])}"
    text = (f"val_loss still fell {pct(drop)} over the last {k} of {len(values)} evaluations "
            f"(to {num(end)}; its lowest value is among them)" if improving else
            f"val_loss changed {drop:+.1%} over the last {k} of {len(values)} evaluations "
            f"(ends at {num(end)}, lowest {num(best)})")
    yield log_fact("val_still_improving", improving, text, span,
                   certainty=graded(drop, p["min_drop"], p["strong_drop"]) if improving else 0.9)


@detector("lr_schedule_end", produces=("lr_schedule_completed",))
def lr_schedule_end(run: Run, p: Params) -> Iterator[Fact]:
    """Whether the logged learning-rate schedule ran to its end: the rate decayed from its peak
    to a small share of it only in the last part of the log, as a planned decay does."""
    lr = Curve.of(run.get("lr"), "lr")
    if lr is None or len(lr) < p["min_points"]:
        return
    peak_i = int(lr.values.argmax())
    peak, end = float(lr.values[peak_i]), float(lr.values[-1])
    if peak <= 0:
        return
    low = (lr.values[peak_i:] <= p["end_share"] * peak).nonzero()[0]  # after the warm-up
    reached = peak_i + int(low[0]) if low.size else len(lr)
    completed = bool(end <= p["end_share"] * peak and reached >= p["late_from"] * (len(lr) - 1))
    text = (f"lr decayed from its peak {num(peak)} to {num(end)} ({pct(end / peak)}) by the end "
            "of the log: the schedule ran to its end" if completed else
            f"lr ends at {num(end)}, {pct(end / peak)} of its peak {num(peak)}")
    yield log_fact("lr_schedule_completed", completed, text, "lr")
