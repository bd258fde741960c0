"""The logged configuration as evidence: the learning rate against the usual range of its
optimiser, the number of batches per epoch (batch size against the training-set size), and the
training samples per class."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms.base import Params, detector, log_fact, num
from nndoctor.adapters.symptoms.context import _number, optimizer_family
from nndoctor.adapters.symptoms.task import task_of
from nndoctor.engine.facts import Fact

FAMILIES = {"sgd": "sgd", "sgd_momentum": "sgd", "adam": "adam", "rmsprop": "rmsprop",
            "adagrad": "adagrad"}
TRAIN_SIZE_KEYS = ("train_samples", "num_train_samples", "n_train", "train_size",
                   "num_train_examples", "train_examples", "dataset_size", "num_samples")


def configured_size(ctx: Mapping[str, Any]) -> tuple[str, float] | None:
    """The first training-set size the configuration names (its key and value), if any."""
    for key in TRAIN_SIZE_KEYS:
        size = _number(ctx.get(key))
        if size and size > 0:
            return key, size
    return None


def steps_per_epoch(run: Run) -> tuple[float, str] | None:
    """Optimisation steps per epoch when the configuration tells, and how it is known."""
    ctx = run.context
    value = _number(ctx.get("steps_per_epoch"))
    if value and value > 0:
        return value, f"steps_per_epoch = {value:g}"
    max_steps, epochs = _number(ctx.get("max_steps")), _number(ctx.get("num_train_epochs"))
    if max_steps and epochs and max_steps > 0 and epochs > 0:
        return max_steps / epochs, f"max_steps {max_steps:g} / num_train_epochs {epochs:g}"
    batch, sized = _number(ctx.get("batch_size")), configured_size(ctx)
    if sized and batch and batch > 0:
        key, size = sized
        return float(np.ceil(size / batch)), f"{key} {size:g} / batch_size {batch:g}"
    return None


def optimizer_steps(run: Run, step: int) -> float | None:
    """The optimisation steps done by a point logged at ``step``: the step itself, or on an
    epoch axis the epochs completed times the steps per epoch (None when those are unknown)."""
    if run.context.get("step_unit") != "epoch":
        return float(step)
    known = steps_per_epoch(run)
    base = run.context.get("epoch_base", 0)
    epochs = step + 1 - (base if isinstance(base, int) else 0)
    return float(round(epochs * known[0])) if known and epochs > 0 else None


def _peak_lr(run: Run) -> tuple[float, str] | None:
    series = run.get("lr")
    if series is not None and np.isfinite(series.values).any():
        peak = float(series.values[np.isfinite(series.values)].max())  # np.nanmax of the finite
        return peak, f"peak learning rate {num(peak)} in the log"
    value = _number(run.context.get("lr"))
    if value is not None:
        return value, f"lr = {value:g} in the hyper-parameters"
    return None


@detector("lr_range", produces=("lr_vs_optimizer_range",))
def lr_range(run: Run, p: Params) -> Iterator[Fact]:
    if run.context.get("_rl") or run.context.get("pretrained_model"):
        return  # fine-tunes (TRL's RL at ~1e-6, a pretrained model at 1e-5-1e-4) have their own
        # norm, judged by the fine-tuning rules; the from-scratch range is not theirs
    optimizer = str(run.context.get("optimizer", ""))
    family = FAMILIES.get(optimizer_family(optimizer)) if optimizer else None
    lr = _peak_lr(run)
    if lr is None or lr[0] <= 0:
        return
    value, where = lr
    if family is None:  # optimizer not logged: only a rate far above every optimizer's range
        yield from _unknown_optimizer(value, where, p)
        return
    far_low, low, high, far_high = (p[f"{family}_{k}"] for k in ("far_low", "low", "high",
                                                                 "far_high"))
    verdict = ("far_below" if value < far_low else "below" if value < low else
               "far_above" if value >= far_high else "above" if value > high else "typical")
    yield log_fact("lr_vs_optimizer_range", verdict,
                   f"{where} for {run.context.get('optimizer')}: the usual range for training "
                   f"{family} from scratch is {low:g}-{high:g} (far outside below {far_low:g}, or "
                   f"from {far_high:g} up)", "lr, optimizer")


def _unknown_optimizer(value: float, where: str, p: Params) -> Iterator[Fact]:
    """Without the optimizer, a rate above every family's far bound is far above for certain;
    one above the adaptive optimizers' far bound is far above for Adam/AdamW, the usual choice,
    with the lower certainty of that assumption; one inside every family's usual range is
    typical whichever it is. Anything else stays unjudged."""
    families = sorted(set(FAMILIES.values()))
    low, high = max(p[f"{f}_low"] for f in families), min(p[f"{f}_high"] for f in families)
    if low <= value <= high:
        yield log_fact("lr_vs_optimizer_range", "typical",
                       f"{where}, optimizer not logged: inside the usual range of every optimizer "
                       f"({low:g}-{high:g} is typical for SGD, Adam/AdamW, RMSprop and Adagrad)",
                       "lr")
    elif value > max(p[f"{f}_far_high"] for f in families):
        yield log_fact("lr_vs_optimizer_range", "far_above",
                       f"{where}: above the far bound of every optimizer's usual range",
                       "lr")
    elif value > p["adam_far_high"]:  # 0.1 itself is SGD's classic default: not judged
        yield log_fact("lr_vs_optimizer_range", "far_above",
                       f"{where}, optimizer not logged: far above Adam/AdamW's usual range "
                       f"(above {p['adam_far_high']:g}), typical only for SGD", "lr",
                       certainty=p["unknown_optimizer_certainty"])


@detector("batch_vs_data", produces=("batches_per_epoch",))
def batch_vs_data(run: Run, p: Params) -> Iterator[Fact]:
    known = steps_per_epoch(run)
    if known is None or known[0] <= 0:
        return
    value, how = known
    yield log_fact("batches_per_epoch", float(value),
                   f"{num(value)} optimisation steps per epoch ({how})", "hparams")


def training_samples(run: Run) -> tuple[float, str, bool] | None:
    """The training-set size, how it is known, and whether it is exact (a configured size) or a
    lower bound (optimisation steps per epoch × batch size × accumulation: the processes of a
    distributed run each see their own share)."""
    ctx = run.context
    sized = configured_size(ctx)
    if sized:
        key, size = sized
        return size, f"{key} = {size:g}", True
    known, batch = steps_per_epoch(run), _number(ctx.get("batch_size"))
    if known is None or known[0] <= 0 or not batch or batch <= 0:
        return None
    accumulation = _number(ctx.get("grad_accumulation_steps")) or 1.0
    size = known[0] * batch * max(accumulation, 1.0)
    how = f"{num(known[0])} steps per epoch ({known[1]}) × batch_size {batch:g}"
    if accumulation > 1:
        how += f" × {accumulation:g} accumulation steps"
    return size, how, False


@detector("training_set_size", produces=("samples_per_class",))
def training_set_size(run: Run, p: Params) -> Iterator[Fact]:
    found, task = training_samples(run), task_of(run)
    if found is None:
        return
    size, how, exact = found
    sure = 1.0 if exact else p["lower_bound_certainty"]
    bound = "" if exact else "at least "
    if task.kind == "regression":
        share, per = size / p["regression_share"], f"/ {p['regression_share']:g} for a regression"
    elif task.classes:
        share, per = size / task.classes, f"/ {task.classes} classes"
    elif _classifier(run) and size / 2 < p["few_for_any_count"]:
        # the class count unknown: with at least 2 classes there are at most size / 2 a class,
        # which settles "few" whatever the count (and nothing else, so only then is it said);
        # a size from steps × batch is exact for one process, so this is as sure as that size
        yield log_fact("samples_per_class", round(size / 2, 1),
                       f"{bound}{num(size)} training samples ({how}) over at least 2 classes: "
                       f"about {num(size / 2)} a class or fewer", "hparams", sure)
        return
    else:
        return
    text = f"{bound}{num(size)} training samples ({how}) {per}: {bound}{num(share)} a class"
    yield log_fact("samples_per_class", round(share, 1), text, "hparams", sure)


def _classifier(run: Run) -> bool:
    """An accuracy is logged: the run classifies, whatever its class count."""
    return run.get("train_acc") is not None or run.get("val_acc") is not None
