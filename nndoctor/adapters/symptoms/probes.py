"""Signals written by nndoctor's training probes (tag scheme in docs/probes.md)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms.base import Params, detector, log_fact, num
from nndoctor.engine.facts import Fact

# probe series name -> (fact, how to summarise the layers, threshold for a bool fact or None)
PROBE_PREFIX = "nndoctor/"


def _layer_series(run: Run, quantity: str) -> dict[str, np.ndarray]:
    prefix = f"{PROBE_PREFIX}{quantity}/"
    out = {}
    for name, series in run.series.items():
        if name.startswith(prefix) and len(series):
            finite = series.values[np.isfinite(series.values)]
            if finite.size:
                out[name[len(prefix):]] = finite
    return out


@detector("probes")
def probes(run: Run, p: Params) -> Iterator[Fact]:
    tail = p["tail_points"]
    dead = _layer_series(run, "dead_fraction")
    if dead:
        layer, value = max(((k, float(np.median(v[-tail:]))) for k, v in dead.items()),
                           key=lambda kv: kv[1])
        yield log_fact("dead_unit_fraction", min(max(value, 0.0), 1.0),
                       f"{value:.0%} of the units of layer {layer} are dead", "probe", 1.0)
    saturated = _layer_series(run, "saturated_fraction")
    if saturated:
        layer, value = max(((k, float(np.median(v[-tail:]))) for k, v in saturated.items()),
                           key=lambda kv: kv[1])
        yield log_fact("saturated_fraction", min(max(value, 0.0), 1.0),
                       f"{value:.0%} of the units of layer {layer} are saturated", "probe")
    ratios = _layer_series(run, "update_ratio")
    if ratios:
        value = float(np.median([np.median(v[-tail:]) for v in ratios.values()]))
        yield log_fact("update_ratio", max(value, 0.0),
                       f"median update/weight ratio over {len(ratios)} layers is {num(value)}",
                       "probe")
    grads = _layer_series(run, "grad_norm")
    if len(grads) >= 2:
        names = list(grads)  # probe writes layers in forward order
        first, last = float(np.median(grads[names[0]][-tail:])), \
            float(np.median(grads[names[-1]][-tail:]))
        ratio = first / max(last, 1e-30)
        yield log_fact("grad_ratio_first_last", ratio,
                       f"gradient norm of the first layer {names[0]} ({num(first)}) is "
                       f"{ratio:.3g}× that of the last layer {names[-1]} ({num(last)})", "probe")
    stds = _layer_series(run, "act_std")
    if len(stds) >= 2:
        finals = [float(np.median(v[-tail:])) for v in stds.values()]
        collapse = finals[-1] <= p["std_collapse"] * finals[0] or \
            finals[-1] >= finals[0] / p["std_collapse"]
        yield log_fact("activation_std_collapse", bool(collapse),
                       f"activation std goes from {num(finals[0])} (first layer) to "
                       f"{num(finals[-1])} (last layer)", "probe")
    for quantity, fact in (("frozen", "frozen_parameters"), ("weights_nonfinite",
                                                               "weights_nonfinite")):
        flags = _layer_series(run, quantity)
        if flags:
            bad = sorted(k for k, v in flags.items() if v[-1] > 0.5)
            yield log_fact(fact, bool(bad), (f"layers {', '.join(bad[:5])}" if bad else
                                             "no layer") + f" flagged ({quantity})", "probe")
    overfit = run.get(f"{PROBE_PREFIX}preflight/overfit_tiny_batch")
    if overfit is not None and len(overfit):
        yield log_fact("can_overfit_tiny_batch", bool(overfit.values[-1] > 0.5),
                       "pre-flight: the loss on a tiny batch "
                       + ("reached ~0" if overfit.values[-1] > 0.5 else "did not approach 0"),
                       "preflight")
    gradcheck = run.get(f"{PROBE_PREFIX}preflight/gradcheck_rel_error")
    if gradcheck is not None and len(gradcheck) and np.isfinite(gradcheck.values[-1]):
        value = float(gradcheck.values[-1])
        yield log_fact("gradient_check_error", value,
                       f"pre-flight gradient check: max relative error {value:.2g}", "preflight")
