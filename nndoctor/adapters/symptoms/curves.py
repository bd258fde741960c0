"""Shapes of the loss and accuracy curves: trends, plateaus, oscillation, overfitting, chance."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms.base import (
    Curve,
    Params,
    detector,
    log_fact,
    num,
    pct,
    relative_change,
)
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
    level = float(np.median(np.abs(smooth))) or 1e-12
    return float(np.median(residual) * 1.4826 / level)


@detector("loss_trends")
def loss_trends(run: Run, p: Params) -> Iterator[Fact]:
    for curve in (_train(run, p), _val(run, p)):
        if curve is None:
            continue
        direction, change = trend(curve, p)
        yield log_fact(f"{curve.tag}_trend", direction,
                       f"{curve.tag} went from {num(curve.level_start())} to "
                       f"{num(curve.level_end())} ({change:+.0%})", f"{curve.tag}, {curve.span()}")


@detector("overfitting")
def overfitting(run: Run, p: Params) -> Iterator[Fact]:
    train, val = _train(run, p), _val(run, p)
    if val is None:
        return
    smooth = val.smooth(3)
    k = int(np.argmin(smooth))
    lo = max(k - 1, 0)
    k = lo + int(np.argmin(val.values[lo:k + 2]))  # report the raw minimum near the smooth one
    best, last = float(val.values[k]), float(np.median(val.values[-p["patience"]:]))
    after = len(val) - 1 - k
    rise = relative_change(best, last)
    train_fell = None
    if train is not None:
        at_min = train.values[train.steps <= val.steps[k]]
        if at_min.size:
            train_fell = relative_change(float(np.median(at_min[-3:])), train.level_end())
    rising = rise >= p["rise"] and after >= p["patience"] and (train_fell is None or train_fell < 0)
    fell = f" while train_loss fell {pct(-train_fell)}" if train_fell is not None and \
        train_fell < 0 else ""
    yield log_fact("val_loss_rising", bool(rising),
                   f"val_loss rose {pct(rise)} above its minimum {num(best)} at step "
                   f"{int(val.steps[k])}{fell}" if rising else
                   f"val_loss ends {pct(max(rise, 0))} above its minimum {num(best)}",
                   f"val_loss, steps {int(val.steps[k])}-{int(val.steps[-1])}",
                   certainty=0.9)


@detector("generalization_gap")
def generalization_gap(run: Run, p: Params) -> Iterator[Fact]:
    train_acc = Curve.of(run.get("train_acc"), "t", MAX_POINTS)
    val_acc = Curve.of(run.get("val_acc"), "v", MAX_POINTS)
    if train_acc is not None and val_acc is not None and len(train_acc) and len(val_acc):
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


def _chance_loss(run: Run) -> float | None:
    classes = run.context.get("num_classes")
    try:
        c = int(classes)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return math.log(c) if c >= 2 else None


@detector("loss_level")
def loss_level(run: Run, p: Params) -> Iterator[Fact]:
    train = _train(run, p)
    if train is None:
        return
    start, end = train.level_start(), train.level_end()
    chance = _chance_loss(run)
    ratio = end / start if start > 0 else 1.0
    high = ratio >= p["high_ratio"] or (chance is not None and end >= p["high_chance"] * chance)
    yield log_fact("train_loss_high", bool(high),
                   f"train_loss ends at {num(end)}, {ratio:.0%} of its start {num(start)}"
                   + (f" (chance level ln C = {chance:.3f})" if chance else ""),
                   f"train_loss, {train.span()}", certainty=0.8)
    if chance is not None:
        flat = abs(relative_change(start, end)) < p["chance_flat"]
        at_chance = abs(end - chance) <= p["chance_tolerance"] * chance and flat
        yield log_fact("loss_at_chance", bool(at_chance),
                       f"train_loss sits at {num(end)} vs ln C = {chance:.3f}",
                       f"train_loss, {train.span()}")
        first_step, first = int(train.steps[0]), float(train.values[0])
        ratio0 = first / chance
        if ratio0 > 1 + p["initial_tolerance"]:
            verdict = "much_higher"
        elif first_step <= p["initial_max_step"]:
            verdict = "much_lower" if ratio0 < 1 - p["initial_tolerance"] else "about_expected"
        else:
            return  # a later or averaged first point can only have fallen below ln C
        yield log_fact("initial_loss_vs_expected", verdict,
                       f"first train_loss {num(first)} at step {first_step} vs expected "
                       f"ln C = {chance:.3f} ({ratio0:.2f}×)", f"train_loss, step {first_step}")


@detector("accuracy")
def accuracy(run: Run, p: Params) -> Iterator[Fact]:
    curve = Curve.of(run.get("train_acc"), "train_acc", MAX_POINTS) or \
        Curve.of(run.get("val_acc"), "val_acc", MAX_POINTS)
    if curve is None or len(curve) < 2:
        return
    end = curve.level_end()
    classes = run.context.get("num_classes")
    chance = 1.0 / int(classes) if isinstance(classes, int | float) and classes >= 2 else None
    low_bar = p["low_acc"] if chance is None else min(p["low_acc"], chance + 0.5 * (1 - chance))
    yield log_fact("accuracy_low", bool(end < low_bar),
                   f"final {curve.tag} {num(end)} (low below {low_bar:.2f})", curve.tag)
    if chance is not None:
        at = abs(end - chance) <= max(p["chance_abs"], p["chance_rel"] * chance)
        yield log_fact("accuracy_at_chance", bool(at),
                       f"final {curve.tag} {num(end)} vs chance 1/C = {chance:.3f}", curve.tag)


def _drop_share(curve: Curve, fraction: float) -> float:
    """Share of the total start→end drop achieved in the first ``fraction`` of the curve."""
    smooth = curve.smooth(max(3, len(curve) // 20))
    total = smooth[0] - smooth[-1]
    if total <= 0:
        return 0.0
    k = max(1, int(len(curve) * fraction))
    return float((smooth[0] - smooth[k]) / total)


@detector("loss_shape")
def loss_shape(run: Run, p: Params) -> Iterator[Fact]:
    train = _train(run, p)
    if train is None:
        return
    direction, change = trend(train, p)
    noise = noise_ratio(train, p)
    share = _drop_share(train, p["early_fraction"])
    span = f"train_loss, {train.span()}"
    smooth = train.smooth(max(3, len(train) // p["smooth_divisor"]))
    tail = smooth[-max(2, int(len(train) * p["tail_fraction"])):]
    tail_change = relative_change(float(tail[0]), float(tail[-1]))
    steady = _steady_decline(smooth, p["steady_share"])
    tail_steady = _steady_decline(tail, p["steady_share"])
    drop = float(smooth[0] - smooth[-1])
    tail_share = float(tail[0] - tail[-1]) / drop if drop > 0 else 0.0
    still = tail_change < 0 and tail_share >= p["tail_share"] \
        and (tail_change <= -p["still_falling"] or tail_steady) \
        and (direction == "decreasing" or steady)
    yield log_fact("loss_still_decreasing_at_end", bool(still),
                   f"over the last {pct(p['tail_fraction'])} of the run train_loss changed "
                   f"{tail_change:+.1%} ({pct(max(tail_share, 0))} of its total drop)", span,
                   certainty=0.8)
    slow = (steady and share < p["linear_share"] and still
            and -p["linear_max_drop"] < change < 0)
    yield log_fact("loss_slow_linear", bool(slow),
                   f"the first {pct(p['early_fraction'])} of the run gave {pct(share)} of the "
                   f"total drop ({change:+.0%})", span, certainty=0.7)
    plateau = (direction == "decreasing" and share >= p["plateau_share"]
               and abs(tail_change) < p["plateau_flat"]
               and train.level_end() >= p["plateau_level"] * train.level_start())
    yield log_fact("loss_fast_drop_then_plateau", bool(plateau),
                   f"{pct(share)} of the drop came in the first {pct(p['early_fraction'])}, "
                   f"then the loss stalled at {num(train.level_end())} "
                   f"({train.level_end() / max(train.level_start(), 1e-12):.0%} of its start)",
                   span, certainty=0.6)
    oscillating = direction != "decreasing" and noise >= p["oscillation"]
    yield log_fact("loss_oscillating", bool(oscillating),
                   f"train_loss swings ±{pct(noise)} around its trend ({direction})", span,
                   certainty=0.8)
    yield log_fact("loss_noisy_but_trending_down",
                   bool(direction == "decreasing" and noise >= p["noisy"]),
                   f"train_loss swings ±{pct(noise)} around a falling trend ({change:+.0%})", span)
    exploded = _explosion(train, p)
    yield log_fact("loss_exploded", exploded is not None,
                   exploded or "no sudden jump of the loss", span)


def _steady_decline(smooth: np.ndarray, share: float) -> bool:
    """Whether a smoothed curve falls at (nearly) every point, however slowly."""
    diffs = np.diff(smooth)
    moving = diffs[diffs != 0]
    return bool(moving.size >= 3 and np.mean(moving < 0) >= share and smooth[-1] < smooth[0])


def _explosion(curve: Curve, p: Params) -> str | None:
    values, window = curve.values, p["explode_window"]
    running_min = np.minimum.accumulate(values)
    for i in range(window, len(values)):
        if values[i] >= p["explode_ratio"] * max(running_min[i - 1], 1e-12) and \
                values[i] >= values[0]:
            return (f"train_loss jumped to {num(values[i])} at step {int(curve.steps[i])}, "
                    f"{values[i] / max(running_min[i - 1], 1e-12):.0f}× its best so far")
    big = np.flatnonzero(values >= p["absurd_loss"])
    if big.size:
        i = int(big[0])
        return f"train_loss reached {num(values[i])} at step {int(curve.steps[i])}"
    return None


@detector("run_length")
def run_length(run: Run, p: Params) -> Iterator[Fact]:
    series = run.get("train_loss") or run.get("val_loss")
    if series is None or len(series) == 0:
        return
    last = int(series.steps[-1])
    per_epoch = run.context.get("step_unit") == "epoch"
    limit = p["short_epochs"] if per_epoch else p["short_steps"]
    unit = "epochs" if per_epoch else "steps"
    yield log_fact("training_short", bool(last + (1 if per_epoch else 0) < limit),
                   f"the log covers {last + (1 if per_epoch else 0)} {unit} (short below {limit})",
                   series.source_tag or "train_loss")


@detector("val_vs_train")
def val_vs_train(run: Run, p: Params) -> Iterator[Fact]:
    train, val = _train(run, p), _val(run, p)
    if train is None or val is None:
        return
    half = val.steps >= val.steps[len(val) // 2]
    train_at = np.interp(val.steps[half], train.steps, train.values)
    better = float(np.mean(val.values[half] < train_at * (1 - p["better_margin"])))
    yield log_fact("val_better_than_train", bool(better >= p["better_share"]),
                   f"val_loss is {p['better_margin']:.0%}+ below train_loss at {better:.0%} of "
                   "the evaluations in the second half", "train_loss, val_loss")


@detector("zero_loss")
def zero_loss(run: Run, p: Params) -> Iterator[Fact]:
    series = run.get("train_loss")
    if series is None or len(series) < 2:
        return
    zeros = np.flatnonzero(series.values == 0.0)
    if zeros.size:
        yield log_fact("zero_loss", True, f"train_loss is exactly 0 at {zeros.size} points, "
                       f"first at step {int(series.steps[zeros[0]])}", "train_loss")
    else:
        yield log_fact("zero_loss", False, "train_loss is never exactly 0", "train_loss")
