"""What the run is learning: regression, or classification with C classes.

The class count comes from the run's configuration when it says so; otherwise it is inferred
from the curves: a softmax classifier that knows nothing has loss ln C and accuracy 1/C, so an
initial (or flat) loss ≈ ln C *together with* an accuracy ≈ 1/C names C. A loss alone never
does (any positive number is ln C for some C). Inferred facts carry a lower certainty and say
"inferred" in their evidence. Regression is recognised by an MAE/MSE/R² metric, or by a loss
named like MSE when no accuracy is logged.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from nndoctor.adapters.run import Run, Series
from nndoctor.adapters.symptoms.base import Curve, Params, detector, log_fact, num
from nndoctor.engine.facts import Fact
from nndoctor.lazy_re import regex

_TOKENS = regex(r"[/.\-\s_()]+")
REGRESSION_METRICS = {"mae", "mse", "rmse", "r2", "mape", "smape", "msle", "rmsle", "r2_score",
                      "mean_absolute_error", "mean_squared_error", "root_mean_squared_error",
                      "mean_absolute_percentage_error", "explained_variance"}
REGRESSION_LOSSES = {"mse", "mae", "l1", "l2", "huber", "smooth_l1", "smoothl1", "rmse"}
COMMON_CLASSES = (2, 3, 4, 5, 10, 20, 100, 1000)  # preferred when several counts fit


class Task(NamedTuple):
    """The task as far as the run tells: kind, class count, and how it is known."""

    kind: str | None = None  # "regression" | "binary" | "multiclass" | None (unknown)
    classes: int | None = None
    inferred: bool = False
    evidence: str = ""
    certainty: float = 1.0
    vocabulary: int | None = None  # a causal LM's token count (its config's vocab_size)
    pretrained: str = ""  # why the run starts from pretrained weights ("" when not known)

    @property
    def chance_loss(self) -> float | None:
        """ln C, the loss of a softmax classifier that predicts uniformly."""
        return math.log(self.classes) if self.classes and self.classes >= 2 else None

    @property
    def chance_accuracy(self) -> float | None:
        return 1.0 / self.classes if self.classes and self.classes >= 2 else None

    @property
    def token_chance(self) -> float | None:
        """ln V, the loss of a causal LM that predicts every token uniformly (untrained)."""
        return math.log(self.vocabulary) if self.vocabulary else None

    def note(self) -> str:
        """Suffix for the evidence of facts that rest on an inferred class count."""
        return f" (C = {self.classes} inferred from the curves)" if self.inferred else ""

    def sure(self, certainty: float) -> float:
        """A fact's certainty, capped at the task's when the task is inferred."""
        return min(certainty, self.certainty) if self.inferred else certainty


def words(name: str) -> set[str]:
    lowered = name.strip().lower()
    tokens = {t for t in _TOKENS.split(lowered) if t}
    joined = {"_".join(tokens)} | {lowered.replace("/", "_")}
    return tokens | joined


def _from_context(run: Run) -> Task | None:
    classes = run.context.get("num_classes")
    try:
        c = int(classes)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if c >= 3:
        return Task("multiclass", c, False, f"num_classes = {c} in the run's configuration")
    if c == 2:
        return Task("binary", 2, False, "num_classes = 2 in the run's configuration")
    if c == 0:
        return Task("regression", None, False, "num_classes = 0 (regression) in the configuration")
    return None


def _regression(run: Run, has_acc: bool) -> str | None:
    for name, series in run.series.items():
        if name in ("train_loss", "val_loss", "lr", "grad_norm") or not len(series):
            continue
        hit = (words(name) | words(series.source_tag)) & REGRESSION_METRICS
        if hit and not name.startswith("nndoctor/"):
            return f"a regression metric is logged ({series.source_tag or name})"
    if has_acc:
        return None
    for tag in ("train_loss", "val_loss"):
        series = run.get(tag)
        if series is not None and words(series.source_tag) & REGRESSION_LOSSES:
            return f"the loss is named {series.source_tag!r} and no accuracy is logged"
    return None


def _first_finite(series: Series | None) -> float | None:
    if series is None:
        return None
    finite = series.values[np.isfinite(series.values)]
    return float(finite[0]) if finite.size else None


def _fit_classes(loss: float, acc: float, p: Params) -> tuple[int, float] | None:
    """The class count C for which loss ≈ ln C and accuracy ≈ 1/C, with the larger of the two
    misfits as a fraction of its tolerance (0 = exact, 1 = at the edge), or None."""
    if not (0.0 < acc <= p["max_chance_acc"]) or loss <= 0:
        return None
    guesses = {round(1 / acc), math.floor(1 / acc), math.ceil(1 / acc)}
    if loss < 700:
        guesses |= {round(math.exp(loss)), math.floor(math.exp(loss)), math.ceil(math.exp(loss))}
    fits = []
    for c in sorted(guesses | set(COMMON_CLASSES)):
        if not 2 <= c <= p["max_classes"]:
            continue
        loss_err = abs(loss - math.log(c)) / math.log(c) / p["loss_tolerance"]
        acc_err = abs(acc - 1 / c) / max(p["acc_abs"], p["acc_rel"] / c)
        if max(loss_err, acc_err) <= 1.0:
            fits.append((c not in COMMON_CLASSES, loss_err + acc_err, c, max(loss_err, acc_err)))
    return min(fits)[2:] if fits else None


def infer_task(run: Run, p: Params) -> Task:
    """The task from the configuration, else from metric names and the curves."""
    known = _from_context(run)
    if known is not None:
        return known
    acc_series = run.get("train_acc") or run.get("val_acc")
    has_acc = acc_series is not None and bool(np.isfinite(acc_series.values).any())
    why = _regression(run, has_acc)
    if why is not None:
        return Task("regression", None, True, f"regression inferred: {why}",
                    p["regression_certainty"])
    if not has_acc:
        return Task()
    for phase, lval, aval in _pairs(run, p):
        fit = _fit_classes(lval, aval, p)
        if fit is not None:
            c, misfit = fit
            kind = "binary" if c == 2 else "multiclass"
            text = (f"classification with C = {c} inferred: the {phase} loss {num(lval)} ≈ "
                    f"ln {c} = {math.log(c):.3f} and the accuracy {num(aval)} ≈ 1/{c}")
            low, exact = p["inferred_certainty"], p["inferred_certainty_exact"]
            return Task(kind, c, True, text, round(exact - (exact - low) * misfit, 3))
    return Task()


def _pairs(run: Run, p: Params) -> Iterator[tuple[str, float, float]]:
    """(phase, loss, accuracy) pairs measured together: the first points and the flat ends of
    the same split's loss and accuracy, then a flat loss with a flat accuracy of the other
    split (a first evaluation may come long after the first training step)."""
    flats = {}
    for role in ("train", "val"):
        loss, acc = run.get(f"{role}_loss"), run.get(f"{role}_acc")
        first_loss, first_acc = _first_finite(loss), _first_finite(acc)
        if first_loss is not None and first_acc is not None:
            yield "first", first_loss, first_acc
        # (named as the detectors name them: the same curves, made once per run)
        curve, acc_curve = Curve.of(loss, f"{role}_loss"), Curve.of(acc, f"{role}_acc")
        if curve is not None and len(curve) >= 4:
            start, end = curve.level_start(), curve.level_end()
            if abs(end - start) <= p["flat_change"] * max(abs(start), 1e-12):
                flats[f"{role}_loss"] = end
        if acc_curve is not None and len(acc_curve) >= 2:
            flats[f"{role}_acc"] = acc_curve.level_end()
    for loss_key, acc_key in (("train_loss", "train_acc"), ("val_loss", "val_acc"),
                              ("train_loss", "val_acc"), ("val_loss", "train_acc")):
        if loss_key in flats and acc_key in flats:
            yield "flat", flats[loss_key], flats[acc_key]


def task_of(run: Run) -> Task:
    """The task computed once per run by :func:`annotate` (from the configuration if not)."""
    task = run.context.get("_task")
    return task if isinstance(task, Task) else (_from_context(run) or Task())


def annotate(run: Run, p: Params) -> Run:
    """The run with its task in context["_task"], for every detector to read."""
    task = infer_task(run, p)
    vocabulary = run.context.get("vocab_size") if run.context.get("causal_lm") is True else None
    task = task._replace(vocabulary=vocabulary if isinstance(vocabulary, int) else None)
    task = task._replace(pretrained=_pretrained(run, task, p))
    return run.with_context({**run.context, "_task": task})


def _pretrained(run: Run, task: Task, p: Params) -> str:
    """Why the run starts from pretrained weights: its configuration names a checkpoint, or a
    causal LM's first loss is already far below ln V (an untrained one starts at ln V; a loss
    near 0 says nothing about the start, it is a label bug). "" when neither tells."""
    name = run.context.get("pretrained_model")
    if isinstance(name, str) and name:
        return f"the configuration names the checkpoint {name!r} it starts from"
    chance, loss = task.token_chance, run.get("train_loss")
    if chance is None or loss is None or run.context.get("step_unit") == "epoch":
        return ""  # a point per epoch is an average over a whole epoch of training
    finite = np.isfinite(loss.values).nonzero()[0]
    if not finite.size or loss.steps[finite[0]] > p["pretrained_max_step"]:
        return ""
    first, step = float(loss.values[finite[0]]), int(loss.steps[finite[0]])
    share = first / chance
    if not p["pretrained_floor"] <= share <= p["pretrained_start"]:
        return ""
    return (f"the first train_loss {num(first)} at step {step} is already {share:.2f} × "
            f"ln V = {chance:.3f} (vocab_size {task.vocabulary}); an untrained causal LM "
            "starts at ln V")


@detector("task", produces=("task_type", "num_classes"))
def task(run: Run, p: Params) -> Iterator[Fact]:
    found = task_of(run)
    if found.kind is None and run.context.get("causal_lm") is True:
        vocabulary = f" (vocab_size {found.vocabulary})" if found.vocabulary else ""
        yield log_fact("task_type", "multiclass", "a causal language model predicts one token "
                       f"out of its vocabulary{vocabulary}: one class out of several", "config")
        return
    if found.kind is None:
        return  # an unknown task is no evidence
    if not found.inferred:  # the class count itself comes from run_context
        yield log_fact("task_type", found.kind, found.evidence, "config")
        return
    yield log_fact("task_type", found.kind, found.evidence, "train_loss, accuracy",
                   certainty=found.certainty)
    if found.classes:
        yield log_fact("num_classes", float(found.classes), found.evidence,
                       "train_loss, accuracy", certainty=found.certainty)
    elif found.kind == "regression":
        yield log_fact("num_classes", 0.0, found.evidence, "metric names",
                       certainty=found.certainty)
