"""Does the loss agree with the accuracy? High accuracy with a loss floor far above what that
accuracy implies, the known floors of a doubled squashing (softmax applied twice, a sigmoid fed
to a with-logits loss), and a validation loss on another scale than the training loss while
the validation accuracy is fine."""

from __future__ import annotations

import math
from collections.abc import Iterator

from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms.base import Curve, Params, detector, log_fact, num
from nndoctor.adapters.symptoms.task import task_of
from nndoctor.engine.facts import Fact

MAX_POINTS = 4000


def calibrated_loss(acc: float, classes: int) -> float:
    """Cross-entropy of a calibrated classifier that is right with probability ``acc`` and
    spreads the rest evenly over the other C-1 classes: what an accuracy implies."""
    a = min(max(acc, 1.0 / classes), 1 - 1e-12)
    return -a * math.log(a) - (1 - a) * math.log((1 - a) / (classes - 1))


def double_squash_floor(classes: int) -> float:
    """The lowest cross-entropy reachable when the logits are already probabilities:
    softmax over inputs in [0, 1] reaches at best e/(e + C - 1), so CE ≥ ln(1 + (C-1)/e).
    For C = 2 a sigmoid output fed to BCE-with-logits reaches it on the positive samples only
    (ln(1 + e^-1) ≈ 0.313; ln 2 on the negatives), so its floor lies between the two and a
    balanced set is caught by the inconsistency instead."""
    return math.log(1 + (classes - 1) / math.e)


def _pair(run: Run, role: str, p: Params) -> tuple[Curve, Curve] | None:
    loss = Curve.of(run.get(f"{role}_loss"), f"{role}_loss", MAX_POINTS)
    acc = Curve.of(run.get(f"{role}_acc"), f"{role}_acc", MAX_POINTS)
    if loss is None or acc is None or len(loss) < p["min_points"] \
            or len(acc) < p["min_acc_points"]:
        return None
    return loss, acc


@detector("loss_accuracy", produces=("loss_accuracy_inconsistent", "loss_floor_double_activation",
                                     "val_loss_scale_inconsistent"))
def loss_accuracy(run: Run, p: Params) -> Iterator[Fact]:
    task = task_of(run)
    pair = _pair(run, "train", p) or _pair(run, "val", p)
    if pair is not None and task.classes and task.classes >= 2:
        yield from _floor(pair[0], pair[1], task.classes, p, task.note(), task.sure(1.0))
    elif pair is not None and task.kind != "regression":
        yield from _floor_unknown_classes(pair[0], pair[1], p)
    yield from _val_scale(run, p)


def _floor_unknown_classes(loss: Curve, acc: Curve, p: Params) -> Iterator[Fact]:
    """The class count unknown: a cross-entropy classifier starts at about ln C (a worse start
    only raises it), so C <= e^(first loss) bounds the loss any accuracy implies from above.
    Only the inconsistency is judged; the doubled-squashing floor needs the exact count."""
    first = max(float(loss.values[0]), loss.level_start())  # the higher, the safer
    if not math.isfinite(first) or first <= 0:
        return
    bound = math.ceil(max(2.0, math.exp(min(first, p["max_log_classes"]))))
    end_acc = acc.level_end()
    floor = float(loss.smooth(max(3, len(loss) // 20)).min())
    implied = calibrated_loss(end_acc, bound)
    inconsistent = end_acc >= p["high_acc"] and floor >= p["ratio"] * implied + p["margin"]
    yield log_fact("loss_accuracy_inconsistent", bool(inconsistent),
                   f"{loss.tag} never gets below {num(floor)} while {acc.tag} reaches "
                   f"{num(end_acc)}; even with as many classes as its first loss {num(first)} "
                   f"allows (C <= {bound}) a calibrated model at that accuracy has loss "
                   f"{implied:.3f}", f"{loss.tag}, {acc.tag}", certainty=0.8)


def _floor(loss: Curve, acc: Curve, c: int, p: Params, note: str, sure: float) -> Iterator[Fact]:
    smooth = loss.smooth(max(3, len(loss) // 20))
    floor = float(smooth.min())
    end_acc = acc.level_end()
    span = f"{loss.tag}, {acc.tag}"
    implied = calibrated_loss(end_acc, c)
    inconsistent = end_acc >= p["high_acc"] and floor >= p["ratio"] * implied + p["margin"]
    yield log_fact("loss_accuracy_inconsistent", bool(inconsistent),
                   f"{loss.tag} never gets below {num(floor)} while {acc.tag} reaches "
                   f"{num(end_acc)}; a calibrated {c}-class model at that accuracy has loss "
                   f"{implied:.3f}{note}", span, certainty=sure * 0.9)
    bound = double_squash_floor(c)
    at_floor = end_acc >= p["floor_acc"] and \
        p["floor_low"] * bound <= floor <= p["floor_high"] * bound
    what = ("softmax applied twice, or a sigmoid output fed to BCE-with-logits"
            if c == 2 else "softmax applied twice (probabilities fed to a loss that applies "
            "softmax itself)")
    yield log_fact("loss_floor_double_activation", bool(at_floor),
                   f"{loss.tag} bottoms out at {num(floor)} ≈ ln(1 + (C-1)/e) = {bound:.3f}, the "
                   f"floor of {what}, while {acc.tag} reaches {num(end_acc)}{note}"
                   if at_floor else f"{loss.tag} bottoms out at {num(floor)}, not at the "
                   f"doubled-activation floor {bound:.3f} (with {acc.tag} {num(end_acc)})",
                   span, certainty=sure * 0.9)


def _val_scale(run: Run, p: Params) -> Iterator[Fact]:
    train = Curve.of(run.get("train_loss"), "train_loss", MAX_POINTS)
    val = Curve.of(run.get("val_loss"), "val_loss", MAX_POINTS)
    val_acc = Curve.of(run.get("val_acc"), "val_acc", MAX_POINTS)
    if train is None or val is None or val_acc is None or len(train) < p["min_points"] \
            or len(val) < p["min_val_points"] or len(val_acc) < p["min_acc_points"]:
        return
    t_end, t_start = train.level_end(), train.level_start()
    v_end, a_end = val.level_end(0.2), val_acc.level_end(0.2)
    task = task_of(run)
    reference = max(abs(t_start), task.chance_loss or 0.0, 1e-12)
    train_acc = Curve.of(run.get("train_acc"), "train_acc", MAX_POINTS)
    fine_bar = p["val_acc_fine"]
    if task.chance_accuracy is not None:
        fine_bar = max(fine_bar, task.chance_accuracy + 0.5 * (1 - task.chance_accuracy))
    fine = a_end >= fine_bar
    if train_acc is not None and len(train_acc):
        fine = fine and a_end >= train_acc.level_end() - p["val_acc_gap"]
    ratio = v_end / max(abs(t_end), 1e-12)
    off = (ratio >= p["val_ratio"] and v_end >= p["val_scale"] * reference and fine)
    yield log_fact("val_loss_scale_inconsistent", bool(off),
                   f"val_loss ends at {num(v_end)}, {ratio:.3g}× the final train_loss "
                   f"{num(t_end)} and {v_end / reference:.3g}× the initial loss scale "
                   f"{num(reference)}, while val_acc is {num(a_end)}",
                   "train_loss, val_loss, val_acc", certainty=0.9)
