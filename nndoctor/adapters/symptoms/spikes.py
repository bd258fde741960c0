"""Transient instability in large-model and fine-tuning runs: loss spikes against a running
median (recovering or not), and float16 overflow - gradient norms that turn Inf/NaN while the
logged loss trains on (skipped steps) or a collapsing loss scale."""

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
    median,
    num,
    pct,
    quantile,
)
from nndoctor.adapters.symptoms.curves import first_nonfinite_step
from nndoctor.engine.facts import Fact
from nndoctor.lazy_re import regex

MAX_POINTS = 100_000  # spike detection sees single points; longer curves are bucket medians
_LOSS_SCALE = regex(r"(^|[/_])(loss_scale|grad_scale|loss_scaler|scaler[/_]scale|amp[/_]scale"
                         r"|loss_scaling)$")


def _spike_curve(run: Run) -> Curve | None:
    curve = Curve.of(run.get("train_loss"), "train_loss", MAX_POINTS)
    if curve is None:
        return None
    positive = curve.values > 0
    return Curve(curve.tag, curve.steps[positive], curve.values[positive])


@detector("loss_spikes", produces=("loss_spikes", "loss_spikes_recover", "loss_spike_count"))
def loss_spikes(run: Run, p: Params) -> Iterator[Fact]:
    """Points of the training loss ≥ ``spike_ratio``× the median of the ``window`` points
    before them (that median floored at ``floor_share`` of the start level) and, in log units,
    ≥ ``spike_tail``× the curve's own noise (a quantile of its swings below a centred running
    median, which spikes cannot reach); consecutive spike points are one episode. Jumps
    matched by falls as deep below the trend are heavy-tailed noise (a spike only goes up); the
    loss's own blow-up and the jump into NaN are no spikes. An episode recovers when the loss
    is back within ``recover_margin`` of the pre-spike median within ``recover_points``."""
    curve = _spike_curve(run)
    window = int(p["window"])
    if curve is None or len(curve) < max(int(p["min_points"]), window + 2):
        return
    values = curve.values
    start = median(values[:window])
    ref = np.maximum(curve.trailing_median(window), p["floor_share"] * start)
    valid = np.isfinite(ref)
    jump = np.zeros(len(curve))
    jump[valid] = np.log(values[valid] / ref[valid])
    # the noise around the trend: residuals from a centred running median, which follows a
    # falling curve and which a few short spikes cannot move; also measured on the swings below
    # it alone, which spikes (always upward) cannot reach, so that spikes recurring at more
    # than 5 % of the points do not inflate the noise they are judged by
    around = np.log(values / np.maximum(curve.smooth(window + 1), 1e-300))
    falls = -around[around < 0]
    noise = quantile(np.abs(around), p["noise_quantile"])
    if falls.size >= window:
        noise = min(noise, quantile(falls, p["noise_quantile"]))
    bar = max(np.log(p["spike_ratio"]), p["spike_tail"] * noise)
    hot = valid & (jump >= bar)
    margin = p["event_margin"] * median(curve.steps[1:] - curve.steps[:-1]) if len(curve) > 1 \
        else 0
    events = list(run.context.get("_loss_events", ()))
    broken = first_nonfinite_step(run, ("train_loss", "val_loss", "grad_norm"))
    if broken is not None:
        events.append((broken, np.iinfo(np.int64).max))
    for lo, hi in events:  # the loss's blow-up, or the jump into NaN, is no spike
        hot &= ~((curve.steps >= lo - margin) & (curve.steps <= hi))
    span = f"train_loss, {curve.span()}"
    found = _episodes(hot.nonzero()[0])
    episodes = [e for e in found if not _onset(e, curve, ref, broken, p)]
    onset = (f" (the jump at step {int(curve.steps[found[-1][0]])} never comes back before the "
             f"loss turns NaN/Inf at step {broken}: it starts that blow-up)"
             if len(episodes) < len(found) else "")
    below = int((around <= -bar).sum())  # as deep below the trend: symmetric heavy-tailed noise
    if episodes and below >= p["symmetric_share"] * len(episodes):
        yield log_fact("loss_spikes", False,
                       f"train_loss jumps ≥ {np.exp(bar):.2f}× above its running median at "
                       f"{len(episodes)} places but falls as far below it at {below}: heavy-tailed "
                       "noise, not spikes", span)
        return
    if len(episodes) > max(p["max_share"] * len(curve), p["max_episodes"]):
        yield log_fact("loss_spikes", False,
                       f"train_loss jumps ≥ {np.exp(bar):.2f}× above its running median at "
                       f"{len(episodes)} places in {len(curve)} points: too many for spikes - the "
                       "loss is noisy or oscillating", span)
        return
    if not episodes:
        yield log_fact("loss_spikes", False,
                       f"no point of train_loss jumps ≥ {max(p['spike_ratio'], np.exp(bar)):.2f}× "
                       f"above the median of the {window} points before it{onset}", span)
        return
    recovered, details = [], []
    for lo, hi in episodes:
        peak = lo + int(values[lo:hi + 1].argmax())
        before = float(ref[lo])
        after = values[hi + 1: hi + 1 + int(p["recover_points"])]
        back = bool(after.size and after.min() <= (1 + p["recover_margin"]) * before)
        recovered.append(back)
        details.append((float(values[peak] / before), int(curve.steps[peak]), values[peak],
                        before, back))
    ratio, step, value, before, _ = max(details)
    count = len(episodes)
    text = (f"{count} spike{'s' if count > 1 else ''} of train_loss; the largest at step {step}: "
            f"{num(float(value))}, {ratio:.1f}× the median {num(before)} of the {window} points "
            f"before; {sum(recovered)} of {count} recovered within {int(p['recover_points'])} "
            "points")
    # as sure as the largest jump is both large and distinct from the curve's own noise
    distinct = np.log(ratio) / max(noise, 1e-12)
    sure = min(graded(float(np.log(ratio)), np.log(p["spike_ratio"]), np.log(p["strong_ratio"])),
               graded(float(distinct), p["spike_tail"], p["distinct_strong"]))
    yield log_fact("loss_spikes", True, f"{text}; {distinct:.1f}× the loss's own noise", span,
                   certainty=sure)
    yield log_fact("loss_spike_count", float(count), text, span)
    yield log_fact("loss_spikes_recover", bool(all(recovered)),
                   f"{sum(recovered)} of {count} spike episodes came back within "
                   f"{pct(p['recover_margin'])} of the pre-spike median within "
                   f"{int(p['recover_points'])} points", span)


