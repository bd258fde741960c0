"""Saved weights as a probe: weight matrices that did not change between the last two
checkpoints while others did, and while the learning rate was large enough to change them
(frozen); the saved model's scale (std × √fan_in, what an initialisation sets) and units that
are all identical (symmetry never broken), and its narrowest hidden layer. Read beside any log
(``readers/_checkpoints.py``, the checkpoint comparison for Hugging Face's output directory); a
probe attached to the loop, when there is one, speaks instead; so does the optimiser's saved state
of a single saved model (it knows which parameters had gradients, not a guess from the init).

A model none of whose weights changed is not called frozen: a network that passes no gradient
(every unit of a ReLU layer dead), an optimiser that holds no parameters, a learning rate at 0
explain that as well; it is reported as weights_unchanged for the rules to weigh."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from nndoctor.adapters.layers import PROBE_PREFIX
from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms.base import Params, detector, log_fact, median, num
from nndoctor.engine.facts import Fact


@detector("checkpoints", produces=("frozen_parameters", "weights_unchanged", "symmetric_units",
                                   "weights_scale", "narrowest_hidden_layer"))
def checkpoints(run: Run, p: Params) -> Iterator[Fact]:
    yield from _saved_model(run)
    yield from _frozen(run, p)


def _saved_model(run: Run) -> Iterator[Fact]:
    scale = run.context.get("weights_scale")
    if not scale:
        return
    where = _where(run)
    values = [v for _name, v in scale]
    name, largest = max(scale, key=lambda nv: nv[1])
    yield log_fact("weights_scale", median(values),
                   f"the saved weights ({where}) have std × √fan_in {num(median(values))} "
                   f"(median of {len(values)} weight matrices; largest {num(largest)}, {name}); "
                   "an initialisation sets about 0.6-1.4", "saved weights")
    widths = tuple(run.context.get("weights_widths", ()))
    if widths:
        yield log_fact("narrowest_hidden_layer", float(widths[0]),
                       f"the saved model's hidden layers have {', '.join(map(str, widths))} units "
                       "(output sizes another layer takes as its input)", "saved weights")
    if any(n.startswith(f"{PROBE_PREFIX}symmetric_units/") for n in run.series):
        return
    same = tuple(run.context.get("weights_symmetric", ()))
    yield log_fact("symmetric_units", bool(same),
                   f"every sampled unit (row) of {_names(same)} of {len(values)} weight "
                   "matrices is identical in the saved model" if same else
                   f"the units of all {len(values)} weight matrices differ in the saved model",
                   "saved weights")


def _frozen(run: Run, p: Params) -> Iterator[Fact]:
    ctx = run.context
    if any(n.startswith(f"{PROBE_PREFIX}frozen/") for n in run.series):
        return  # a probe in the loop saw each step
    steps, total = ctx.get("checkpoint_steps"), ctx.get("checkpoint_weights")
    if not steps or not total:
        if "optimizer_params" not in ctx:  # else the optimiser's state knows (optimizer_state)
            yield from _still_at_init(run, p)  # one saved model: compare it with its init
        return
    frozen = tuple(ctx.get("checkpoint_frozen", ()))
    where = f"between checkpoint-{steps[0]} and checkpoint-{steps[1]}"
    if frozen:
        lr = _smallest_lr(run, steps)
        if lr is None or lr <= p["resolution_margin"] * ctx.get("checkpoint_resolution", 0.0):
            return  # an update of about the learning rate could round away: not evidence
        if len(frozen) == total:
            yield log_fact("weights_unchanged", True,
                           f"{where}, none of the {total} weight matrices changed although the "
                           f"learning rate stayed at or above {num(lr)}", "checkpoints")
            return
    # freezing part of a pretrained model is often deliberate; from scratch it rarely is
    sure = p["finetune_certainty"] if frozen and ctx.get("pretrained_model") else 1.0
    yield log_fact("frozen_parameters", bool(frozen),
                   f"{where}, {_names(frozen)} of {total} weight matrices did not change while "
                   "the others did" if frozen else
                   f"every one of {total} weight matrices changed {where}",
                   "checkpoints", certainty=sure)


def _still_at_init(run: Run, p: Params) -> Iterator[Fact]:
    """Matrices of the saved model that are still exactly torch's default initialisation, while
    another matrix trained clearly away from its own: the first never changed. A matrix at its
    init holds its largest value just inside the bound b and the spread of a uniform; any update
    pushes some values past b. Models of which no matrix moved clearly (a tiny learning rate,
    few steps, a collapse) are not judged; neither are other initialisations."""
    fits = run.context.get("weights_init_fit") or ()
    at_init = [(name, size, edge) for name, size, edge, spread, beyond in fits
               if size >= p["init_min_values"] and beyond == 0.0
               and edge >= 1 - p["init_edge_values"] / size
               and abs(spread - 1) <= p["init_spread_tolerance"]]
    moved = [(name, beyond) for name, size, _edge, _spread, beyond in fits
             if size >= p["moved_min_values"] and beyond >= p["moved_share"]]
    if not at_init:
        return
    name, size, edge = at_init[0]
    if not any(beyond > 0 for *_, beyond in fits):
        yield log_fact("weights_unchanged", True,
                       f"in the saved model ({_where(run)}) no weight matrix moved from torch's "
                       f"default initialisation: none of the {len(fits)} has a value beyond its "
                       f"initial range ±b = ±1/√fan_in, and {_names(tuple(n for n, *_ in at_init))}"
                       f" are still uniform within it ({name}: the largest of {size} sampled "
                       f"weights at {edge:.3f} b)", "saved weights", certainty=p["init_certainty"])
        return
    if not moved:
        return
    other, share = max(moved, key=lambda nb: nb[1])
    names = tuple(n for n, _, _ in at_init)
    yield log_fact("frozen_parameters", True,
                   f"in the saved model ({_where(run)}) {_names(names)} of {len(fits)} weight "
                   f"matrices are still torch's default initialisation ({name}: {size} sampled "
                   f"weights spread uniformly within ±b = ±1/√fan_in, the largest at "
                   f"{edge:.3f} b) while {other} has {share:.0%} of its weights beyond its "
                   "initial range: those matrices never changed",
                   "saved weights", certainty=p["init_certainty"])


def _where(run: Run) -> str:
    return Path(str(run.context.get("weights_file", "the saved model"))).parent.name


def _smallest_lr(run: Run, steps: tuple[int, int]) -> float | None:
    """The smallest learning rate logged between the two checkpoints, None when not logged."""
    series = run.get("lr")
    if series is None:
        return None
    inside = (series.steps > steps[0]) & (series.steps <= steps[1]) & np.isfinite(series.values)
    return float(series.values[inside].min()) if inside.any() else None


def _names(names: tuple[str, ...]) -> str:
    shown = ", ".join(names[:4])
    return f"{len(names)} ({shown}{', …' if len(names) > 4 else ''})"
