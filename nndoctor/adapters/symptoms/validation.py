"""Training against validation: the numbers of the gap, validation bad from the first
evaluation, accuracy frozen at one value, validation oscillating or no longer improving, and a
converged plateau without a gap (underfitting)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms.base import (
    Curve,
    Params,
    detector,
    log_fact,
    median,
    num,
    pct,
    point_noise,
)
from nndoctor.adapters.symptoms.config import optimizer_steps, steps_per_epoch
from nndoctor.adapters.symptoms.curves import MAX_POINTS, slope_t, val_minimum
from nndoctor.adapters.symptoms.labels import is_loss_of_the_prior
from nndoctor.adapters.symptoms.task import task_of
from nndoctor.engine.facts import Fact


def _curve(run: Run, tag: str, min_points: int) -> Curve | None:
    curve = Curve.of(run.get(tag), tag, MAX_POINTS)
    return curve if curve is not None and len(curve) >= min_points else None


def _scale(train: Curve, p: Params) -> float:
    """What a loss gap is measured against: the final train loss, floored at a share of the
    run's own initial loss, so a near-zero training loss cannot make a small gap look huge."""
    return max(abs(train.level_end()), p["scale_floor"] * abs(train.level_start()), 1e-12)


@detector("train_val", produces=(
    "val_accuracy", "final_train_accuracy", "train_val_accuracy_gap", "val_minus_train_accuracy",
    "val_train_loss_gap_ratio", "val_loss_above_min_pct", "val_loss_rise_steps",
    "val_loss_best_step", "val_bad_from_start", "val_accuracy_at_chance",
    "val_gap_in_first_epoch", "val_worse_since_first_epoch"))
def train_val(run: Run, p: Params) -> Iterator[Fact]:
    train = _curve(run, "train_loss", p["min_points"])
    val = _curve(run, "val_loss", p["min_val_points"])
    train_acc = _curve(run, "train_acc", p["min_acc_points"])
    val_acc = _curve(run, "val_acc", p["min_acc_points"])
    if val_acc is not None:
        yield log_fact("val_accuracy", val_acc.level_end(),
                       f"final val_acc {num(val_acc.level_end())} (median of the last 10 % of "
                       f"{len(val_acc)} evaluations)", "val_acc")
    if train_acc is not None:
        yield log_fact("final_train_accuracy", train_acc.level_end(),
                       f"final train_acc {num(train_acc.level_end())}", "train_acc")
    if train_acc is not None and val_acc is not None:
        t_end, v_end = train_acc.level_end(), val_acc.level_end()
        text = f"final train_acc {num(t_end)} vs val_acc {num(v_end)}"
        yield log_fact("train_val_accuracy_gap", t_end - v_end,
                       f"{text} (train - val = {t_end - v_end:+.3f})", "train_acc, val_acc")
        yield log_fact("val_minus_train_accuracy", v_end - t_end,
                       f"{text} (val - train = {v_end - t_end:+.3f})", "train_acc, val_acc")
        yield from _val_acc_at_chance(run, train_acc, val_acc, p)
    if train is None or val is None:
        return
    t_end, v_end = train.level_end(), val.level_end(0.2)
    scale = _scale(train, p)
    ratio = (v_end - t_end) / scale
    yield log_fact("val_train_loss_gap_ratio", max(ratio, 0.0),
                   f"final val_loss {num(v_end)} vs train_loss {num(t_end)}: (val - train) / "
                   f"{num(scale)} = {ratio:+.2f} (the denominator is the final train loss, at "
                   f"least {pct(p['scale_floor'])} of its start {num(train.level_start())})",
                   "train_loss, val_loss")
    yield from _val_rise(run, val, p)
    yield from _bad_from_start(train, val, p)
    yield from _gap_in_first_epoch(run, train, val, p)
    yield from _worse_since_first_epoch(run, val, p)


def _val_rise(run: Run, val: Curve, p: Params) -> Iterator[Fact]:
    k = val_minimum(val)
    best = float(val.values[k])
    last = median(val.values[-p["patience"]:])
    floor = max(abs(best), p["scale_floor"] * abs(val.level_start()), 1e-12)
    above = max(0.0, 100 * (last - best) / floor)
    span = f"val_loss, steps {int(val.steps[k])}-{int(val.steps[-1])}"
    yield log_fact("val_loss_above_min_pct", above,
                   f"val_loss ends at {num(last)}, {above:.1f} % above its minimum {num(best)} at "
                   f"step {int(val.steps[k])}", span)
    steps = int(val.steps[-1] - val.steps[k])
    unit = "steps"
    if run.context.get("step_unit") == "epoch":
        per_epoch = steps_per_epoch(run)
        if per_epoch is None:
            unit = "epochs (steps per epoch unknown)"
        else:
            steps = round(steps * per_epoch[0])
    yield log_fact("val_loss_rise_steps", float(steps),
                   f"the last evaluation is {steps} {unit} after the validation minimum", span)
    best_step = optimizer_steps(run, int(val.steps[k]))
    if best_step is not None:
        yield log_fact("val_loss_best_step", best_step,
                       f"val_loss is lowest ({num(best)}) after {best_step:.0f} optimisation "
                       "steps", span)


