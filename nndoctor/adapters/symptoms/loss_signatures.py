"""Signatures of a wrong loss or a wrong forward pass, read from the loss's own numbers.

Each one is a relation a correct cross-entropy cannot break, so it holds for any class count:

- a loss that is *maximised*: it runs away below zero by orders of magnitude while the accuracy
  does not improve (a sign-flipped loss; NLL on raw logits also goes negative, but it learns);
- a loss far above what any mean cross-entropy can be at the logged accuracy, from the first step
  on (the loss is summed over the batch, not averaged);
- a loss *below* (1 - accuracy) · ln 2, the least any cross-entropy can be at that accuracy (each
  wrong example puts at most 1/2 on its label): the loss is not a cross-entropy (MSE or L1 on
  one-hot targets);
- a loss pinned at ln 2 in a task with more than two classes (a per-class binary loss whose
  outputs are stuck at p = 0.5: a sigmoid output fed to BCE-with-logits);
- a loss that follows the double-softmax curve a·ln(1 + (C-1)/e) + (1-a)·ln(e + C - 1) at
  accuracy a, with C read off the first loss when the run does not say it;
- a loss non-finite from its first logged value, before any optimiser step could blow it up;
- an accuracy well below chance while the loss sits at chance (the model is pushed away from the
  labels).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms.base import Curve, Params, detector, graded, log_fact, median, num
from nndoctor.adapters.symptoms.consistency import calibrated_loss
from nndoctor.adapters.symptoms.task import task_of
from nndoctor.engine.facts import Fact

MAX_POINTS = 4000
LN2 = math.log(2.0)


def _curve(run: Run, tag: str) -> Curve | None:
    c = Curve.of(run.get(tag), tag, MAX_POINTS)
    return c if c is not None and len(c) else None


def _accuracy(run: Run, role: str) -> Curve | None:
    """The accuracy measured with the ``role`` loss: the same split's, else (for the train loss)
    the validation accuracy - a lower bound of the train accuracy, so bounds stay conservative."""
    own = _curve(run, f"{role}_acc")
    if own is not None or role == "val":
        return own
    return _curve(run, "val_acc")


def _at(acc: Curve, loss: Curve) -> np.ndarray:
    """The loss (running median) at the accuracy's steps."""
    smooth = loss.smooth(max(1, min(9, len(loss) // 10)))
    return np.interp(acc.steps, loss.steps, smooth)


# ------------------------------------------------------------------------------ sign flipped
@detector("loss_maximised", produces=("loss_maximised",))
def loss_maximised(run: Run, p: Params) -> Iterator[Fact]:
    for role in ("train", "val"):
        loss, acc = _curve(run, f"{role}_loss"), _accuracy(run, role)
        if loss is None or acc is None or len(loss) < p["min_points"] \
                or len(acc) < p["min_acc_points"]:
            continue
        end = loss.level_end()
        start = median(loss.values[: max(1, min(3, len(loss) // 10))])
        # from a sane start it must grow tenfold; a first logged point already below zero (an
        # epoch's average) is past where a runaway starts, so falling further is enough
        runaway = end < -p["negative_floor"] and (
            abs(end) >= p["growth"] * max(abs(start), 1.0) or (start < 0 and end < start))
        gain = acc.level_end() - min(float(acc.values[0]), acc.level_start())
        task = task_of(run)
        chance = task.chance_accuracy
        learned = gain >= p["acc_gain"] or (chance is not None
                                            and acc.level_end() >= chance + p["acc_gain"])
        found = runaway and not learned
        yield log_fact(
            "loss_maximised", bool(found),
            f"{loss.tag} runs away below zero, from {num(start)} to {num(end)}, while {acc.tag} "
            f"gains only {gain:+.3f} (ends at {num(acc.level_end())}): the optimiser is making "
            "the real loss worse - it maximises it" if found else
            f"{loss.tag} ends at {num(end)} (from {num(start)}); {acc.tag} gains {gain:+.3f}",
            f"{loss.tag}, {acc.tag}", certainty=0.9 if found else 1.0)
        return


# ------------------------------------------------------------------------------ summed loss
@detector("loss_summed", produces=("loss_scaled_by_batch",))
def loss_summed(run: Run, p: Params) -> Iterator[Fact]:
    task = task_of(run)
    if task.kind == "regression":
        return
    classes = task.classes if task.classes and task.classes >= 2 else int(p["max_classes"])
    best = None
    # the train loss decides when logged: a sum in the validation loss alone is an eval bug
    roles = ("train",) if _curve(run, "train_loss") is not None else ("val",)
    for role in roles:
        loss, acc = _curve(run, f"{role}_loss"), _accuracy(run, role)
        if loss is None or acc is None or len(loss) < p["min_points"] \
                or len(acc) < p["min_acc_points"]:
            continue
        floor = float(loss.smooth(max(3, len(loss) // 20)).min())
        a = acc.level_end()
        bound = calibrated_loss(a, classes)
        ratio = floor / max(bound, 1e-6)
        if best is None or ratio > best[0]:
            best = (ratio, floor, a, bound, loss, acc)
    if best is None:
        return
    ratio, floor, a, bound, loss, acc = best
    chance = task.chance_accuracy or 0.0
    good = a >= max(p["min_acc"], chance + p["acc_margin"])
    if task.classes:
        least = p["chance_share"] * math.log(task.classes)
    else:  # a first loss above ln(any vocabulary) already says "not a mean"
        least = p["min_floor"] if float(loss.values[0]) < p["first_absurd"] else p["chance_share"]
    found = good and floor >= least and ratio >= p["ratio"]
    certainty = graded(ratio, p["ratio"], p["strong_ratio"], floor=0.7, ceiling=0.9) \
        if found else 1.0
    how = f"C = {task.classes}" if task.classes else f"any class count up to {classes}"
    extra = ""
    batch = run.context.get("batch_size")
    if found and task.classes and isinstance(batch, (int, float)) and batch > 1:
        first = float(loss.values[0]) / math.log(task.classes)
        if p["batch_low"] * batch <= first <= p["batch_high"] * batch:
            certainty = 1.0
            extra = (f"; the first loss is {first:.3g}× ln C with a batch of {int(batch)}: a sum "
                     "over the batch")
    yield log_fact(
        "loss_scaled_by_batch", bool(found),
        f"{loss.tag} never gets below {num(floor)} although {acc.tag} reaches {num(a)}: "
        f"{ratio:.3g}× the largest mean cross-entropy at that accuracy ({bound:.3g} for {how})"
        f" - the loss is a sum, not a mean{extra}" if found else
        f"{loss.tag} floor {num(floor)} is {ratio:.3g}× the mean cross-entropy bound "
        f"{bound:.3g} at accuracy {num(a)}",
        f"{loss.tag}, {acc.tag}", certainty=certainty)


# ------------------------------------------------------------------------------ not a CE
@detector("loss_below_ce_floor", produces=("loss_below_ce_floor",))
def loss_below_ce_floor(run: Run, p: Params) -> Iterator[Fact]:
    if task_of(run).kind == "regression":
        return
    for role in ("train", "val"):
        loss, acc = _curve(run, f"{role}_loss"), _curve(run, f"{role}_acc")
        if loss is None or acc is None or len(loss) < p["min_points"] \
                or len(acc) < p["min_acc_points"]:
            continue
        if float(loss.values.min()) < 0:
            return  # a negative loss is judged by loss_scale
        at = _at(acc, loss)
        wrong = 1.0 - acc.values.clip(0.0, 1.0)
        inside = (acc.steps >= loss.steps[0]) & (acc.steps <= loss.steps[-1])
        judged = (wrong >= p["min_error"]) & inside
        if judged.sum() < p["min_judged"]:
            continue
        floor = wrong[judged] * LN2
        below = at[judged] <= p["share"] * floor
        share = float(below.mean())
        found = share >= p["min_share"]
        i = int(judged.nonzero()[0][0])
        yield log_fact(
            "loss_below_ce_floor", bool(found),
            f"{loss.tag} is {num(float(at[i]))} at step {int(acc.steps[i])} where {acc.tag} is "
            f"{num(float(acc.values[i]))}; a cross-entropy cannot be below (1 - acc)·ln 2 = "
            f"{num(float(wrong[i] * LN2))} there, and the loss is below half of that at "
            f"{share:.0%} of the evaluations - it is not a cross-entropy (MSE/L1 on one-hot "
            "targets?)" if found else
            f"{loss.tag} stays above half the cross-entropy floor (1 - acc)·ln 2 at "
            f"{1 - share:.0%} of the evaluations",
            f"{loss.tag}, {acc.tag}", certainty=0.85 if found else 1.0)
        return


# ------------------------------------------------------------------------------ ln 2 plateau
@detector("loss_binary_plateau", produces=("loss_at_binary_chance_multiclass",))
def loss_binary_plateau(run: Run, p: Params) -> Iterator[Fact]:
    task = task_of(run)
    loss = _curve(run, "train_loss") or _curve(run, "val_loss")
    acc = _curve(run, "train_acc") or _curve(run, "val_acc")
    if loss is None or acc is None or len(loss) < p["min_points"] or task.kind == "regression":
        return
    if task.classes == 2:
        return  # ln 2 is just chance there
    tail = loss.tail(p["tail_fraction"])
    level = median(tail)
    pinned = abs(level - LN2) <= p["tolerance"] * LN2 and \
        median(np.abs(tail - level)) <= p["flat"] * LN2
    many = (task.classes or 0) >= 3 or acc.level_end() <= p["max_acc"]
    found = pinned and many
    what = (f"C = {task.classes}" if task.classes else
            f"{acc.tag} {num(acc.level_end())} is below binary chance, so more than two classes")
    yield log_fact(
        "loss_at_binary_chance_multiclass", bool(found),
        f"{loss.tag} settles at {num(level)} = ln 2 and stays there, although the task has "
        f"more than two classes ({what}): a per-class binary loss whose outputs are stuck at "
        "p = 0.5" if found else f"{loss.tag} ends at {num(level)}, not pinned at ln 2 "
        "in a multi-class task",
        loss.tag, certainty=task.sure(0.85) if found else 1.0)


# ------------------------------------------------------------------------------ double softmax
def double_softmax_loss(acc: float, classes: int) -> float:
    """Cross-entropy of a model whose outputs are probabilities fed to a softmax loss: right
    examples reach at best ln(1 + (C-1)/e), wrong ones sit near ln(e + C - 1)."""
    return acc * math.log(1 + (classes - 1) / math.e) + (1 - acc) * math.log(math.e + classes - 1)


@detector("double_softmax_curve", produces=("loss_tracks_double_softmax",))
def double_softmax_curve(run: Run, p: Params) -> Iterator[Fact]:
    task = task_of(run)
    train = _curve(run, "train_loss")
    if train is None or len(train) < p["min_points"] or task.kind == "regression":
        return
    pairs = []  # (loss, accuracy) of the same split: a train loss inflated by augmentation or
    for role in ("train", "val"):  # label noise says nothing next to a clean val accuracy
        loss, acc = _curve(run, f"{role}_loss"), _curve(run, f"{role}_acc")
        if loss is not None and acc is not None and len(loss) >= 2 and len(acc) >= 2:
            pairs.append((loss, acc))
    if not pairs:
        return
    val = _curve(run, "val_loss")
    if len(pairs) == 1 and pairs[0][0].tag == "val_loss" and val is not None \
            and train.level_end() < p["train_share"] * val.level_end():
        pairs = []  # a validation loss above the train loss (overfitting) can cross the curve
    ends = [(loss.tag, acc.tag, loss.level_end(), acc.level_end()) for loss, acc in pairs]
    first = float(train.values[:3].max())
    if task.classes and task.classes >= 3:
        classes, how, sure = task.classes, f"C = {task.classes}", task.sure(0.8)
    elif 1.0 < first < math.log(p["max_classes"]) and round(math.exp(first)) >= 3:
        classes = round(math.exp(first))
        how, sure = f"C ≈ {classes} from the first loss", 0.65
    elif len(ends) == 2 and not task.classes:
        classes = _fitted_classes(ends, p)
        how, sure = f"C = {classes}, the one class count whose curve both splits follow", 0.6
    else:
        return
    found, texts = bool(ends), []
    for loss_tag, acc_tag, end, a in ends:
        expected = double_softmax_loss(a, classes)
        calibrated = calibrated_loss(a, classes)
        off = abs(end - expected)  # on the curve, and far nearer to it than to a calibrated model
        found = found and a >= p["min_acc"] and off <= p["tolerance"] * expected \
            and p["separation"] * off <= abs(end - calibrated)
        texts.append(f"{loss_tag} ends at {num(end)} with {acc_tag} {num(a)} (softmax applied "
                     f"twice: {expected:.3g}; calibrated: {calibrated:.3g})")
    yield log_fact(
        "loss_tracks_double_softmax", bool(found),
        ("; ".join(texts) + f" ({how}): the loss follows the curve of probabilities fed to a "
         "softmax loss" if found else "; ".join(texts) + f", {how}: not the double-softmax "
         "curve") if texts else "no train or val loss with its own accuracy",
        "train_loss, val_loss, accuracy", certainty=sure if found else 1.0)


def _fitted_classes(ends: list[tuple[str, str, float, float]], p: Params) -> int:
    """The class count (2 included: a sigmoid fed to a with-logits loss has the same curve)
    whose double-softmax curve comes closest to the worst-fitting of the splits' end points:
    with no class count known, two splits ending at different accuracies on one curve are the
    evidence, and the tolerance decides. The curve rises with C, so the search stops once it
    passes every end point."""
    best, best_error = 2, math.inf
    highest = max(end for _l, _a, end, _acc in ends)
    for c in range(2, int(p["max_classes"]) + 1):
        expected = [(end, double_softmax_loss(a, c)) for _l, _a, end, a in ends]
        error = max(abs(end - x) / x for end, x in expected)
        if error < best_error:
            best, best_error = c, error
        if min(x for _end, x in expected) > highest:
            break
    return best


# ------------------------------------------------------------------------------ NaN at once
@detector("nonfinite_from_start", produces=("nonfinite_from_start",))
def nonfinite_from_start(run: Run, p: Params) -> Iterator[Fact]:
    task = task_of(run)
    has_acc = any(_curve(run, t) is not None for t in ("train_acc", "val_acc"))
    if task.kind not in ("binary", "multiclass") and not has_acc:
        return  # judged where the loss has a log/exp that can overflow (classification)
    firsts = []
    for tag in ("train_loss", "val_loss", "grad_norm"):
        s = run.get(tag)
        if s is None or not len(s):
            continue
        firsts.append((tag, bool(np.isfinite(s.values[0])), int(s.steps[0]),
                       bool(np.isfinite(s.values).any())))
    if not firsts:
        return
    train = run.get("train_loss")
    hf_filtered = train is not None and len(train) and bool((train.values == 0.0).all())
    bad = [f for f in firsts if not f[1] and (f[0] != "grad_norm" or hf_filtered
                                             or not f[3])]
    finite_before = any(f[1] and f[0] != "grad_norm" and not hf_filtered for f in firsts
                        if bad and f[2] < min(b[2] for b in bad))
    found = bool(bad) and not finite_before
    if found:
        tag, _, step, _ = min(bad, key=lambda f: f[2])
        sure = 0.95 if step <= p["early_steps"] else 0.7
        text = (f"{tag} is already non-finite at its first logged point (step {step}); no finite "
                "loss was logged before: the forward pass overflows before any update")
    else:
        sure, text = 1.0, "the first logged loss values are finite"
    yield log_fact("nonfinite_from_start", found, text, "train_loss, val_loss, grad_norm",
                   certainty=sure)


# ------------------------------------------------------------------------------ below chance
@detector("accuracy_below_chance", produces=("accuracy_below_chance",))
def accuracy_below_chance(run: Run, p: Params) -> Iterator[Fact]:
    task = task_of(run)
    chance = task.chance_accuracy
    acc = _curve(run, "val_acc") or _curve(run, "train_acc")
    if chance is None or acc is None or len(acc) < p["min_points"]:
        return
    end = acc.level_end(p["tail_fraction"])
    found = end <= p["ratio"] * chance
    yield log_fact(
        "accuracy_below_chance", bool(found),
        f"{acc.tag} ends at {num(end)}, well below chance 1/C = {chance:.3g}: the model is pushed "
        f"away from the labels{task.note()}" if found else
        f"{acc.tag} ends at {num(end)}, not below chance {chance:.3g}",
        acc.tag, certainty=task.sure(0.8) if found else 1.0)
