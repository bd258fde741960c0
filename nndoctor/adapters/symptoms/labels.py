"""What the curves say about the data and its labels.

- Validation that never benefits from training: its best value is at the first evaluations and
  it climbs away from a training loss that falls - the model learns something that does not
  transfer (labels unrelated to the inputs, another distribution).
- Validation accuracy never above chance (values below chance count: a model that memorises
  random labels can score below 1/C on held-out data).
- Validation accuracy frozen at a high value with the loss at the entropy of the class prior:
  the model predicts the majority class for everything.
- A training loss far above a validation loss that has learned, and whether label noise could
  explain it: a model trained on labels of which a share p is random cannot be confident on clean
  data (its probability for the true class is at most 1 - p(C-1)/C), so a confident validation
  bounds the noise share, and with it the training loss that noise can account for.
- Training errors too cheap for label noise: where validation accuracy beats training accuracy,
  random training labels cost at least (ln C - val_loss) / (val_acc - 1/C) of training loss per
  point of accuracy they take (the model's predictions are the same on inputs of one
  distribution; a uniformly random label costs the cross-entropy of the uniform against them,
  ≥ ln C), so a training loss that pays far less is from inputs that are harder at train time,
  not from labels.
"""

from __future__ import annotations

import functools
import math
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
)
from nndoctor.adapters.symptoms.curves import MAX_POINTS
from nndoctor.adapters.symptoms.task import task_of
from nndoctor.engine.facts import Fact


def _curve(run: Run, tag: str, min_points: int) -> Curve | None:
    curve = Curve.of(run.get(tag), tag, MAX_POINTS)
    return curve if curve is not None and len(curve) >= min_points else None


@functools.lru_cache(maxsize=64)
def _above_diagonal(n: int) -> np.ndarray:
    """``np.triu(np.ones((n, n), dtype=bool), k=1)``, once per size (read-only)."""
    mask = ~np.tri(n, n, 0, dtype=bool)
    mask.flags.writeable = False
    return mask


def _rising_share(values: np.ndarray) -> float:
    """Share of the pairs (i < j) with values[j] > values[i] among the pairs that differ: 1 for
    a curve that only climbs, 0.5 for noise around a level (Kendall's tau, rescaled)."""
    if values.size < 3:
        return 0.5
    diff = values[None, :] - values[:, None]
    upper = _above_diagonal(values.size)
    up = int(np.count_nonzero((diff > 0) & upper))
    down = int(np.count_nonzero((diff < 0) & upper))
    return up / (up + down) if up + down else 0.5


@detector("val_never_improves", produces=("val_loss_never_improved",))
def val_never_improves(run: Run, p: Params) -> Iterator[Fact]:
    train = _curve(run, "train_loss", p["min_points"])
    val = _curve(run, "val_loss", p["min_val_points"])
    if train is None or val is None:
        return
    task = task_of(run)
    t_first, t_end = median(train.values[:3]), train.level_end()
    v_first, v_end = float(val.values[0]), val.level_end(0.2)
    chance = task.chance_loss
    level = chance if chance is not None else max(abs(t_first), abs(v_first), 1e-12)
    smooth = val.smooth(3)
    k = int(smooth.argmin())
    v_min = float(smooth[k])
    improved = (v_first - v_min) / level
    early = k <= max(0, int(p["early_share"] * len(val)))
    rise = (v_end - v_min) / level
    apart = (v_end - t_end) / level
    train_fell = (t_first - t_end) / level
    climbs = _rising_share(val.values[k:])
    found = (early and improved <= p["improve_max"] and rise >= p["rise_min"]
             and apart >= p["apart_min"] and train_fell >= p["train_fell_min"]
             and (climbs >= p["climb_min"] or rise >= p["rise_strong"]))
    scale = f"ln C = {chance:.3f}{task.note()}" if chance is not None else f"{num(level)}"
    text = (f"val_loss is best at evaluation {k + 1} of {len(val)} ({num(v_min)}, "
            f"{improved:+.1%} of {scale} below the first {num(v_first)}) and ends at "
            f"{num(v_end)} ({rise:+.1%}; {pct(climbs)} of its moves after the best go up), while "
            f"train_loss fell {num(t_first)} → {num(t_end)} and ends {apart:+.1%} of {scale} "
            "below it")
    certainty = 0.9
    if found:
        strength = max(graded(apart, p["apart_min"], p["apart_strong"], 0.0, 1.0),
                       graded(climbs, p["climb_min"], 1.0, 0.0, 1.0))
        certainty = round(p["floor"] + (0.95 - p["floor"]) * strength, 4)
    yield log_fact("val_loss_never_improved", bool(found), text, "train_loss, val_loss",
                   certainty=task.sure(certainty) if chance is not None else certainty)


