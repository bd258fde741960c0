"""Shapes of the loss and accuracy curves: trends, plateaus, oscillation, overfitting, chance."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from typing import NamedTuple

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
    point_noise,
    relative_change,
    remembered,
    share_of,
)
from nndoctor.adapters.symptoms.config import optimizer_steps
from nndoctor.adapters.symptoms.task import Task, task_of
from nndoctor.engine.facts import Fact

MAX_POINTS = 4000  # shape detectors see at most this many points (bucket medians beyond)


def _train(run: Run, p: Params) -> Curve | None:
    curve = Curve.of(run.get("train_loss"), "train_loss", MAX_POINTS)
    return curve if curve is not None and len(curve) >= p["min_points"] else None


def _val(run: Run, p: Params) -> Curve | None:
    curve = Curve.of(run.get("val_loss"), "val_loss", MAX_POINTS)
    return curve if curve is not None and len(curve) >= p["min_val_points"] else None


def trend(curve: Curve, p: Params) -> tuple[str, float]:
    """'decreasing' | 'flat' | 'increasing' and the relative change start → end."""
    change = relative_change(curve.level_start(p["edge_fraction"]),
                             curve.level_end(p["edge_fraction"]))
    if change <= -p["trend_change"]:
        return "decreasing", change
    if change >= p["trend_change"]:
        return "increasing", change
    return "flat", change


def noise_ratio(curve: Curve, p: Params) -> float:
    """Typical swing around the smoothed curve, relative to the curve's level."""
    smooth = curve.smooth(max(3, len(curve) // p["smooth_divisor"]))
    residual = np.abs(curve.values - smooth)
    level = median(np.abs(smooth)) or 1e-12
    return median(residual) * 1.4826 / level


def trend_certainty(curve: Curve, direction: str, change: float, p: Params) -> float:
    """How surely the curve's true start → end change lies on the side of ±``trend_change``
    that ``direction`` says, given its point noise: each edge level is the median of a few
    noisy points (standard error ≈ 1.2533 σ / √n), and a short noisy curve whose change is near
    a bound could as well be on the other side of it."""
    sigma = point_noise(curve.values)
    start = abs(curve.level_start(p["edge_fraction"]))
    heads, tails = len(curve.head(p["edge_fraction"])), len(curve.tail(p["edge_fraction"]))
    if not np.isfinite(sigma) or sigma <= 0 or start <= 0:
        return 1.0
    se = 1.2533 * sigma * np.sqrt(1 / heads + 1 / tails) / start
    bound = p["trend_change"]
    below = _normal_cdf((-bound - change) / se)
    above = 1.0 - _normal_cdf((bound - change) / se)
    return {"decreasing": below, "increasing": above}.get(direction, 1.0 - below - above)


def _normal_cdf(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


@detector("loss_trends", produces=("train_loss_trend", "val_loss_trend"))
def loss_trends(run: Run, p: Params) -> Iterator[Fact]:
    for curve in (_train(run, p), _val(run, p)):
        if curve is None:
            continue
        direction, change = trend(curve, p)
        yield log_fact(f"{curve.tag}_trend", direction,
                       f"{curve.tag} went from {num(curve.level_start())} to "
                       f"{num(curve.level_end())} ({change:+.0%})", f"{curve.tag}, {curve.span()}",
                       certainty=round(trend_certainty(curve, direction, change, p), 3))


@detector("overfitting", produces=("val_loss_rising",))
def overfitting(run: Run, p: Params) -> Iterator[Fact]:
    train, val = _train(run, p), _val(run, p)
    if val is None:
        return
    k = val_minimum(val)
    best, last = float(val.values[k]), median(val.values[-p["patience"]:])
    after = len(val) - 1 - k
    rise = relative_change(best, last)
    train_fell = None
    if train is not None:
        at_min = train.values[train.steps <= val.steps[k]]
        if at_min.size:
            train_fell = relative_change(median(at_min[-3:]), train.level_end())
    rising = rise >= p["rise"] and after >= p["patience"] and (train_fell is None or train_fell < 0)
    fell = f" while train_loss fell {pct(-train_fell)}" if train_fell is not None and \
        train_fell < 0 else ""
    yield log_fact("val_loss_rising", bool(rising),
                   f"val_loss rose {pct(rise)} above its minimum {num(best)} at step "
                   f"{int(val.steps[k])}{fell}" if rising else
                   f"val_loss ends {pct(max(rise, 0))} above its minimum {num(best)}",
                   f"val_loss, steps {int(val.steps[k])}-{int(val.steps[-1])}",
                   certainty=graded(rise, p["rise"], p["rise_strong"], ceiling=0.95)
                   if rising else 0.9)


def val_minimum(val: Curve) -> int:
    """Index of the validation minimum: the raw minimum next to the minimum of a 3-point
    running median, so one lucky evaluation does not count as the best."""
    k = int(val.smooth(3).argmin())
    lo = max(k - 1, 0)
    return lo + int(val.values[lo:k + 2].argmin())


@detector("generalization_gap", produces=("generalization_gap",))
def generalization_gap(run: Run, p: Params) -> Iterator[Fact]:
    train_acc = Curve.of(run.get("train_acc"), "t", MAX_POINTS)
    val_acc = Curve.of(run.get("val_acc"), "v", MAX_POINTS)
    if train_acc is not None and val_acc is not None and len(train_acc) >= p["min_points"] \
            and len(val_acc) >= p["min_val_points"]:
        gap = train_acc.level_end(0.1) - val_acc.level_end(0.1)
        size = "large" if gap >= p["acc_large"] else "small" if gap >= p["acc_small"] else "none"
        yield log_fact("generalization_gap", size,
                       f"final train accuracy {num(train_acc.level_end())} vs validation "
                       f"{num(val_acc.level_end())} (gap {gap:+.3f})", "train_acc, val_acc")
        return
    train, val = _train(run, p), _val(run, p)
    if train is None or val is None:
        return
    t_end, v_end = train.level_end(), val.level_end(0.2)
    # near-zero training losses would inflate a plain (val-train)/train ratio
    ratio = (v_end - t_end) / max(abs(t_end), p["scale_floor"] * abs(train.level_start()), 1e-12)
    size = "large" if ratio >= p["loss_large"] else "small" if ratio >= p["loss_small"] else "none"
    yield log_fact("generalization_gap", size,
                   f"final val_loss {num(v_end)} vs train_loss {num(t_end)} "
                   f"((val-train)/train = {ratio:+.2f})", "train_loss, val_loss")


@detector("loss_level", produces=("train_loss_high", "loss_at_chance",
                                   "initial_loss_vs_expected"))
def loss_level(run: Run, p: Params) -> Iterator[Fact]:
    train = _train(run, p)
    if train is None:
        return
    start, end = train.level_start(), train.level_end()
    task = task_of(run)
    chance = task.chance_loss
    ratio = end / start if start > 0 else 1.0
    if task.pretrained:
        yield from _pretrained_loss_high(train, task, p)
    else:
        high_by_chance = chance is not None and end >= p["high_chance"] * chance
        high = ratio >= p["high_ratio"] or high_by_chance
        yield log_fact("train_loss_high", bool(high),
                       f"train_loss ends at {num(end)}, {ratio:.0%} of its start {num(start)}"
                       + (f" (chance level ln C = {chance:.3f}{task.note()})" if chance else ""),
                       f"train_loss, {train.span()}", certainty=task.sure(0.8)
                       if high_by_chance and ratio < p["high_ratio"] else 0.8)
    if chance is not None:
        flat = abs(relative_change(start, end)) < p["chance_flat"]
        at_chance = abs(end - chance) <= p["chance_tolerance"] * chance and flat
        yield log_fact("loss_at_chance", bool(at_chance),
                       f"train_loss sits at {num(end)} vs ln C = {chance:.3f}{task.note()}",
                       f"train_loss, {train.span()}", certainty=task.sure(1.0))
        first_step, first = int(train.steps[0]), float(train.values[0])
        ratio0 = first / chance
        if ratio0 > 1 + p["initial_tolerance"]:
            verdict = "much_higher"
        elif first_step <= p["initial_max_step"] and run.context.get("step_unit") != "epoch":
            verdict = "much_lower" if ratio0 < 1 - p["initial_tolerance"] else "about_expected"
        else:
            return  # a later or averaged (per-epoch) first point can only have fallen below ln C
        yield log_fact("initial_loss_vs_expected", verdict,
                       f"first train_loss {num(first)} at step {first_step} vs expected "
                       f"ln C = {chance:.3f} ({ratio0:.2f}×){task.note()}",
                       f"train_loss, step {first_step}", certainty=task.sure(1.0))


def _pretrained_loss_high(train: Curve, task: Task, p: Params) -> Iterator[Fact]:
    """A run from pretrained weights starts near its best, so a small fall says nothing: its
    loss is high only near chance (ln C, or ln V for a causal LM), and unknown without one."""
    chance = task.chance_loss or task.token_chance
    if chance is None:
        return
    end = train.level_end()
    yield log_fact("train_loss_high", bool(end >= p["high_chance"] * chance),
                   f"train_loss ends at {num(end)} vs chance level {chance:.3f}; the run starts "
                   f"from pretrained weights ({task.pretrained}), so only a loss near chance "
                   "is high", f"train_loss, {train.span()}", certainty=0.8)


@detector("accuracy", produces=("accuracy_low", "accuracy_at_chance"))
def accuracy(run: Run, p: Params) -> Iterator[Fact]:
    curve = Curve.of(run.get("train_acc"), "train_acc", MAX_POINTS) or \
        Curve.of(run.get("val_acc"), "val_acc", MAX_POINTS)
    if curve is None or len(curve) < p["min_points"]:
        return
    end = curve.level_end()
    task = task_of(run)
    chance = task.chance_accuracy
    low_bar = p["low_acc"] if chance is None else min(p["low_acc"], chance + 0.5 * (1 - chance))
    yield log_fact("accuracy_low", bool(end < low_bar),
                   f"final {curve.tag} {num(end)} (low below {low_bar:.2f})", curve.tag)
    if chance is not None:
        at = abs(end - chance) <= max(p["chance_abs"], p["chance_rel"] * chance)
        yield log_fact("accuracy_at_chance", bool(at),
                       f"final {curve.tag} {num(end)} vs chance 1/C = {chance:.3f}{task.note()}",
                       curve.tag, certainty=task.sure(1.0))


def _drop_share(curve: Curve, fraction: float) -> float:
    """Share of the total start→end drop achieved in the first ``fraction`` of the curve."""
    smooth = curve.smooth(max(3, len(curve) // 20))
    total = smooth[0] - smooth[-1]
    if total <= 0:
        return 0.0
    k = max(1, int(len(curve) * fraction))
    return float((smooth[0] - smooth[k]) / total)


@detector("loss_shape", produces=("loss_still_decreasing_at_end", "loss_slow_linear",
                                   "loss_fast_drop_then_plateau", "loss_oscillating",
                                   "loss_noisy_but_trending_down", "loss_exploded"))
def loss_shape(run: Run, p: Params) -> Iterator[Fact]:
    train = _train(run, p)
    if train is None:
        return
    direction, change = trend(train, p)
    blowup = find_blowup(train, p)
    # a curve that blows up once is not oscillating: its swing is judged before the blow-up
    before = train if blowup is None else Curve(train.tag, train.steps[:blowup.index],
                                                train.values[:blowup.index])
    noise = noise_ratio(before, p) if len(before) >= p["min_points"] else 0.0
    share = _drop_share(train, p["early_fraction"])
    span = f"train_loss, {train.span()}"
    smooth = train.smooth(max(3, len(train) // p["smooth_divisor"]))
    tail = smooth[-max(2, int(len(train) * p["tail_fraction"])):]
    tail_change = relative_change(float(tail[0]), float(tail[-1]))
    steady = _steady_decline(smooth, p["steady_share"])
    tail_steady = _steady_decline(tail, p["steady_share"])
    drop = float(smooth[0] - smooth[-1])
    tail_share = float(tail[0] - tail[-1]) / drop if drop > 0 else 0.0
    tail_raw = train.tail(p["tail_fraction"])
    t_slope = slope_t(tail_raw)
    # with fewer than 4 tail points (a short per-epoch log) a slope test says nothing
    real_slope = tail_raw.size < 4 or t_slope <= -p["tail_t"]
    still = tail_change < 0 and tail_share >= p["tail_share"] \
        and (tail_change <= -p["still_falling"] or tail_steady) \
        and (direction == "decreasing" or steady) and real_slope
    yield log_fact("loss_still_decreasing_at_end", bool(still),
                   f"over the last {pct(p['tail_fraction'])} of the run train_loss changed "
                   f"{tail_change:+.1%} ({pct(max(tail_share, 0))} of its total drop; slope "
                   f"t = {t_slope:.1f}, real below -{p['tail_t']:g})", span, certainty=0.8)
    slow = (steady and share < p["linear_share"] and still
            and -p["linear_max_drop"] < change < 0)
    yield log_fact("loss_slow_linear", bool(slow),
                   f"the first {pct(p['early_fraction'])} of the run gave {pct(share)} of the "
                   f"total drop ({change:+.0%})", span, certainty=0.7)
    # a stall "clearly too high": far above where the run started falling from - unless it
    # started from pretrained weights, already near its best, where only a stall near chance is
    task = task_of(run)
    chance = task.chance_loss or task.token_chance
    end, start = train.level_end(), max(train.level_start(), 1e-12)
    if not task.pretrained or chance is not None:
        if task.pretrained:
            high = end >= p["pretrained_plateau_chance"] * chance
            level = f"(chance level {chance:.3f}; the run starts from pretrained weights)"
        else:
            high = end >= p["plateau_level"] * train.level_start()
            level = f"({end / start:.0%} of its start)"
        plateau = (direction == "decreasing" and share >= p["plateau_share"]
                   and abs(tail_change) < p["plateau_flat"] and high)
        yield log_fact("loss_fast_drop_then_plateau", bool(plateau),
                       f"{pct(share)} of the drop came in the first {pct(p['early_fraction'])}, "
                       f"then the loss stalled at {num(end)} {level}", span, certainty=0.6)
    # a point per epoch averages (or evaluates) a whole epoch, so it keeps little of the
    # mini-batch noise a falling curve of steps wiggles with: there, a swing this large is
    # the loss itself going up and down, even while its trend falls
    per_epoch = run.context.get("step_unit") == "epoch"
    wild = noise >= p["oscillation"]
    oscillating = wild and (direction != "decreasing" or per_epoch)
    yield log_fact("loss_oscillating", bool(oscillating),
                   f"train_loss swings ±{pct(noise)} around its trend ({direction})"
                   + (", one point per epoch" if per_epoch and wild else ""), span,
                   certainty=0.8)
    yield log_fact("loss_noisy_but_trending_down",
                   bool(direction == "decreasing" and noise >= p["noisy"] and not oscillating),
                   f"train_loss swings ±{pct(noise)} around a falling trend ({change:+.0%})", span)
    yield log_fact("loss_exploded", blowup is not None,
                   blowup.text if blowup else "no sudden, lasting jump of the loss", span)


def _steady_decline(smooth: np.ndarray, share: float) -> bool:
    """Whether a smoothed curve falls at (nearly) every point, however slowly."""
    diffs = smooth[1:] - smooth[:-1]
    moving = diffs[diffs != 0]
    return bool(moving.size >= 3 and share_of(moving < 0) >= share and smooth[-1] < smooth[0])


def slope_t(values: np.ndarray) -> float:
    """t-statistic of a least-squares line through ``values`` (0 when undefined)."""
    n = values.size
    if n < 4:
        return 0.0
    x = np.arange(n, dtype=float) - (n - 1) / 2
    y = values - values.mean()
    sxx = float(x @ x)
    slope = float(x @ y) / sxx
    resid = y - slope * x
    var = float(resid @ resid) / (n - 2)
    if var <= 0:
        return -np.inf if slope < 0 else np.inf if slope > 0 else 0.0
    return slope / np.sqrt(var / sxx)


class Blowup(NamedTuple):
    """One blow-up of a curve: where it starts and ends (the last point above the bar)."""

    index: int
    step: int
    end_step: int
    text: str


_BLOWUP_PARAMS = ("explode_window", "explode_smooth", "edge_fraction", "explode_floor",
                  "explode_start_share", "explode_ratio", "explode_persist", "absurd_loss")


def find_blowup(curve: Curve, p: Params) -> Blowup | None:
    """A sudden, lasting jump: the smoothed curve (running median of ``explode_smooth`` points)
    at ≥ ``explode_ratio``× the median of the ``explode_window`` points before it - that median
    floored at ``explode_floor`` of the start level, so a loss near 0 cannot make a jump of
    noise - for ``explode_persist`` points (or until the log ends), and above the start level.
    A curve that climbs from below ``absurd_loss`` to above it blows up as well (AUTOTRAINER).
    Found once per curve and thresholds while one run's detectors work (annotate() and
    loss_shape ask for the same)."""
    return remembered("blowup", curve, tuple(p[k] for k in _BLOWUP_PARAMS), _find_blowup, curve,
                      p)


def _find_blowup(curve: Curve, p: Params) -> Blowup | None:
    values, window = curve.values, int(p["explode_window"])
    n = len(values)
    if n <= window:
        return None
    smoothed = curve.smooth(int(p["explode_smooth"]))
    smooth = smoothed.tolist()  # the same floats, without a numpy scalar per point
    start = abs(curve.level_start(p["edge_fraction"]))
    floor = max(p["explode_floor"] * start, 1e-12)
    trailing = np.maximum(curve.trailing_median(window), floor)
    reference = trailing.tolist()
    bar, ratio = p["explode_start_share"] * start, p["explode_ratio"]
    # the points where a jump can start, all at once: ratio× their reference and above the bar
    jumps = (smoothed[window:] >= ratio * trailing[window:]) & (smoothed[window:] >= bar)
    i = window  # each jump is followed while it stays up; the search goes on after it
    for at in (jumps.nonzero()[0] + window).tolist():
        if at < i:
            continue
        i = at
        ref = reference[i]
        j = i
        while j + 1 < n and smooth[j + 1] >= ratio * ref:
            j += 1
        length = j - i + 1
        if length >= p["explode_persist"] or (j == n - 1 and length >= 2):
            k = i + int(values[i:j + 1].argmax())
            return Blowup(i, int(curve.steps[i]), int(curve.steps[j]),
                          f"{curve.tag} jumped to {num(float(values[k]))} at step "
                          f"{int(curve.steps[k])}, {values[k] / ref:.0f}× the median "
                          f"{num(float(ref))} of the {window} points before, and stayed "
                          f"up for {length} points (steps {int(curve.steps[i])}-"
                          f"{int(curve.steps[j])})")
        i = j + 1
    big = (smoothed >= p["absurd_loss"]).nonzero()[0]
    if big.size and start < p["absurd_loss"]:
        i = int(big[0])
        return Blowup(i, int(curve.steps[i]), int(curve.steps[-1]),
                      f"{curve.tag} climbed to {num(float(values[i]))} at step "
                      f"{int(curve.steps[i])} (≥ {p['absurd_loss']:g}, AUTOTRAINER's bar)")
    return None


@detector("run_length", produces=("training_short", "steps_trained"))
def run_length(run: Run, p: Params) -> Iterator[Fact]:
    """Short only when short in every unit the log tells (Run.extent): a full-batch run of
    500 epochs is 500 steps and not short, nor are 3 epochs of 10,000 steps. Also how many
    optimisation steps the log reaches (for fix texts)."""
    series = run.get("train_loss") or run.get("val_loss")
    if series is None or len(series) == 0:
        return
    done = optimizer_steps(run, int(series.steps[-1]))
    if done is not None and done > 0:
        yield log_fact("steps_trained", done, f"the log ends after {done:.0f} optimisation "
                       "steps", series.source_tag or "train_loss")
    steps, epochs = run.extent(series)
    measured = []
    if steps is not None:
        measured.append((f"{steps} steps", steps < p["short_steps"]))
    if epochs is not None:
        measured.append((f"{epochs:g} epochs", epochs < p["short_epochs"]))
    yield log_fact("training_short", all(short for _, short in measured),
                   f"the log covers {' = '.join(text for text, _ in measured)} (short below "
                   f"{p['short_steps']} steps and {p['short_epochs']} epochs)",
                   series.source_tag or "train_loss")


@detector("val_vs_train", produces=("val_better_than_train", "val_below_train_share"))
def val_vs_train(run: Run, p: Params) -> Iterator[Fact]:
    train, val = _train(run, p), _val(run, p)
    if train is None or val is None:
        return
    half = val.steps >= val.steps[len(val) // 2]
    train_at = np.interp(val.steps[half], train.steps, train.values)
    better = share_of(val.values[half] < train_at * (1 - p["better_margin"]))
    text = (f"val_loss is {p['better_margin']:.0%}+ below train_loss at {better:.0%} of the "
            f"{int(half.sum())} evaluations in the second half")
    yield log_fact("val_better_than_train", bool(better >= p["better_share"]), text,
                   "train_loss, val_loss")
    yield log_fact("val_below_train_share", round(float(better), 4), text, "train_loss, val_loss")


def first_nonfinite_step(run: Run, tags: tuple[str, ...]) -> int | None:
    """The first step at which one of ``tags`` holds NaN/Inf, or None."""
    steps = []
    for tag in tags:
        series = run.get(tag)
        if series is not None and len(series):
            bad = ~np.isfinite(series.values)
            if bad.any():
                steps.append(int(series.steps[int(bad.argmax())]))
    return min(steps) if steps else None


@detector("zero_loss", produces=("zero_loss",))
def zero_loss(run: Run, p: Params) -> Iterator[Fact]:
    series = run.get("train_loss")
    if series is None or len(series) < p["min_points"]:
        return
    placeholders = run.context.get("_nan_placeholders_from")
    if placeholders is not None:
        yield log_fact("zero_loss", False,
                       f"train_loss is 0.0 only from step {placeholders}, after the run turned "
                       "non-finite (a NaN filter's placeholder, not a real zero; read as NaN)",
                       "train_loss")
        return
    zeros = (series.values == 0.0).nonzero()[0]
    if zeros.size:
        yield log_fact("zero_loss", True, f"train_loss is exactly 0 at {zeros.size} points, "
                       f"first at step {int(series.steps[zeros[0]])}", "train_loss")
    else:
        yield log_fact("zero_loss", False, "train_loss is never exactly 0", "train_loss")


def unmask_nan_placeholders(run: Run) -> Run:
    """Hugging Face's Trainer drops NaN/Inf losses from the logged average (its
    ``logging_nan_inf_filter``) and logs 0.0 when nothing finite is left. A training loss that is
    exactly 0 only from where the validation loss or gradient norm turned non-finite is that
    placeholder: it is read as NaN, so no detector takes it for a loss that fell to zero (a
    train/validation gap, a collapse)."""
    series = run.get("train_loss")
    broken = first_nonfinite_step(run, ("val_loss", "grad_norm"))
    if series is None or len(series) < 2 or broken is None:
        return run
    zeros = series.values == 0.0
    spacing = int(median(np.diff(series.steps)))
    if not zeros.any() or not (series.steps[zeros] >= broken - spacing).all():
        return run
    values = np.where(zeros, np.nan, series.values)
    first = int(series.steps[int(zeros.argmax())])
    return replace(run, series={**run.series, "train_loss": replace(series, values=values)},
                   context={**run.context, "_nan_placeholders_from": first})


def annotate(run: Run, p: Params) -> Run:
    """The run with the step ranges of its loss blow-up and non-finite tail in
    context["_loss_events"], so a gradient spike there is not counted as a second event."""
    events: list[tuple[int, int]] = []
    train = Curve.of(run.get("train_loss"), "train_loss", MAX_POINTS)
    if train is not None and len(train) >= p["min_points"]:
        blowup = find_blowup(train, p)
        if blowup is not None:
            events.append((blowup.step, blowup.end_step))
    broken = first_nonfinite_step(run, ("train_loss", "val_loss"))
    if broken is not None:
        events.append((broken, np.iinfo(np.int64).max))
    return run.with_context({**run.context, "_loss_events": tuple(events)})
