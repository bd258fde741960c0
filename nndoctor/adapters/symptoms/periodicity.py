"""A step loss that repeats every epoch: the signature of data that is not shuffled (the same
batches, in the same order, every epoch). Judged by the autocorrelation of the detrended loss
at a lag of one epoch, against the autocorrelation at half an epoch."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms.base import Params, detector, log_fact, median, share_of
from nndoctor.adapters.symptoms.config import steps_per_epoch
from nndoctor.engine.facts import Fact


def epoch_lengths(run: Run) -> list[tuple[float, str]]:
    """Candidate steps per epoch, most likely first: the configuration's, else from the
    evaluation schedule. Lightning and Keras validate once per epoch by default, several times
    an epoch when asked - then the evaluations land on rounded steps of a fractional interval
    (14, 29, 44, 58 … for three a 44-step epoch) - so the epoch is a whole multiple (1 to 4
    evaluations) of the mean evaluation interval, and each such multiple is a candidate."""
    known = steps_per_epoch(run)
    if known is not None:
        return [known]
    val = run.get("val_loss") or run.get("val_acc")
    if val is None or len(val) < 4:
        return []
    gaps = np.diff(val.steps).astype(float)
    mean = float(val.steps[-1] - val.steps[0]) / (len(val) - 1)
    if mean <= 0 or np.any(np.abs(gaps - mean) > 1.0):
        return []
    out = []
    for k in range(1, 5):
        if abs(k * mean - round(k * mean)) <= 0.05:
            per = round(k * mean)
            out.append((float(per), f"evaluations every {per} steps, taken as one epoch" if k == 1
                        else f"{k} evaluations per {per} steps, taken as one epoch"))
    return out


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
    gaps = steps[1:] - steps[:-1]
    spacing = int(median(gaps)) if gaps.size else 0
    if spacing <= 0 or share_of(gaps == spacing) < p["regular_share"]:
        return
    x = np.log(values) if values.min() > 0 else values.copy()
    tried = []
    for per_epoch, how in epoch_lengths(run):
        period = _period(per_epoch, spacing, values.size, p)
        result = _periodic(x, values, period[0], period[1], p) if period is not None else None
        if result is not None:
            tried.append((result, period, per_epoch, how))
            if result[0]:
                break
    if not tried:
        return
    (ok, at_epoch, at_half, swing, bar), (lag, _half, epochs), per_epoch, how = tried[-1] \
        if tried[-1][0][0] else tried[0]
    span = f"one epoch ({lag} points, {int(per_epoch)} steps: {how})" if epochs == 1 else \
        f"{epochs} epochs ({lag} points, {epochs} × {int(per_epoch)} steps: {how}; the logging " \
        "interval divides no single epoch)"
    yield log_fact("loss_sawtooth_per_epoch", bool(ok),
                   f"the detrended train_loss correlates {at_epoch:.2f} with itself {span} "
                   f"later and {at_half:.2f} half an epoch later, its mean pattern within that "
                   f"period swinging ±{swing:.1%} (a per-epoch pattern from {bar:.2f}, a "
                   f"contrast of {p['contrast']:g} and ±{p['min_swing']:.0%})",
                   f"train_loss, steps {int(steps[0])}-{int(steps[-1])}", certainty=0.8)


def _period(per_epoch: float, spacing: int, points: int, p: Params
            ) -> tuple[int, int, int] | None:
    """The period to test, in points: (lag, half an epoch, epochs) for the fewest epochs (up to
    ``max_epochs_per_period``) that the logging interval divides - the points drift through the
    epoch otherwise - or None when those are too short or the log holds too few of them."""
    for epochs in range(1, p["max_epochs_per_period"] + 1):
        lag_f = epochs * per_epoch / spacing
        lag = round(lag_f)
        if lag >= p["min_lag"] and abs(lag_f - lag) <= p["phase_drift"]:
            if points < p["min_epochs"] * lag:
                return None
            return lag, max(1, round(lag / (2 * epochs))), epochs
    return None


def _periodic(x: np.ndarray, values: np.ndarray, lag: int, half: int, p: Params
              ) -> tuple[bool, float, float, float, float] | None:
    """Whether the (log) loss ``x`` repeats every ``lag`` points and not every ``half`` (half
    an epoch): (found, autocorrelation at the lag, at half an epoch, swing of the mean profile,
    the autocorrelation bar); None when too few points are left once the trend is removed."""
    # one-period moving average (by cumulative sums, O(n) for any period): it removes the
    # trend and cancels anything that repeats every period, which the residual then keeps
    csum = np.concatenate(([0.0], np.cumsum(x)))
    trend = (csum[lag:] - csum[:-lag]) / lag
    offset = (lag - 1) // 2
    resid = x[offset:offset + trend.size] - trend
    if resid.size < 3 * lag:
        return None
    at_epoch, at_half = _acf(resid, lag), _acf(resid, half)
    # the pattern must stand out of chance (4 standard errors of an autocorrelation) and be
    # large enough to matter: the mean within-period profile swings by a share of the level
    bar = max(p["acf_min"], 4 / np.sqrt(resid.size))
    usable = resid[:resid.size - resid.size % lag].reshape(-1, lag)
    profile = usable.mean(axis=0)
    swing = float(profile.std()) if values.min() > 0 else \
        float(profile.std()) / max(median(np.abs(values)), 1e-12)
    found = at_epoch >= bar and at_epoch - at_half >= p["contrast"] and swing >= p["min_swing"]
    return bool(found), at_epoch, at_half, swing, bar
