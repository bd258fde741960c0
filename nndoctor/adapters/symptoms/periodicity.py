"""A step loss that repeats every epoch: the signature of data that is not shuffled (the same
batches, in the same order, every epoch). Judged by the autocorrelation of the detrended loss
at a lag of one epoch, against the autocorrelation at half an epoch."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms.base import Params, detector, log_fact, median
from nndoctor.adapters.symptoms.config import steps_per_epoch
from nndoctor.engine.facts import Fact


def epoch_length(run: Run) -> tuple[float, str] | None:
    """Steps per epoch from the configuration, else from the evaluation schedule: Lightning and
    Keras validate once per epoch by default, several times an epoch when asked - then the
    evaluations land on rounded steps of a fractional interval (14, 29, 44, 58 … for three a
    44-step epoch), and the epoch is the first whole multiple of the mean interval."""
    known = steps_per_epoch(run)
    if known is not None:
        return known
    val = run.get("val_loss") or run.get("val_acc")
    if val is None or len(val) < 4:
        return None
    gaps = np.diff(val.steps).astype(float)
    mean = float(val.steps[-1] - val.steps[0]) / (len(val) - 1)
    if mean <= 0 or np.any(np.abs(gaps - mean) > 1.0):
        return None
    for k in range(1, 5):
        if abs(k * mean - round(k * mean)) <= 0.05:
            per = round(k * mean)
            how = (f"evaluations every {per} steps, taken as one epoch" if k == 1 else
                   f"{k} evaluations per {per} steps, taken as one epoch")
            return float(per), how
    return None


def _acf(x: np.ndarray, lag: int) -> float:
    a, b = x[:-lag], x[lag:]
    a, b = a - a.mean(), b - b.mean()
    denom = float(np.sqrt((a @ a) * (b @ b)))
    return float(a @ b) / denom if denom > 0 else 0.0


@detector("epoch_periodicity", produces=("loss_sawtooth_per_epoch",))
def epoch_periodicity(run: Run, p: Params) -> Iterator[Fact]:
    series = run.get("train_loss")
    if series is None or run.context.get("step_unit") == "epoch":
        return
    finite = np.isfinite(series.values)
    steps, values = series.steps[finite], series.values[finite]
    if values.size < p["min_points"] or values.size > p["max_points"]:
        return
    gaps = np.diff(steps)
    spacing = int(median(gaps)) if gaps.size else 0
    if spacing <= 0 or np.mean(gaps == spacing) < p["regular_share"]:
        return
    known = epoch_length(run)
    if known is None:
        return
    per_epoch, how = known
    lag_f = per_epoch / spacing
    lag = round(lag_f)
    # the logging interval must (nearly) divide the epoch, or the points drift through it
    if lag < p["min_lag"] or abs(lag_f - lag) > p["phase_drift"] or \
            values.size < p["min_epochs"] * lag:
        return
    x = np.log(values) if values.min() > 0 else values.copy()
    # one-epoch moving average (by cumulative sums, O(n) for any epoch length): it removes the
    # trend and cancels anything that repeats every epoch, which the residual then keeps
    csum = np.concatenate(([0.0], np.cumsum(x)))
    trend = (csum[lag:] - csum[:-lag]) / lag
    offset = (lag - 1) // 2
    resid = x[offset:offset + trend.size] - trend
    if resid.size < 3 * lag:
        return
    at_epoch, at_half = _acf(resid, lag), _acf(resid, max(1, lag // 2))
    # the pattern must stand out of chance (4 standard errors of an autocorrelation) and be
    # large enough to matter: the mean within-epoch profile swings by a share of the level
    bar = max(p["acf_min"], 4 / np.sqrt(resid.size))
    usable = resid[:resid.size - resid.size % lag].reshape(-1, lag)
    profile = usable.mean(axis=0)
    swing = float(profile.std()) if values.min() > 0 else \
        float(profile.std()) / max(median(np.abs(values)), 1e-12)
    found = at_epoch >= bar and at_epoch - at_half >= p["contrast"] and \
        swing >= p["min_swing"]
    yield log_fact("loss_sawtooth_per_epoch", bool(found),
                   f"the detrended train_loss correlates {at_epoch:.2f} with itself one epoch "
                   f"({lag} points, {int(per_epoch)} steps: {how}) later and {at_half:.2f} half "
                   f"an epoch later, its mean within-epoch pattern swinging ±{swing:.1%} (a "
                   f"per-epoch pattern from {bar:.2f}, a contrast of {p['contrast']:g} and "
                   f"±{p['min_swing']:.0%})", f"train_loss, steps {int(steps[0])}-{int(steps[-1])}",
                   certainty=0.8)