def _bad_from_start(train: Curve, val: Curve, p: Params) -> Iterator[Fact]:
    """Validation that never tracked training: a split or preprocessing mismatch, not
    overfitting (which first improves with training, then degrades). At every evaluation,
    val's improvement over the initial loss is compared with train's improvement by then."""
    smooth = train.smooth(max(3, len(train) // 20))
    first = median(train.values[:3])  # at initialisation val ≈ train ≈ this
    end = train.level_end()
    drop = first - end
    train_at = np.interp(val.steps, train.steps, smooth)
    progress = first - train_at
    judged = progress >= p["min_progress"] * max(drop, 1e-12)
    tracking = (first - val.values[judged]) / progress[judged] if judged.any() else np.array([])
    fell = drop >= p["min_drop"] * abs(first)
    best = float(tracking.max()) if tracking.size else float("nan")
    bad = fell and tracking.size >= 2 and best <= p["track_max"]
    yield log_fact("val_bad_from_start", bool(bad),
                   f"train_loss fell {num(first)} → {num(end)}; at its best evaluation val_loss "
                   f"made {best:.0%} of the progress train_loss had made by then (val_loss "
                   f"{num(float(val.values[0]))} at the first evaluation, step "
                   f"{int(val.steps[0])}; never tracking below {pct(p['track_max'])})"
                   if tracking.size else "train_loss did not fall enough to judge validation "
                   "against it", "train_loss, val_loss", certainty=0.8)


def _gap_in_first_epoch(run: Run, train: Curve, val: Curve, p: Params) -> Iterator[Fact]:
    """A validation loss well above the training loss at an evaluation within the first epoch,
    while every training batch is still new to the model, so its loss is a held-out loss too:
    the gap is not memorisation (which needs epochs); the two losses measure different things
    (preprocessing, distribution, which positions count). Every evaluation inside the first
    epoch is judged against the training points since the one before it (at least the last
    3), so a falling curve's older points do not inflate the training level. Unknown when the
    epoch is."""
    per_epoch = steps_per_epoch(run)
    if per_epoch is None:
        return
    start = abs(train.level_start()) or 1e-12
    judged: list[tuple[float, bool, int, float, float, float]] = []  # gap, clear, step, ...
    previous = -np.inf
    for step, value in zip(val.steps, val.values, strict=True):
        done = optimizer_steps(run, int(step))
        if done is None or done / per_epoch[0] > p["first_epoch_max"]:
            break
        if np.any(train.steps <= step):
            train_at, clear = _train_level(train, previous, step, float(value), p)
            judged.append(((float(value) - train_at) / start, clear, int(step),
                           done / per_epoch[0], float(value), train_at))
        previous = step
    if not judged:
        return
    held = [j for j in judged if j[0] >= p["first_gap"] and j[1]]
    gap, _, step, epochs, value, train_at = max(held or judged)
    yield log_fact("val_gap_in_first_epoch", bool(held),
                   f"at the evaluation of step {step} ({epochs:.2f} epochs in) val_loss is "
                   f"{num(value)} vs train_loss {num(train_at)}: a gap of {gap:+.0%} of the "
                   f"initial train loss {num(start)} (different things measured from "
                   f"{pct(p['first_gap'])})", f"train_loss, val_loss, step {step}")


def _train_level(train: Curve, previous: float, step: float, value: float,
                 p: Params) -> tuple[float, bool]:
    """The training loss at an evaluation - the median of its points since the evaluation
    before (at least its last 3) - and whether ``value`` is clearly above it: by 3 standard
    errors of that median, from the noise of successive differences of the log losses before
    the evaluation (point_noise: a falling trend cancels out), × 1.2533 / √n."""
    before = train.values[train.steps <= step]
    since = train.values[(train.steps > previous) & (train.steps <= step)]
    window = since[-p["first_gap_points"]:] if since.size >= 3 else before[-3:]
    level = median(window)
    logs = np.log(np.maximum(before[-p["noise_points"]:], 1e-300))
    noise = point_noise(logs) if logs.size >= 2 else 0.0
    error = 1.2533 * noise / np.sqrt(window.size)
    return level, bool(value > 0 and level > 0 and np.log(value / level) >= 3 * error)


def _worse_since_first_epoch(run: Run, val: Curve, p: Params) -> Iterator[Fact]:
    """The validation loss at its best inside the first epoch - before any training example was
    seen twice, so before anything could be memorised - and clearly worse ever since, over a
    run of several epochs: what training learns does not carry over to the validation data.
    Unknown when the epoch length is, or when an epoch is only a few steps (tiny data)."""
    per_epoch = steps_per_epoch(run)
    k = val_minimum(val)
    best_at = optimizer_steps(run, int(val.steps[k]))
    last = optimizer_steps(run, int(val.steps[-1]))
    if per_epoch is None or best_at is None or last is None or per_epoch[0] < p["epoch_min_steps"]:
        return
    epochs, total = best_at / per_epoch[0], last / per_epoch[0]
    if total < p["worse_min_epochs"]:
        return
    best = float(val.values[k])
    end = median(val.values[-p["patience"]:])
    rise = end / best - 1 if best > 0 else 0.0
    worse = epochs <= p["first_epoch_max"] and rise >= p["worse_rise"]
    yield log_fact("val_worse_since_first_epoch", bool(worse),
                   f"val_loss is lowest ({num(best)}) {epochs:.2f} epochs in and ends "
                   f"{rise:+.0%} from there after {total:.1f} epochs", "val_loss")


def _val_acc_at_chance(run: Run, train_acc: Curve, val_acc: Curve, p: Params) -> Iterator[Fact]:
    task = task_of(run)
    chance = task.chance_accuracy
    if chance is None:
        return
    tol = max(p["chance_abs"], p["chance_rel"] * chance)
    val_best = float(val_acc.smooth(3).max())
    t_start, t_end = train_acc.level_start(), train_acc.level_end()
    rising = t_end - t_start >= p["train_acc_rise"] and t_end >= chance + tol
    stays = val_best <= chance + tol
    yield log_fact("val_accuracy_at_chance", bool(stays and rising),
                   f"val_acc never gets above {num(val_best)} (chance 1/C = {chance:.3f}) while "
                   f"train_acc goes {num(t_start)} → {num(t_end)}{task.note()}",
                   "train_acc, val_acc", certainty=task.sure(1.0))


def _loss_of_the_prior(run: Run, share: float, since: int, p: Params) -> bool:
    """Whether the validation loss from ``since`` on is what predicting a class of ``share`` for
    every input costs (the entropy of the prior, two to C classes): then a good score repeated
    from the first evaluations is one answer for everything, not a small validation set scoring
    the same again."""
    loss = run.get("val_loss")
    if loss is None:
        return False
    at = (loss.steps >= since) & np.isfinite(loss.values)
    if not at.any():
        return False
    classes = task_of(run).classes or int(p["default_classes"])
    return is_loss_of_the_prior(float(np.median(loss.values[at])), share, classes, p)


@detector("constant_accuracy", produces=("accuracy_constant",))
def constant_accuracy(run: Run, p: Params) -> Iterator[Fact]:
    found = None
    checked = []
    for tag in ("train_acc", "val_acc"):
        series = run.get(tag)
        if series is None:
            continue
        finite = np.isfinite(series.values)
        values, steps = series.values[finite], series.steps[finite]
        if values.size < p["min_points"]:
            continue
        checked.append(tag)
        same = values == values[-1]
        length = values.size if same.all() else values.size - 1 - int((~same).nonzero()[0][-1])
        value = float(values[-1])
        long_enough = length >= max(p["min_points"], p["share"] * values.size)
        from_start = values.size - length <= max(1, int(p["start_share"] * values.size))
        plausible = value < p["perfect"] and (
            tag == "train_acc" or value < p["val_below"]
            or (from_start and _loss_of_the_prior(run, value, steps[-length], p)))
        if long_enough and plausible:
            found = (tag, value, length, values.size, int(steps[-length]))
            break
    if not checked:
        return
    if found:
        tag, value, length, total, step = found
        text = (f"{tag} is exactly {value:.6g} for the last {length} of {total} points (from "
                f"step {step}): the model predicts the same thing for every input")
    else:
        text = f"{' and '.join(checked)} change over the run"
    yield log_fact("accuracy_constant", found is not None, text, ", ".join(checked))


def _zigzags(values: np.ndarray, swing: float) -> int:
    """Turns of the curve where the moves on both sides are at least ``swing``."""
    d = values[1:] - values[:-1]
    big = np.abs(d) >= swing
    turns = (np.sign(d[1:]) != np.sign(d[:-1])) & big[1:] & big[:-1]
    return int(turns.sum())


@detector("val_shape", produces=("val_oscillating", "val_stopped_improving"))
def val_shape(run: Run, p: Params) -> Iterator[Fact]:
    val = _curve(run, "val_loss", p["min_val_points"])
    acc = _curve(run, "val_acc", p["min_val_points"])
    curve, lower_better = (val, True) if val is not None else (acc, False)
    if curve is None:
        return
    values = curve.values
    n = len(curve)
    if lower_better:
        level = max(median(np.abs(values)), p["level_floor"] * abs(curve.level_start()))
        swing = p["loss_swing"] * level
        what = f"{pct(p['loss_swing'])} of its level {num(level)}"
    else:
        swing = p["acc_swing"]
        what = f"{swing:g}"
    turns = _zigzags(values, swing)
    needed = max(p["min_turns"], p["turn_share"] * (n - 2))
    yield log_fact("val_oscillating", bool(turns >= needed),
                   f"{curve.tag} turns {turns} times by at least {what} over {n} evaluations "
                   f"(oscillating from {needed:.0f})", f"{curve.tag}, {curve.span()}",
                   certainty=0.8)
    m = max(int(p["tail_min"]), round(n * p["tail_fraction"]))
    if n - m < 2:
        return
    head, tail = values[:-m], values[-m:]
    if lower_better:
        before, best = float(head.min()), float(tail.min())
        gain = (before - best) / max(abs(before), p["level_floor"] * abs(curve.level_start()),
                                     1e-12)
        stopped = gain < p["plateau_gain"]
        text = (f"the best val_loss of the last {m} evaluations ({num(best)}) improves on the "
                f"best before ({num(before)}) by {gain:+.1%} (stopped below "
                f"{pct(p['plateau_gain'])})")
    else:
        before, best = float(head.max()), float(tail.max())
        gain = best - before
        stopped = gain < p["acc_gain"] or best >= p["acc_saturated"]
        text = (f"the best val_acc of the last {m} evaluations ({num(best)}) improves on the "
                f"best before ({num(before)}) by {gain:+.3f}")
    yield log_fact("val_stopped_improving", bool(stopped), text,
                   f"{curve.tag}, steps {int(curve.steps[-m])}-{int(curve.steps[-1])}",
                   certainty=0.9)


@detector("underfit_plateau", produces=("converged_underfit_plateau",))
def underfit_plateau(run: Run, p: Params) -> Iterator[Fact]:
    train = _curve(run, "train_loss", p["min_points"])
    val = _curve(run, "val_loss", p["min_val_points"])
    task = task_of(run)
    acc = _curve(run, "train_acc", 2)
    if train is None or val is None or task.kind not in ("binary", "multiclass", None):
        return
    if task.kind is None and acc is None:
        return  # unknown task: a regression noise floor would look the same
    start, end = train.level_start(), train.level_end()
    smooth = train.smooth(max(3, len(train) // 10))
    tail = smooth[-max(2, int(len(train) * p["tail_fraction"])):]
    tail_change = (tail[-1] - tail[0]) / max(abs(tail[0]), 1e-12)
    t = slope_t(train.tail(p["tail_fraction"]))
    learned = end <= (1 - p["min_drop"]) * start
    val_tail = val.values[-max(2, int(len(val) * p["tail_fraction"])):]
    val_change = (float(val_tail[-1]) - median(val_tail[:-1])) / max(abs(median(val_tail)), 1e-12)
    # no real slope, and the loss is level: the train curve's own tail, or - when the train
    # loss's batch noise blurs its tail - the validation loss, a whole set at each point
    converged = t > -p["tail_t"] and (abs(tail_change) < p["plateau_flat"]
                                     or val_change > -p["plateau_flat"])
    gap = (val.level_end(0.2) - end) / _scale(train, p)
    no_gap = gap < p["gap_max"]
    chance = task.chance_loss
    if chance is not None:
        high = end >= p["chance_share"] * chance
        how = f"{end / chance:.0%} of ln C = {chance:.3f}{task.note()}"
    else:
        acc_end = acc.level_end() if acc is not None else 1.0
        high = end >= p["start_share"] * start and acc_end <= p["low_acc"]
        how = f"{end / max(start, 1e-12):.0%} of its start, train_acc {num(acc_end)}"
    found = learned and converged and no_gap and high
    yield log_fact("converged_underfit_plateau", bool(found),
                   f"train_loss fell {num(start)} → {num(end)} and levelled off (last "
                   f"{pct(p['tail_fraction'])}: {tail_change:+.1%}, slope t = {t:.1f}; val_loss "
                   f"{val_change:+.1%}) at {how}, "
                   f"with val_loss {num(val.level_end(0.2))} ({gap:+.2f} relative gap)",
                   f"train_loss, {train.span()}", certainty=task.sure(0.8))
