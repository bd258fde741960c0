"""The global gradient norm: spikes, growth, collapse, absurd scale."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms.base import Curve, Params, detector, log_fact, median, num, quantile
from nndoctor.engine.facts import Fact

MAX_POINTS = 4000


def _events(run: Run) -> list[tuple[int, int]]:
    """Step ranges of the loss's own blow-up (see curves.annotate): the gradient's trend is
    judged without them, so one blow-up does not also count as steady growth."""
    return [tuple(e) for e in run.context.get("_loss_events", ())]


def _in_events(steps: np.ndarray, events: list[tuple[int, int]], margin: float) -> np.ndarray:
    inside = np.zeros(steps.shape, dtype=bool)
    for lo, hi in events:
        inside |= (steps >= lo - margin) & (steps <= hi)
    return inside


def log_slope_growth(curve: Curve, keep: np.ndarray) -> tuple[float, float]:
    """Growth factor start→end of a log-linear fit of the curve's (kept, positive) points and
    the fit's R²; (1, 0) when there is nothing to fit."""
    ok = keep & (curve.values > 0)
    if ok.sum() < 4:
        return 1.0, 0.0
    x = curve.steps[ok].astype(float)
    y = np.log(curve.values[ok])
    x0 = x - x.sum() / x.size  # x.mean(), without its wrapping (the same sum, divided alike)
    sxx = float(x0 @ x0)
    if sxx == 0:
        return 1.0, 0.0
    y0 = y - y.sum() / y.size
    slope = float(x0 @ y0) / sxx
    resid = y0 - slope * x0
    total = float(y0 @ y0)
    r2 = 1 - float(resid @ resid) / total if total > 0 else 0.0
    exponent = slope * (x[-1] - x[0])  # np.clip's bounds, without np.clip
    return float(np.exp(min(max(exponent, -700.0), 700.0))), r2


@detector("grad_norm", produces=("grad_norm_spikes", "grad_norm_growing", "grad_norm_vanishing",
                                 "grad_norm_absurd", "grad_norm_p90"))
def grad_norm(run: Run, p: Params) -> Iterator[Fact]:
    full = Curve.of(run.get("grad_norm"), "grad_norm", MAX_POINTS)
    if full is None or len(full) < p["min_points"]:
        return
    span = f"grad_norm, {full.span()}"
    yield from _percentile(run, p, span)
    # an exact 0.0 between positive norms is a logger's placeholder (a skipped or unlogged
    # step), not a measurement: spikes and growth are judged on the positive points
    positive = full.values > 0
    curve = full if positive.all() or positive.sum() < p["min_points"] else \
        Curve(full.tag, full.steps[positive], full.values[positive])
    level = median(np.abs(curve.values))
    rolling = curve.trailing_median(p["window"])
    # never judge against a zero median (a logger writing 0.0 on skipped steps)
    floor = max(p["median_floor"] * level, 1e-30)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = curve.values / np.maximum(rolling, floor)
    spacing = median(curve.steps[1:] - curve.steps[:-1]) if len(curve) > 1 else 0.0
    event = _in_events(curve.steps, _events(run), p["event_margin"] * spacing)
    # a spike must also stand out of the curve's own noise: small-batch gradient norms swing
    # widely, so the bar rises to spike_z robust standard deviations of log(value / median)
    with np.errstate(invalid="ignore", divide="ignore"):
        logs = np.log(ratio[np.isfinite(ratio) & (ratio > 0)])
    sigma = 1.4826 * median(np.abs(logs - median(logs))) if logs.size else 0.0
    bar = max(p["spike_ratio"], float(np.exp(min(p["spike_z"] * sigma, 700))))
    spikes = (ratio >= bar).nonzero()[0]  # NaN where no history: never a spike
    if spikes.size:
        i = int(spikes[0])
        at_blowup = bool(event[spikes].all())
        text = (f"grad_norm spiked to {num(float(curve.values[i]))} at step "
                f"{int(curve.steps[i])}, {ratio[i]:.0f}× the median of the previous "
                f"{p['window']} points ({spikes.size} spikes at ≥ {bar:.3g}×"
                + ("; all at the loss blow-up" if at_blowup else "") + ")")
    else:
        text = (f"grad_norm never exceeds {bar:.3g}× the median of the previous "
                f"{p['window']} points ({p['spike_ratio']:g}×, or {p['spike_z']:g} robust "
                "standard deviations of its own noise)")
    yield log_fact("grad_norm_spikes", bool(spikes.size), text, span)
    growth, r2 = log_slope_growth(curve, ~event)
    growing = growth >= p["growth_ratio"] and r2 >= p["growth_r2"]
    yield log_fact("grad_norm_growing", bool(growing),
                   f"a log-linear fit of grad_norm grows {growth:.2g}× from step "
                   f"{int(curve.steps[0])} to {int(curve.steps[-1])} (R² = {r2:.2f}; growing "
                   f"from {p['growth_ratio']:g}× with R² ≥ {p['growth_r2']:g})", span)
    start, end = full.level_start(0.2), full.level_end(0.2)
    change = end / max(start, 1e-30)
    vanished = end <= p["vanish_abs"] or change <= p["vanish_ratio"]
    yield log_fact("grad_norm_vanishing", bool(vanished),
                   f"grad_norm ends at {num(end)} ({change:.2g}× its start {num(start)})", span)
    yield from _absurd(full, p, span)