def _onset(episode: tuple[int, int], curve: Curve, ref: np.ndarray, broken: int | None,
           p: Params) -> bool:
    """A jump the loss never comes back from before the run turns NaN/Inf, within the points a
    spike has to recover, is the start of that blow-up, not a spike."""
    lo, hi = episode
    if broken is None or broken < curve.steps[hi] or len(curve) < 2:
        return False
    interval = median(curve.steps[1:] - curve.steps[:-1])
    if broken - curve.steps[hi] > p["recover_points"] * interval:
        return False
    after = curve.values[hi + 1:][curve.steps[hi + 1:] < broken]
    return not (after <= (1 + p["recover_margin"]) * float(ref[lo])).any()


def _distinct(values: np.ndarray, k: int) -> bool:
    """``np.unique(values).size >= k`` for finite values and a few ``k``, without sorting 10^7
    values: the first value, the first one unlike it, the first unlike both …"""
    seen: list[float] = []
    rest = values
    while len(seen) < k:
        other = np.ones(rest.size, dtype=bool)
        for v in seen:
            other &= rest != v
        at = int(other.argmax()) if other.size else 0
        if not other.size or not other[at]:
            return False
        seen.append(rest[at])
        rest = rest[at + 1:]
    return True


def _episodes(hot: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive indices → (first, last)."""
    if hot.size == 0:
        return []
    cuts = ((hot[1:] - hot[:-1]) > 1).nonzero()[0]
    starts = np.concatenate(([hot[0]], hot[cuts + 1]))
    ends = np.concatenate((hot[cuts], [hot[-1]]))
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


# ------------------------------------------------------------------------------ precision


@detector("precision_overflow", produces=("grad_norm_nonfinite_loss_finite", "grad_overflow_share",
                                          "loss_scale_collapsed"))
def precision_overflow(run: Run, p: Params) -> Iterator[Fact]:
    """Non-finite gradient norms while training goes on: the logged loss stays finite and keeps
    changing (not the 0.0 a NaN-filtered dead run logs - that is loss_nonfinite's), so the
    optimizer skipped those steps - what a float16 GradScaler does on overflow. A few at the
    very start are the scaler calibrating (it starts at 2^16 and halves); beyond
    ``calibration_points`` they count."""
    yield from _loss_scale(run, p)
    grad, loss = run.get("grad_norm"), run.get("train_loss")
    if grad is None or len(grad) < p["min_points"] or loss is None or len(loss) == 0:
        return
    bad = ~np.isfinite(grad.values)
    share = float(bad.mean())
    span = f"grad_norm, steps {int(grad.steps[0])}-{int(grad.steps[-1])}"
    yield log_fact("grad_overflow_share", share,
                   f"{int(bad.sum())} of {len(grad)} logged grad_norm values are NaN/Inf", span)
    late = bad.nonzero()[0]
    late = late[late >= p["calibration_points"]]
    finite_loss = bool(np.isfinite(loss.values).all())
    after = loss.values[loss.steps > (grad.steps[late[0]] if late.size else 0)]
    live = after[np.isfinite(after) & (after != 0.0)]
    alive = bool(after.size and _distinct(live, min(3, after.size))
                 and live.size >= p["alive_share"] * after.size)
    if late.size < p["min_overflows"] or not finite_loss:
        yield log_fact("grad_norm_nonfinite_loss_finite", False,
                       f"{late.size} NaN/Inf grad_norm values after the first "
                       f"{int(p['calibration_points'])} logged points"
                       + ("" if finite_loss else "; the loss itself is NaN/Inf"), span)
        return
    steps = grad.steps[late]
    where = (f"grad_norm is NaN/Inf at {late.size} of {len(grad)} logged steps (first at step "
             f"{int(steps[0])}, last at {int(steps[-1])})")
    if not alive:
        yield log_fact("grad_norm_nonfinite_loss_finite", False,
                       f"{where}, and the logged train_loss is stuck (0.0 or constant) from "
                       "then on: not skipped steps but NaN weights behind Hugging Face's NaN "
                       "filter", span)
        return
    yield log_fact("grad_norm_nonfinite_loss_finite", True,
                   f"{where} while every logged train_loss is finite and keeps changing: the "
                   "optimizer skips those steps, as a float16 loss scaler does on overflow", span,
                   certainty=graded(late.size / len(grad), p["min_share"], p["strong_share"]))


def _loss_scale(run: Run, p: Params) -> Iterator[Fact]:
    """A logged loss scale (DeepSpeed ``loss_scale``, a GradScaler's ``scale``) that collapses:
    ends ≤ ``scale_floor`` or ≥ ``scale_drop``× below its maximum."""
    for name, series in run.series.items():
        tag = (series.source_tag or name).strip().lower()
        if not (_LOSS_SCALE.search(name) or _LOSS_SCALE.search(tag)) or len(series) < 2:
            continue
        curve = Curve.of(series, name)
        if curve is None or len(curve) < 2:
            continue
        top, end = float(curve.values.max()), float(curve.values[-1])
        collapsed = end <= p["scale_floor"] or (end > 0 and top / end >= p["scale_drop"])
        yield log_fact("loss_scale_collapsed", bool(collapsed),
                       f"{name} fell from its maximum {num(top)} to {num(end)} at step "
                       f"{int(curve.steps[-1])}" if collapsed else
                       f"{name} ends at {num(end)} (maximum {num(top)})", f"{name}, {curve.span()}")
        return