@detector("val_accuracy_vs_chance", produces=("val_accuracy_not_above_chance",))
def val_accuracy_vs_chance(run: Run, p: Params) -> Iterator[Fact]:
    val_acc = _curve(run, "val_acc", p["min_val_points"])
    task = task_of(run)
    chance = task.chance_accuracy
    if val_acc is None or chance is None:
        return
    tol = max(p["chance_abs"], p["chance_rel"] * chance)
    best = float(val_acc.smooth(3).max())
    end = val_acc.level_end(0.2)
    below = end <= chance - tol
    yield log_fact("val_accuracy_not_above_chance", bool(best <= chance + tol),
                   f"val_acc is at most {num(best)} (3-point median) and ends at {num(end)}"
                   + (", below chance" if below else "")
                   + f" (chance 1/C = {chance:.3f}, above it from {chance + tol:.3f})"
                   + task.note(), "val_acc", certainty=task.sure(0.9))


def prior_entropy(share: float, classes: int) -> float:
    """Cross-entropy of predicting the class prior: one class of ``share``, the rest spread over
    ``classes`` - 1 classes."""
    share = min(max(share, 1e-12), 1 - 1e-12)
    rest = 1 - share
    return -share * math.log(share) - rest * math.log(rest / max(classes - 1, 1))


def is_loss_of_the_prior(level: float, share: float, classes: int, p: Params) -> bool:
    """Whether a loss ``level`` is what predicting a class of ``share`` for every input costs:
    between ``entropy_low`` × the prior's entropy over two classes and ``entropy_high`` × its
    entropy over ``classes``."""
    return (p["entropy_low"] * prior_entropy(share, 2) <= level
            <= p["entropy_high"] * prior_entropy(share, max(classes, 2)))


@detector("majority_share", produces=("val_accuracy_at_majority_share",))
def majority_share(run: Run, p: Params) -> Iterator[Fact]:
    acc = _curve(run, "val_acc", p["min_val_points"])
    loss = _curve(run, "val_loss", p["min_val_points"])
    if acc is None or loss is None:
        return
    values = acc.values
    # the longest stretch of evaluations with exactly the same accuracy
    best_len, best_start, start = 1, 0, 0
    points = values.tolist()  # the same floats, without a numpy scalar per point
    for i in range(1, len(points)):
        if abs(points[i] - points[i - 1]) > 1e-9:
            start = i
        if i - start + 1 > best_len:
            best_len, best_start = i - start + 1, start
    share = float(values[best_start])
    stretch = acc.steps[best_start:best_start + best_len]
    long_enough = best_len >= max(p["min_repeats"], p["repeat_share"] * values.size)
    from_start = best_start <= max(1, int(p["start_share"] * values.size))
    plausible = p["min_share"] <= share < p["perfect"]
    if not (long_enough and from_start and plausible):
        yield log_fact("val_accuracy_at_majority_share", False,
                       f"val_acc does not stay at one value above {p['min_share']:g} from the "
                       f"first evaluations (longest run of equal values: {best_len} of "
                       f"{values.size} evaluations, from evaluation {best_start + 1})", "val_acc")
        return
    task = task_of(run)
    classes = task.classes if task.classes else int(p["default_classes"])
    at = (loss.steps >= stretch[0]) & (loss.steps <= stretch[-1])
    level = median(loss.values[at]) if at.any() else loss.level_end()
    found = is_loss_of_the_prior(level, share, classes, p)
    yield log_fact("val_accuracy_at_majority_share", bool(found),
                   f"val_acc is exactly {share:.4g} for {best_len} of {values.size} evaluations "
                   f"(steps {int(stretch[0])}-{int(stretch[-1])}) with val_loss {num(level)} "
                   f"there; predicting a class of share {share:.3g} for everything costs "
                   f"{prior_entropy(share, 2):.3f}-{prior_entropy(share, max(classes, 2)):.3f} "
                   f"(the prior's entropy, 2 to {max(classes, 2)} classes)", "val_acc, val_loss",
                   certainty=0.8)


def noise_entropy(q: float, classes: int) -> float:
    """Entropy of labels that are right with probability q and else uniform over the others."""
    return prior_entropy(q, classes)


