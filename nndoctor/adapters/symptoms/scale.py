"""Absolute scale of the loss: absurd values (≥ 1e3, or ≫ ln C), and negative values where the
loss cannot be negative. Shapes are judged elsewhere; here the numbers themselves are evidence."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms.base import Curve, Params, detector, log_fact, num
from nndoctor.adapters.symptoms.task import REGRESSION_LOSSES, Task, task_of, words
from nndoctor.engine.facts import Fact

MAX_POINTS = 4000
NONNEGATIVE_LOSSES = REGRESSION_LOSSES | {"ce", "xent", "cross_entropy", "crossentropy", "nll",
                                          "bce", "categorical_crossentropy",
                                          "binary_crossentropy", "sparse_categorical_crossentropy"}


def _bound(run: Run, task: Task, p: Params) -> tuple[float, str]:
    """The loss value above which the scale is absurd, and how it was set."""
    chance = task.chance_loss
    if chance is not None and p["far_ratio"] * chance < p["absurd_loss"]:
        return p["far_ratio"] * chance, f"{p['far_ratio']:g}× ln C = {p['far_ratio'] * chance:.3g}"
    if _classification(run, task):  # C unknown: no cross-entropy at chance exceeds ln(1e8)
        return p["absurd_ce"], (f"{p['absurd_ce']:g}, above the chance loss of any classifier "
                                f"(ln C < {p['absurd_ce']:g} up to e^{p['absurd_ce']:g} classes)")
    return p["absurd_loss"], f"{p['absurd_loss']:g}"


def _classification(run: Run, task: Task) -> bool:
    if task.kind in ("binary", "multiclass"):
        return True
    return any(run.get(tag) is not None and np.isfinite(run.get(tag).values).any()
               for tag in ("train_acc", "val_acc"))


@detector("loss_scale", produces=("loss_absurd_scale", "initial_loss_absurd", "loss_stuck_absurd",
                                  "loss_negative", "loss_negative_impossible"))
def loss_scale(run: Run, p: Params) -> Iterator[Fact]:
    train = Curve.of(run.get("train_loss"), "train_loss", MAX_POINTS)
    val = Curve.of(run.get("val_loss"), "val_loss", MAX_POINTS)
    curves = [c for c in (train, val) if c is not None and len(c)]
    if not curves:
        return
    task = task_of(run)
    bound, how = _bound(run, task, p)
    by_chance = task.chance_loss is not None and bound < p["absurd_loss"]
    sure = task.sure(1.0) if by_chance else 1.0
    note = task.note() if by_chance else ""
    # any single loss ≥ 1e3 counts (AUTOTRAINER); ≫ ln C must hold on the smoothed curve
    hits = []
    for c in curves:
        values = c.smooth(3) if bound < p["absurd_loss"] else c.values
        over = (values >= bound).nonzero()[0]
        if over.size:
            i = int(over[0])
            hits.append((int(c.steps[i]), c.tag, float(c.values[i])))
    if hits:
        step, tag, value = min(hits)
        text = f"{tag} is {num(value)} at step {step}, at or above {how}{note}"
    else:
        text = f"every loss stays below {how}{note}"
    yield log_fact("loss_absurd_scale", bool(hits), text, "train_loss, val_loss", certainty=sure)
    if train is not None and len(train):
        first = float(train.values[0])
        absurd = first >= bound
        yield log_fact("initial_loss_absurd", bool(absurd),
                       f"the first train_loss {num(first)} at step {int(train.steps[0])} is "
                       + ("at or above " if absurd else "below ") + how + note,
                       f"train_loss, step {int(train.steps[0])}", certainty=sure)
        end = train.level_end()
        stuck = end >= bound and len(train) >= p["min_points"]
        yield log_fact("loss_stuck_absurd", bool(stuck),
                       f"train_loss ends at {num(end)} (median of the last 10 %), "
                       + ("still at or above " if stuck else "below ") + how + note,
                       f"train_loss, {train.span()}", certainty=sure)
    yield from _negative(run, curves, task, p)


def _negative(run: Run, curves: list[Curve], task: Task, p: Params) -> Iterator[Fact]:
    # judged on a running median: one noisy point below 0 is not a negative loss
    lows = [(float(c.smooth(p["negative_smooth"]).min()), c) for c in curves]
    low, curve = min(lows, key=lambda x: x[0])
    negative = low < -p["negative_tol"]
    i = int(curve.values.argmin())
    text = (f"{curve.tag} goes down to {num(float(curve.values[i]))} at step "
            f"{int(curve.steps[i])} (running median {num(low)})" if negative else
            f"the loss stays ≥ 0 (lowest running median {num(low)}, lowest point "
            f"{num(float(curve.values[i]))})")
    yield log_fact("loss_negative", bool(negative), text, curve.tag)
    why = _cannot_be_negative(run, task)
    if why is None:
        return
    yield log_fact("loss_negative_impossible", bool(negative),
                   (text + f", yet it cannot be negative: {why}") if negative
                   else f"the loss stays ≥ 0, as it must ({why})", curve.tag,
                   certainty=task.sure(1.0) if why.startswith("classification") else 1.0)


def _cannot_be_negative(run: Run, task: Task) -> str | None:
    """Why this run's loss is ≥ 0 by construction, or None when it may be negative."""
    for tag in ("train_acc", "val_acc"):
        series = run.get(tag)
        if series is not None and np.isfinite(series.values).any():
            return (f"accuracy is logged ({series.source_tag or tag}), so the loss is a "
                    "classification loss (cross-entropy, NLL on log-probabilities, BCE), all ≥ 0")
    for tag in ("train_loss", "val_loss"):
        series = run.get(tag)
        if series is not None and words(series.source_tag) & NONNEGATIVE_LOSSES:
            return f"the loss is named {series.source_tag!r}, a loss that is ≥ 0"
    if task.kind in ("binary", "multiclass"):
        return f"classification ({task.evidence}): its cross-entropy is ≥ 0"
    return None
