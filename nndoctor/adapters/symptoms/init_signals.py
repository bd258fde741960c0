"""Start-of-training signatures of a broken initialisation or a net no gradient gets through.

Two shapes that the global trend and level detectors do not see:

* the loss has not moved at all from its first evaluation (a network that outputs a constant: all
  units dead, symmetric or frozen; no gradient reaches the hidden layers);
* whether the validation loss, however little it moves, falls at every evaluation (the weights
  move the same way at each step: the updates are too small, not absent) or wanders (the network
  sits at a fixed point: a symmetric or saturated start, or a penalty that holds it at the prior);
* the very first loss is a spike far above everything after it (huge logits at step 0: oversized
  weights, saturated units or unscaled inputs), told apart by what follows - a run that learns
  after it, or one that collapses and never moves again.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms.base import (
    Curve,
    Params,
    correlation,
    detector,
    graded,
    log_fact,
    median,
    num,
    pct,
    ranks,
)
from nndoctor.engine.facts import Fact


def _reference(run: Run, p: Params) -> Curve | None:
    """The validation loss when evaluated often enough (a whole set: little noise), else the
    training loss reduced to bucket medians."""
    val = Curve.of(run.get("val_loss"), "val_loss")
    if val is not None and len(val) >= p["min_val_points"]:
        return val
    train = Curve.of(run.get("train_loss"), "train_loss", max_points=p["train_buckets"])
    if train is not None and len(train) >= p["min_train_points"]:
        return train
    return None


@detector("init_signals", produces=("loss_unmoved", "val_loss_steady_fall", "first_loss_spike"))
def init_signals(run: Run, p: Params) -> Iterator[Fact]:
    yield from _unmoved(run, p)
    yield from _steady_fall(run, p)
    yield from _spike(run, p)


def _steady_fall(run: Run, p: Params) -> Iterator[Fact]:
    """Spearman's rank correlation of the validation loss with time: scale-free, so a fall of
    0.1 % that happens at every evaluation counts as much as one of 50 %."""
    val = Curve.of(run.get("val_loss"), "val_loss")
    if val is None or len(val) < p["min_val_points"]:
        return
    values = val.values
    if float(values.max() - values.min()) <= 1e-12 * max(abs(float(values[0])), 1.0):
        rho = 0.0  # exactly constant: no direction at all
    else:
        # the ranks of 0, 1, 2, … are themselves
        rho = correlation(np.arange(values.size, dtype=float), ranks(values))
    falls = rho <= p["steady_rho"]
    text = (f"val_loss falls at almost every one of its {values.size} evaluations (rank "
            f"correlation with time {rho:+.2f}, at most {p['steady_rho']:+.2f} counts)" if falls
            else f"val_loss has no steady fall over its {values.size} evaluations (rank "
            f"correlation with time {rho:+.2f}; {p['steady_rho']:+.2f} or lower would be)")
    certainty = 0.9 if falls or rho >= p["wander_rho"] else 0.6
    yield log_fact("val_loss_steady_fall", bool(falls), text, val.span(), certainty=certainty)


def _unmoved(run: Run, p: Params) -> Iterator[Fact]:
    curve = _reference(run, p)
    train = Curve.of(run.get("train_loss"), "train_loss", max_points=p["train_buckets"])
    if curve is None or train is None or len(train) < p["min_train_points"]:
        return
    values = curve.values
    level = median(values)
    start, end = median(train.head(0.1)), median(train.tail(0.1))
    if not np.isfinite(level) or abs(level) < 1e-12 or start <= 0:
        return
    spread = float((values.max() - values.min()) / abs(level))
    fell = (start - end) / start  # a loss that fell and then stopped (LR at 0) has moved
    unmoved = spread <= p["unmoved_range"] and abs(fell) <= p["train_moved"]
    text = (f"{curve.tag} stays within {pct(spread)} of its level {num(level)} over "
            f"{len(values)} points and train_loss changes {fell:+.1%}: the model's output has "
            "not changed" if unmoved else
            f"{curve.tag} moves by {pct(spread)} of its level {num(level)}, "
            f"train_loss by {fell:+.1%}")
    certainty = graded(p["unmoved_range"] - spread, 0.0, p["unmoved_range"] - p["unmoved_sure"],
                       floor=0.5) if unmoved else 0.9
    yield log_fact("loss_unmoved", bool(unmoved), text, curve.span(), certainty=certainty)


def _spike(run: Run, p: Params) -> Iterator[Fact]:
    train = Curve.of(run.get("train_loss"), "train_loss")
    if train is None or len(train) < p["min_train_points"]:
        return
    first = float(train.values[0])
    rest = median(train.values[1:])
    if first <= 0 or rest <= 0:
        return
    ratio = first / rest
    # a fast-converging healthy run also ends far below its start, but it starts at a sane
    # scale (ln C, or about the target variance); a huge first loss needs both
    spike = first >= p["spike_abs"] and ratio >= p["spike_ratio"]
    text = (f"the first training loss {num(first)} is {ratio:.0f}x the median of the rest "
            f"({num(rest)}): the outputs were huge at step 0" if spike else
            f"the first training loss {num(first)} is {ratio:.2g}x the median of the rest")
    yield log_fact("first_loss_spike", bool(spike), text, train.span(0, 0),
                   certainty=graded(ratio, p["spike_ratio"], p["spike_strong"]) if spike else 0.9)