@detector("train_above_val", produces=("train_loss_far_above_val", "val_too_confident_for_noise"))
def train_above_val(run: Run, p: Params) -> Iterator[Fact]:
    train = _curve(run, "train_loss", p["min_points"])
    val = _curve(run, "val_loss", p["min_val_points"])
    if train is None or val is None:
        return
    t_first, t_end = median(train.values[:3]), train.level_end(0.2)
    v_first, v_end = float(val.values[0]), val.level_end(0.2)
    if t_end <= 0 or v_end <= 0:
        return
    ratio = t_end / v_end
    gap = (t_end - v_end) / max(abs(t_first), 1e-12)
    learned = v_end <= (1 - p["val_learned"]) * max(v_first, t_first)
    far = ratio >= p["ratio_min"] and gap >= p["gap_min"] and learned
    yield log_fact("train_loss_far_above_val", bool(far),
                   f"train_loss ends at {num(t_end)}, {ratio:.2f}× the val_loss {num(v_end)} "
                   f"(gap {pct(gap)} of the initial train loss; val_loss fell from "
                   f"{num(v_first)})", "train_loss, val_loss",
                   certainty=graded(ratio, p["ratio_min"], p["ratio_strong"], 0.5, 0.9)
                   if far else 0.8)
    if not far:
        return
    acc = _curve(run, "val_acc", 2)
    task = task_of(run)
    if acc is None or not task.classes:
        return
    classes, a = task.classes, acc.level_end(0.2)
    if a <= 1.0 / classes:
        return
    # on the share a of validation samples it gets right the model gives the true class at least
    # q: a validation loss L bounds -ln q by L / a, hence q from below and the noise share above
    q = min(math.exp(-v_end / a), 1.0)
    noise = min(1.0, (1 - q) * classes / (classes - 1))
    floor = noise_entropy(q, classes)
    too_confident = t_end > p["explain_margin"] * floor
    yield log_fact("val_too_confident_for_noise", bool(too_confident),
                   f"val_loss {num(v_end)} at val_acc {num(a)} means the model gives the true "
                   f"class p ≥ {q:.2f} (C = {classes}{task.note()}), so at most {pct(noise)} of "
                   f"the training labels can be random, whose entropy {floor:.3f} "
                   + ("cannot" if too_confident else "can")
                   + f" account for the training loss {num(t_end)}",
                   "train_loss, val_loss, val_acc", certainty=task.sure(0.8))


@detector("train_error_cost", produces=("train_errors_too_cheap_for_noise",))
def train_error_cost(run: Run, p: Params) -> Iterator[Fact]:
    """Under label noise at share η (inputs of one distribution, a random label in place of the
    true one) train accuracy is (1 - η)·A + η/C and train loss (1 - η)·L + η·CE(uniform, p) with
    CE ≥ ln C, where A and L are the validation's: so (train loss - L) / (A - train accuracy) is
    at least (ln C - L) / (A - 1/C). Far below that bound the training samples the model gets
    wrong cost little loss - it hedges on them: they are harder inputs (augmentation, dropout,
    a different order), not labels that contradict what it learned."""
    task = task_of(run)
    curves = [_curve(run, tag, p["min_points"]) for tag in
              ("train_loss", "val_loss", "train_acc", "val_acc")]
    if not task.classes or any(c is None for c in curves):
        return
    t_loss, v_loss, t_acc, v_acc = (c.level_end(0.2) for c in curves)  # type: ignore[union-attr]
    chance_loss, chance_acc = math.log(task.classes), 1.0 / task.classes
    lost = v_acc - t_acc
    if lost < p["accuracy_gap_min"] or v_acc <= chance_acc or v_loss >= chance_loss:
        return
    bound = (chance_loss - v_loss) / (v_acc - chance_acc)
    cost = (t_loss - v_loss) / lost
    cheap = cost < p["share_of_bound"] * bound
    yield log_fact("train_errors_too_cheap_for_noise", bool(cheap),
                   f"train_acc {num(t_acc)} is {lost:.3f} below val_acc {num(v_acc)} for "
                   f"{t_loss - v_loss:+.3f} of loss ({cost:.2f} per unit of accuracy); random "
                   f"labels would cost at least (ln {task.classes} - {num(v_loss)}) / "
                   f"({num(v_acc)} - 1/{task.classes}) = {bound:.2f}{task.note()}",
                   "train_loss, val_loss, train_acc, val_acc", certainty=task.sure(0.8))