def _percentile(run: Run, p: Params, span: str) -> Iterator[Fact]:
    """The clipping threshold the tuning playbook suggests: the 90th percentile of the logged
    (unclipped) norms while training was still sane - before the loss's own blow-up and the
    first non-finite norm (0.0 is a logger's placeholder, not a norm). None when too few such
    points remain, or when even they are absurd (clipping there would clip nothing)."""
    series = run.get("grad_norm")
    assert series is not None  # checked by the caller
    steps, values = series.steps, series.values
    end = (~np.isfinite(values)).nonzero()[0]
    stop = int(steps[end[0]]) if end.size else None
    starts = [lo for lo, _hi in _events(run)]
    if starts:
        stop = min(starts) if stop is None else min(stop, min(starts))
    before = steps < stop if stop is not None else np.ones(steps.shape, dtype=bool)
    norms = values[before & np.isfinite(values) & (values > 0)]
    if norms.size < p["min_points"]:
        return
    level = quantile(norms, 0.9)
    if level >= p["absurd_norm"]:
        return
    where = f" before step {stop}" if stop is not None else ""
    yield log_fact("grad_norm_p90", level, f"90th percentile of {norms.size} logged gradient "
                   f"norms{where}: {num(level)}", span)


def longest_run(mask: np.ndarray) -> tuple[int, int]:
    """(length, start) of the first of the longest runs of True in a 1-D boolean array;
    (0, -1) when it holds none."""
    padded = np.concatenate(([False], mask, [False]))  # np.diff(mask, prepend=False,
    edges = (padded[1:] != padded[:-1]).nonzero()[0]  # append=False): starts, ends, ...
    if not edges.size:
        return 0, -1
    lengths = edges[1::2] - edges[::2]
    k = int(lengths.argmax())  # the first of equal lengths
    return int(lengths[k]), int(edges[2 * k])


def _absurd(curve: Curve, p: Params, span: str) -> Iterator[Fact]:
    longest, best = longest_run(curve.values >= p["absurd_norm"])
    tail = curve.level_end(0.2)
    absurd = longest >= p["absurd_persist"] or tail >= p["absurd_norm"]
    if absurd:
        i = best if best >= 0 else len(curve) - 1
        text = (f"grad_norm stays ≥ {p['absurd_norm']:g} for {longest} logged points from step "
                f"{int(curve.steps[i])} (max {num(float(curve.values.max()))}, last 20 % "
                f"median {num(tail)})")
    else:
        text = (f"grad_norm peaks at {num(float(curve.values.max()))} (absurd when it stays "
                f"≥ {p['absurd_norm']:g})")
    yield log_fact("grad_norm_absurd", bool(absurd), text, span)
