"""Fine-tuning and large-model training signatures (issue 17), read off what HF/Lightning log.

The setup (pretrained checkpoint, precision, gradient accumulation) comes from the run's
configuration (readers/_setup.py); the rest from the curves: learning-rate schedules that do not
fit the run, a loss that collapses to ~0 in a few steps, a training loss at a whole multiple of
the validation loss, a training loss that drops in steps at epoch boundaries, and several
evaluation sets moving apart. Loss spikes and float16 overflow are in spikes.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nndoctor.adapters.run import Run, Series
from nndoctor.adapters.symptoms.base import (
    Curve,
    Params,
    detector,
    graded,
    log_fact,
    median,
    num,
    pct,
    quantile,
)
from nndoctor.adapters.symptoms.context import _number
from nndoctor.adapters.symptoms.task import task_of
from nndoctor.engine.facts import Fact
from nndoctor.lazy_re import regex

# HF eval_<set>_loss (eval/<set>_loss in TensorBoard); Lightning val_loss/dataloader_idx_<k>
_EVAL_SET = regex(r"^(?:eval|val|validation)(?:[_/]([a-z0-9][a-z0-9_\-]*?)[_/]loss"
                       r"|[_/]loss/(dataloader_idx_\d+))$")
# Hugging Face model types that are not transformers (every other model_type is one)



# ------------------------------------------------------------------------------ setup


@detector("finetune_setup", produces=("pretrained_model", "mixed_precision",
                                      "grad_accumulation_steps", "causal_lm",
                                      "stopped_before_planned_end"))
def finetune_setup(run: Run, p: Params) -> Iterator[Fact]:
    ctx = run.context
    planned, done, unit = _number(ctx.get("max_steps")), _number(ctx.get("global_step")), "step"
    if planned is None or done is None:  # else the epochs the configuration plans (max_epochs)
        planned, done, unit = _number(ctx.get("epochs")), _number(ctx.get("epochs_reached")), \
            "epoch"
    if planned is not None and planned > 0 and done is not None and done > 0:
        stopped = done < p["planned_share"] * planned
        key = "max_steps" if unit == "step" else "the configured epochs"
        yield log_fact("stopped_before_planned_end", bool(stopped),
                       f"training stopped at {unit} {done:g} of the {planned:g} its schedule "
                       f"planned ({key})" if stopped else
                       f"training ran {done:g} of {planned:g} planned {unit}s", "config")
    name, start = ctx.get("pretrained_model"), task_of(run).pretrained
    if isinstance(name, str) and name:
        yield log_fact("pretrained_model", True, start, "config")
    elif start:
        yield log_fact("pretrained_model", True, start, "train_loss, first point", certainty=0.8)
    precision = ctx.get("precision")
    if precision in ("fp16", "bf16", "fp32"):
        yield log_fact("mixed_precision", precision,
                       f"the configuration sets {precision} training", "config")
    steps = ctx.get("grad_accumulation_steps")
    if isinstance(steps, int) and steps >= 1:
        yield log_fact("grad_accumulation_steps", float(steps),
                       f"gradient_accumulation_steps = {steps} in the configuration", "config")
    causal = ctx.get("causal_lm")
    if isinstance(causal, bool):
        kind = ctx.get("model_type") or "the model"
        yield log_fact("causal_lm", causal,
                       f"{kind} is {'a' if causal else 'not a'} causal language model "
                       "(architectures in its config)", "config")


# ------------------------------------------------------------------------------ LR schedule


@detector("lr_schedule_fit", produces=("warmup_fraction", "lr_still_rising_at_end",
                                       "lr_schedule_ends_early", "lr_never_decays"))
def lr_schedule_fit(run: Run, p: Params) -> Iterator[Fact]:
    """Whether the logged schedule fits the run: the warm-up's share of the run, a warm-up that
    never ends, a schedule that reaches exactly 0 and stays there (its horizon shorter than the
    run: max_steps vs epochs), a rate that never decays."""
    lr = Curve.of(run.get("lr"), "lr")
    if lr is None or len(lr) < p["min_points"]:
        return
    values, steps = lr.values, lr.steps
    peak = float(values.max())
    if peak <= 0:
        return
    first_peak = int((values >= (1 - p["peak_tolerance"]) * peak).nonzero()[0][0])
    length = max(int(steps[-1] - steps[0]), 1)
    warm = values[0] <= p["warmup_start"] * peak and first_peak > 0
    share = (int(steps[first_peak] - steps[0]) / length) if warm else 0.0
    yield log_fact("warmup_fraction", round(share, 4),
                   f"lr rises from {num(float(values[0]))} to its peak {num(peak)} by step "
                   f"{int(steps[first_peak])}: {pct(share)} of the logged run"
                   if warm else f"lr starts at {num(float(values[0]))}, no warm-up",
                   f"lr, {lr.span()}")
    tail = values[-max(2, int(len(lr) * p["tail_fraction"])):]
    rising = bool(warm and share >= p["rising_share"] and (np.diff(tail) >= 0).all()
                  and tail[-1] > tail[0])
    yield log_fact("lr_still_rising_at_end", rising,
                   f"lr is still rising at the last logged step {int(steps[-1])} ({num(peak)}, "
                   f"warming up for {pct(share)} of the run): the warm-up is longer than the run"
                   if rising else f"lr peaks at step {int(steps[first_peak])} of "
                   f"{int(steps[-1])}", f"lr, {lr.span()}")
    zero = (values[first_peak:] <= 0.0).nonzero()[0] + first_peak  # exactly 0: the horizon
    ends = False
    if zero.size and (values[zero[0]:] <= 0.0).all():
        held = int(steps[-1] - steps[zero[0]]) / length
        ends = held >= p["zero_share"]
        yield log_fact("lr_schedule_ends_early", bool(ends),
                       f"lr reached 0 at step {int(steps[zero[0]])} and stayed 0 for the last "
                       f"{pct(held)} of the run: the schedule's horizon is shorter than the "
                       "training" if ends else f"lr reaches 0 at step {int(steps[zero[0]])}, "
                       "the end of its schedule", f"lr, {lr.span()}")
    else:
        yield log_fact("lr_schedule_ends_early", False,
                       f"lr ends at {num(float(values[-1]))}, not 0", f"lr, {lr.span()}")
    after = values[first_peak:]
    flat = bool(after.min() >= p["decay_share"] * peak)  # within decay_share of the peak
    past_peak = int(steps[-1] - steps[first_peak]) / length  # the share of the run after it
    never = (flat and len(after) >= p["min_points"] and past_peak >= p["held_share"]
             and not rising)
    if never:
        text = (f"lr stays within {pct(1 - p['decay_share'])} of its peak {num(peak)} from "
                f"step {int(steps[first_peak])} to the end: no decay")
    elif not flat:
        text = f"lr falls to {num(float(after.min()))} after its peak {num(peak)}"
    else:
        text = (f"lr peaks at step {int(steps[first_peak])}, {pct(past_peak)} of the run "
                "before the end: too little of it left to tell whether it decays")
    yield log_fact("lr_never_decays", never, text, f"lr, {lr.span()}")


# ------------------------------------------------------------------------------ label leak


@detector("label_leak", produces=("loss_collapses_to_zero_fast", "loss_zero_from_start",
                                  "lm_loss_near_zero"))
def label_leak(run: Run, p: Params) -> Iterator[Fact]:
    """A loss that falls to ~0 (≤ ``zero_abs`` and ≤ ``zero_share`` of its start) within the
    first ``fast_share`` of the run and stays there (the labels are visible in the input), or
    that is exactly 0 from the first logged step (every label masked: HF's NaN filter logs 0.0)."""
    curve = Curve.of(run.get("train_loss"), "train_loss")
    if curve is None or len(curve) < p["min_points"]:
        return
    values = curve.values
    span = f"train_loss, {curve.span()}"
    head = values[: max(1, int(p["start_points"]))]
    yield log_fact("loss_zero_from_start", bool((head == 0.0).all()),
                   f"train_loss is exactly 0 at the first {head.size} logged steps"
                   if (head == 0.0).all() else f"train_loss starts at {num(float(values[0]))}",
                   span)
    start = median(head)
    if start <= p["min_start"]:
        return
    level = min(p["zero_abs"], p["zero_share"] * start)  # ~0 in absolute and relative terms
    low = (values <= level).nonzero()[0]
    k = int(low[0]) if low.size else len(values)
    at = (curve.steps[k] - curve.steps[0]) / max(int(curve.steps[-1] - curve.steps[0]), 1) \
        if k < len(values) else 1.0
    yield from _near_zero(run, curve, start, p)
    rest = values[k:]
    fast = bool(k < len(values) and at <= p["fast_share"] and median(rest) <= level)
    yield log_fact("loss_collapses_to_zero_fast", fast,
                   f"train_loss fell from {num(start)} to {num(float(values[k]))} by step "
                   f"{int(curve.steps[k])} ({pct(at)} of the run) and stayed near 0 (median "
                   f"{num(median(rest))} after)" if fast else
                   f"train_loss ends at {num(float(values[-1]))} from {num(start)}", span)


def _near_zero(run: Run, train: Curve, start: float, p: Params) -> Iterator[Fact]:
    """Training and held-out loss both ending ≤ ``near_zero`` nats: nothing left to predict."""
    val = Curve.of(run.get("val_loss"), "val_loss")
    if val is None or len(val) < 2:
        return
    end_train, end_val = train.level_end(), median(val.values[-2:])
    low = bool(end_train <= p["near_zero"] and end_val <= p["near_zero"])
    yield log_fact("lm_loss_near_zero", low,
                   f"train_loss ends at {num(end_train)} and val_loss at {num(end_val)} (from "
                   f"{num(start)}): ≤ {p['near_zero']:g} on held-out data too" if low else
                   f"train_loss ends at {num(end_train)}, val_loss at {num(end_val)}",
                   f"train_loss, val_loss, {train.span()}")


# ------------------------------------------------------------------------------ accumulation


@detector("accumulation_scale", produces=("train_loss_multiple_of_val",
                                          "loss_ratio_matches_accumulation",
                                          "initial_loss_matches_accumulation"))
def accumulation_scale(run: Run, p: Params) -> Iterator[Fact]:
    yield from _initial_multiple(run, p)
    yield from _eval_multiple(run, p)


def _initial_multiple(run: Run, p: Params) -> Iterator[Fact]:
    """With k ≥ 2 accumulation steps configured, a first training loss (logged by
    ``initial_max_step``) of k × ln C: an untrained classifier head starts at ln C, so a loss
    summed over the k micro-batches instead of averaged starts at k times that."""
    steps = _number(run.context.get("grad_accumulation_steps"))
    chance = task_of(run).chance_loss
    train = Curve.of(run.get("train_loss"), "train_loss")
    if steps is None or steps < 2 or chance is None or train is None or not len(train) \
            or train.steps[0] > p["initial_max_step"]:
        return
    first, step = float(train.values[0]), int(train.steps[0])
    ratio = first / chance
    matches = abs(ratio - steps) <= p["whole_tolerance"] * steps
    yield log_fact("initial_loss_matches_accumulation", bool(matches),
                   f"the first train_loss {num(first)} at step {step} is {ratio:.2f}× ln C = "
                   f"{chance:.3f} {'≈' if matches else '≠'} gradient_accumulation_steps = "
                   f"{steps:g}{task_of(run).note()}", f"train_loss, step {step}",
                   certainty=task_of(run).sure(1.0))


def _eval_multiple(run: Run, p: Params) -> Iterator[Fact]:
    """The training loss over the validation loss at each evaluation (train = median of its
    last points up to the evaluation, since the previous one): a stable ratio near a whole
    number ≥ 2 from the first evaluation on is a loss summed over accumulation steps instead of
    averaged. Judged from ``min_val_points`` evaluations; with the accumulation steps known, a
    ratio equal to them is judged from ``min_match_points``."""
    train, val = Curve.of(run.get("train_loss"), "train_loss"), Curve.of(run.get("val_loss"),
                                                                         "val_loss")
    if train is None or val is None or len(train) < 2:
        return
    ratios, points = [], int(p["train_points"])
    since = [-np.inf, *val.steps.tolist()][:len(val)]  # each evaluation's train points: since
    # the one before
    for near, v in zip(train.within(since, val.steps), val.values.tolist(), strict=True):
        if near.size and v > 0:
            ratios.append(median(near[-points:]) / v)
    if len(ratios) < min(p["min_val_points"], p["min_match_points"]):
        return
    ratio = np.asarray(ratios)
    middle = median(ratio)
    spread = (quantile(ratio, 0.9) - quantile(ratio, 0.1)) / max(middle, 1e-12)
    whole = round(middle)

    def steady(k: float) -> bool:  # ratio ≈ k at the first evaluation and throughout
        tol = p["whole_tolerance"] * k
        return bool(abs(middle - k) <= tol and abs(ratio[0] - k) <= tol
                    and spread <= p["max_spread"])

    span = f"train_loss / val_loss at {len(ratio)} evaluations, steps {int(val.steps[0])}-" \
           f"{int(val.steps[-1])}"
    if len(ratio) >= p["min_val_points"]:
        multiple = whole >= 2 and steady(whole)
        yield log_fact("train_loss_multiple_of_val", multiple,
                       f"train_loss stays {middle:.2f}× ≈ {whole}× the validation loss from the "
                       f"first evaluation on (spread ±{pct(spread / 2)}): a loss summed over "
                       f"{whole} steps" if multiple else f"train_loss / val_loss is {middle:.2f} "
                       f"(first {ratio[0]:.2f}, spread ±{pct(spread / 2)}): not a steady whole "
                       "multiple", span)
    steps = _number(run.context.get("grad_accumulation_steps"))  # configured, or answered
    if steps is not None and steps >= 2 and len(ratio) >= p["min_match_points"]:
        matches = steady(steps)
        yield log_fact("loss_ratio_matches_accumulation", matches,
                       f"train_loss / val_loss = {middle:.2f} at {len(ratio)} evaluations (first "
                       f"{ratio[0]:.2f}) {'≈' if matches else '≠'} gradient_accumulation_steps "
                       f"= {steps:g}", span)


# ------------------------------------------------------------------------------ epochs


def _steps_per_epoch(run: Run) -> int | None:
    spe = run.context.get("steps_per_epoch")
    return spe if isinstance(spe, int) and spe > 0 else None


@detector("epoch_memorisation", produces=("epoch_step_drops", "val_min_at_first_epoch"))
def epoch_memorisation(run: Run, p: Params) -> Iterator[Fact]:
    """Multi-epoch memorisation: the training loss drops in a step at each epoch boundary (the
    examples are seen again) while it stays level within the epochs; the validation minimum at
    about the end of the first epoch."""
    spe = _steps_per_epoch(run)
    train = Curve.of(run.get("train_loss"), "train_loss")
    if spe is None or train is None or len(train) < p["min_points"]:
        return
    epochs = int(train.steps[-1] // spe)
    if epochs < p["min_epochs"]:
        return
    yield from _val_minimum(run, spe, epochs, p)
    edge = p["edge_share"]
    drops, within = [], []
    bounds = [e * spe for e in range(1, epochs)]
    windows = zip(train.within([b - edge * spe for b in bounds], bounds),
                  train.within(bounds, [b + edge * spe for b in bounds]),
                  train.within([b - spe for b in bounds], [b - (1 - edge) * spe for b in bounds]),
                  strict=True)
    for prev, nxt, inside in windows:
        if min(prev.size, nxt.size, inside.size) < p["edge_points"]:
            continue
        before, earlier = median(prev), median(inside)
        if before <= 0 or earlier <= 0:
            continue
        drops.append(1 - median(nxt) / before)
        within.append(1 - before / earlier)
    if len(drops) < p["min_boundaries"]:
        return
    drop, inner = np.asarray(drops), np.asarray(within)
    stepped = (drop >= p["min_drop"]) & (drop >= p["contrast"] * np.maximum(inner, 0)) \
        & (inner >= -p["max_rise_within"])  # level within the epoch, not a sawtooth
    found = bool(stepped.sum() >= p["min_boundaries"] and stepped.mean() >= p["boundary_share"])
    span = f"train_loss, {train.span()} ({spe} steps per epoch)"
    yield log_fact("epoch_step_drops", found,
                   f"train_loss drops {pct(median(drop[stepped]))} (median) at "
                   f"{int(stepped.sum())} of {len(drop)} epoch boundaries while it falls "
                   f"{pct(median(inner[stepped]))} within the epochs: the model "
                   "memorises the examples it sees again" if found else
                   f"train_loss changes {pct(median(drop))} at epoch boundaries vs "
                   f"{pct(median(inner))} within epochs: no step pattern", span,
                   certainty=graded(median(drop[stepped]), p["min_drop"],
                                    p["strong_drop"]) if found else 1.0)


def _val_minimum(run: Run, spe: int, epochs: int, p: Params) -> Iterator[Fact]:
    val = Curve.of(run.get("val_loss"), "val_loss")
    if val is None or len(val) < p["min_val_points"]:
        return
    k = int(val.values.argmin())
    at_epoch = float(val.steps[k]) / spe
    best, last = float(val.values[k]), median(val.values[-2:])
    rise = (last - best) / max(abs(best), 1e-12)
    early = bool(at_epoch <= p["first_epoch_by"] and rise >= p["val_rise"] and k < len(val) - 1)
    yield log_fact("val_min_at_first_epoch", early,
                   f"val_loss is lowest ({num(best)}) at epoch {at_epoch:.2f} of {epochs} and "
                   f"ends {pct(rise)} above it" if early else
                   f"val_loss is lowest at epoch {at_epoch:.2f} of {epochs} (ends {rise:+.0%} "
                   "from it)", f"val_loss, {val.span()}",
                   certainty=graded(rise, p["val_rise"], p["val_rise_strong"]) if early else 1.0)


# ------------------------------------------------------------------------------ eval sets


def eval_sets(run: Run) -> dict[str, Series]:
    """Validation series per named evaluation set (HF ``eval_<set>_loss`` with a dict of
    eval datasets, ``eval/<set>_loss`` in TensorBoard, Lightning's
    ``val_loss/dataloader_idx_<k>`` with several val dataloaders), one per set name."""
    found: dict[str, Series] = {}
    for name, series in run.series.items():
        tag = (series.source_tag or name).strip().lower() if name == "val_loss" else name
        m = _EVAL_SET.match(tag)
        key = m and (m.group(1) or m.group(2))
        if key and len(series) and key not in found:
            found[key] = series
    return found


@detector("eval_sets", produces=("eval_sets_diverge",))
def eval_set_divergence(run: Run, p: Params) -> Iterator[Fact]:
    """Two evaluation sets moving apart: one loss rises ≥ ``rise`` from its first evaluation
    (never improving by more than ``improve_max`` on the way) while another falls ≥ ``fall`` -
    the original task forgotten while the new one is learned."""
    sets = eval_sets(run)
    if len(sets) < 2:
        return
    moves = {}
    for name, series in sets.items():
        curve = Curve.of(series, name)
        if curve is None or len(curve) < p["min_val_points"]:
            continue
        start, end = float(curve.values[0]), median(curve.values[-2:])
        best = float(curve.values.min())
        scale = max(abs(start), 1e-12)
        moves[name] = ((end - start) / scale, (start - best) / scale, start, end,
                       int(curve.steps[-1]))
    if len(moves) < 2:
        return
    worse = max(moves, key=lambda k: moves[k][0])
    better = min(moves, key=lambda k: moves[k][0])
    up, dip = moves[worse][0], moves[worse][1]
    down = -moves[better][0]
    diverge = bool(up >= p["rise"] and dip <= p["improve_max"] and down >= p["fall"])
    yield log_fact("eval_sets_diverge", diverge,
                   f"eval set {worse!r} loss rose {pct(up)} ({num(moves[worse][2])} → "
                   f"{num(moves[worse][3])}) from its first evaluation while {better!r} fell "
                   f"{pct(down)} ({num(moves[better][2])} → {num(moves[better][3])})"
                   if diverge else f"eval sets {', '.join(sorted(moves))}: {worse!r} changed "
                   f"{up:+.0%}, {better!r} {-down:+.0%}", "eval sets",
                   certainty=graded(min(up / p["rise"], down / p["fall"]), 1.0,
                                    p["strong_factor"]) if diverge else 1.0)
