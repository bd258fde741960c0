"""The saved optimiser state as a probe (``readers/_optimizer_state.py``): parameters that
never received a gradient in the whole run (no state, or left out of the optimiser), weight
matrices whose gradient was exactly zero all along, and the gradient of the first hidden
layers against the last ones from Adam's second moments. A probe attached to the loop, when
there is one, speaks instead."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from nndoctor.adapters.layers import PROBE_PREFIX
from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms.base import Params, detector, log_fact
from nndoctor.engine.facts import Fact


@detector("optimizer_state", produces=("frozen_parameters", "weights_unchanged",
                                       "grad_ratio_first_last"))
def optimizer_state(run: Run, p: Params) -> Iterator[Fact]:
    ctx = run.context
    if "optimizer_params" not in ctx:
        return
    where = Path(str(ctx.get("optimizer_file", "the saved optimiser")))
    where_text = f"the optimiser state saved in {where.parent.name}/{where.name}"
    if not _probed(run, "frozen"):
        yield from _frozen(ctx, where_text, p)
    if not _probed(run, "grad_norm"):
        yield from _gradient_flow(ctx, where_text)


def _probed(run: Run, quantity: str) -> bool:
    return any(n.startswith(f"{PROBE_PREFIX}{quantity}/") for n in run.series)


def _frozen(ctx: dict[str, Any], where: str, p: Params) -> Iterator[Fact]:
    listed, stateless = ctx["optimizer_params"], ctx.get("optimizer_stateless", 0)
    share = ctx.get("optimizer_stateless_share")
    model_share = ctx.get("optimizer_model_share")
    # freezing part of a pretrained model is often deliberate; from scratch it rarely is
    sure = p["finetune_certainty"] if ctx.get("pretrained_model") else 1.0
    if stateless and share is not None and share >= p["min_share"]:
        yield log_fact("frozen_parameters", True,
                       f"{stateless} of the {listed} parameter tensors the optimiser holds "
                       f"({share:.0%} of their values) never received a gradient: {where} has no "
                       "state for them (requires_grad off, a detach() or no_grad before them, or "
                       "a module the forward pass does not use)", "optimiser state", sure)
    elif model_share is not None and model_share <= p["frozen_model_share"]:
        yield log_fact("frozen_parameters", True,
                       f"the optimiser updates only {model_share:.0%} of the model's values "
                       f"({where}): the rest were left out of it, frozen", "optimiser state",
                       sure)
    elif not stateless and model_share is not None and model_share >= p["whole_model_share"]:
        yield log_fact("frozen_parameters", False,
                       f"every one of the {listed} parameter tensors received gradients ({where} "
                       f"holds state for each, {model_share:.0%} of the model's values)",
                       "optimiser state")


def _gradient_flow(ctx: dict[str, Any], where: str) -> Iterator[Fact]:
    moments = ctx.get("optimizer_second_moments") or ()
    if len(moments) < 2:
        return
    norms = [np.sqrt(mean * float(np.prod(shape))) for _index, shape, mean in moments]
    if not any(norms):
        yield log_fact("weights_unchanged", True,
                       f"none of the {len(norms)} weight matrices ever had a gradient: their "
                       f"second moments in {where} are exactly 0, so no gradient reached any "
                       "of them in the whole run", "optimiser state")
        return
    hidden = norms[:-1]  # not the output layer: a fine-tune's fresh head takes most at first
    if len(hidden) < 2:
        return  # one hidden layer: nothing for a gradient to fade through
    # the median over the first and the last third of the hidden matrices: one matrix alone can
    # be small by its role (attention's query and key projections get little gradient)
    k = max(1, len(hidden) // 3)
    first, last = float(np.median(hidden[:k])), float(np.median(hidden[-k:]))
    if last <= 0:
        return
    ratio = first / last
    span = "matrix" if k == 1 else f"{k} matrices (median)"
    yield log_fact("grad_ratio_first_last", ratio,
                   f"over the run, the gradient norm of the first hidden {span} is {ratio:.3g}× "
                   f"that of the last hidden {span} (√ of the summed second moments in {where}; "
                   f"the first is {_shape(moments[0][1])}, the output layer left out)",
                   "optimiser state")


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))
