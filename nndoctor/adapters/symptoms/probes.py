"""Signals written by nndoctor's training probes and pre-flight checks (tag scheme: docs/probes.md).

Per-layer series are ``nndoctor/<quantity>/<layer>``; the probe names layers ``NN-name`` with a
zero-padded forward-order index, so first/last-layer comparisons hold whatever order a reader
keeps the series in. Without such an index the order of the series in the run is used.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import numpy as np

from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms.base import Params, detector, log_fact, median, num
from nndoctor.engine.facts import Fact
from nndoctor.lazy_re import regex

PROBE_PREFIX = "nndoctor/"
PREFLIGHT = f"{PROBE_PREFIX}preflight/"
_INDEXED = regex(r"^(\d+)-")
# act_kind codes written by the probe → hidden_activation choices
ACT_KINDS = {1: "relu", 2: "leaky_relu_elu", 3: "sigmoid", 4: "tanh", 5: "gelu_swish"}

Points = tuple[np.ndarray, np.ndarray]  # finite (steps, values)


def _layer_series(run: Run, quantity: str) -> dict[str, Points]:
    """``{layer: (steps, values)}`` of one quantity, finite points only, in forward order."""
    prefix = f"{PROBE_PREFIX}{quantity}/"
    out = {}
    for name, series in run.series.items():
        if name.startswith(prefix) and len(series):
            finite = np.isfinite(series.values)
            if finite.any():
                out[name[len(prefix):]] = (series.steps[finite], series.values[finite])
    if out and all(_INDEXED.match(k) for k in out):
        return dict(sorted(out.items(), key=lambda kv: int(_INDEXED.match(kv[0]).group(1))))  # type: ignore[union-attr]
    return out


def _tail(points: Points, tail: int) -> float:
    return median(points[1][-tail:])


def _last(run: Run, name: str) -> float | None:
    series = run.get(f"{PREFLIGHT}{name}")
    if series is None or not len(series) or not np.isfinite(series.values[-1]):
        return None
    return float(series.values[-1])


@detector("probes", produces=(
    "hidden_activation", "dead_unit_fraction", "saturated_fraction", "update_ratio",
    "update_ratio_first",
    "grad_ratio_first_last", "activation_std_collapse", "activation_std_ratio",
    "activation_mean_large", "frozen_parameters", "symmetric_units", "weights_nonfinite",
    "can_overfit_tiny_batch", "gradient_check_error", "initial_loss_vs_expected",
    "inputs_contain_nan", "batches_single_label", "random_input_same_behaviour",
    "class_imbalance_ratio", "input_abs_max", "input_abs_mean"))
def probes(run: Run, p: Params) -> Iterator[Fact]:
    tail = p["tail_points"]
    kinds = {k: int(v[1][-1]) for k, v in _layer_series(run, "act_kind").items()}
    units = {k: float(v[1][-1]) for k, v in _layer_series(run, "act_units").items()}
    dominant = _dominant_kind(kinds, units)
    yield from _activation_kind(kinds, dominant)
    yield from _worst_layer(run, "dead_fraction", "dead_unit_fraction", "dead", tail, 1.0)
    yield from _worst_layer(run, "saturated_fraction", "saturated_fraction", "saturated", tail)
    ratios = _layer_series(run, "update_ratio")
    if ratios:
        value = median([_tail(v, tail) for v in ratios.values()])
        yield log_fact("update_ratio", max(value, 0.0),
                       f"median update/weight ratio over {len(ratios)} layers is {num(value)}",
                       "probe")
        yield from _first_update(ratios, p)
    grads = _layer_series(run, "grad_norm")
    if len(grads) >= 2:
        names = list(grads)
        first, last = (max(_tail(grads[n], tail), 0.0) for n in (names[0], names[-1]))
        ratio = first / max(last, 1e-30)
        yield log_fact("grad_ratio_first_last", ratio,
                       f"gradient norm of the first layer {names[0]} ({num(first)}) is "
                       f"{ratio:.3g}× that of the last layer {names[-1]} ({num(last)})", "probe")
    yield from _activation_scale(run, kinds, dominant, p)
    if _layer_series(run, "frozen"):
        yield from _flags(run, "frozen", "frozen_parameters", "never change (frozen by mistake)")
    else:
        yield from _frozen_from_norms(run, tail)
    yield from _flags(run, "symmetric_units", "symmetric_units",
                      "have all units identical (symmetry never broken)")
    yield from _nonfinite(run)
    yield from _preflight(run)


def _worst_layer(run: Run, quantity: str, fact: str, word: str, tail: int,
                 certainty: float = 1.0) -> Iterator[Fact]:
    series = _layer_series(run, quantity)
    if series:
        layer, value = max(((k, _tail(v, tail)) for k, v in series.items()), key=lambda kv: kv[1])
        yield log_fact(fact, min(max(value, 0.0), 1.0),
                       f"{value:.0%} of the units of layer {layer} are {word}", "probe", certainty)


def _dominant_kind(kinds: dict[str, int], units: dict[str, float]) -> tuple[int, float] | None:
    """The activation kind that carries most of the network's activations, with its share:
    each module weighs by its outputs per sample (``act_units``) when the probe logged them for
    every module, else counts once - one tanh pooler does not make BERT a tanh network."""
    if not kinds:
        return None
    sized = all(units.get(k, 0.0) > 0 for k in kinds)
    weight: Counter[int] = Counter()
    for layer, code in kinds.items():
        weight[code] += units[layer] if sized else 1.0
    code, amount = max(weight.items(), key=lambda kv: kv[1])  # ties: the first in forward order
    return code, amount / sum(weight.values())


def _activation_kind(kinds: dict[str, int], dominant: tuple[int, float] | None
                     ) -> Iterator[Fact]:
    if dominant is None:
        return
    code, share = dominant
    value = ACT_KINDS.get(code, "other")
    count = sum(1 for c in kinds.values() if c == code)
    yield log_fact("hidden_activation", value,
                   f"{value}: {share:.0%} of the activation outputs ({count} of {len(kinds)} "
                   "activation modules)", "probe")


def _hidden(stds: dict[str, Points], kinds: dict[str, int],
            dominant: tuple[int, float] | None) -> dict[str, Points]:
    """The hidden activations: outputs of the dominant activation kind, else all but the
    last layer output (the logits)."""
    if dominant is not None:
        code = dominant[0]
        hidden = {k: v for k, v in stds.items() if kinds.get(k) == code}
        if len(hidden) >= 2:
            return hidden
    names = list(stds)
    return {k: stds[k] for k in names[:-1]} if len(names) >= 3 else stds


def _first_update(ratios: dict[str, Points], p: Params) -> Iterator[Fact]:
    """The update/weight ratio of the first update, when the probe saw it (its first point
    within ``first_update_steps`` of the start): the median over layers of each one's first
    point. Adam's first step moves every weight by about the learning rate, before the weights
    have grown or the moment estimates settled, so an oversized rate shows plainest here."""
    start = min(int(v[0][0]) for v in ratios.values())
    if start > p["first_update_steps"]:
        return
    value = median([float(v[1][0]) for v in ratios.values()])
    yield log_fact("update_ratio_first", max(value, 0.0),
                   f"median update/weight ratio of the first update (step {start}) over "
                   f"{len(ratios)} layers is {num(value)}", "probe")


def _activation_scale(run: Run, kinds: dict[str, int], dominant: tuple[int, float] | None,
                      p: Params) -> Iterator[Fact]:
    """Std drift across hidden layers, judged on the first probe points (the init, where
    CS231n reads it; trained layers may legitimately differ in scale), and mean |activation|."""
    tail, head = p["tail_points"], p["head_points"]
    stds = _hidden(_layer_series(run, "act_std"), kinds, dominant)
    if len(stds) >= 2:
        names = list(stds)
        first, last = (max(median(stds[n][1][:head]), 0.0)
                       for n in (names[0], names[-1]))
        since = int(stds[names[0]][0][0])
        text = (f"activation std goes from {num(first)} ({names[0]}) to {num(last)} "
                f"({names[-1]}) over {len(names)} hidden layers, from step {since}")
        if first > 0:  # a first layer with no spread at all (dead, zero init) has no scale
            collapse = last <= p["std_collapse"] * first or last >= first / p["std_collapse"]
            yield log_fact("activation_std_collapse", bool(collapse), text, "probe")
            yield log_fact("activation_std_ratio", last / first, text, "probe")
    means = _hidden(_layer_series(run, "act_mean"), kinds, dominant)
    if means:
        layer, value = max(((k, abs(_tail(v, tail))) for k, v in means.items()),
                           key=lambda kv: kv[1])
        yield log_fact("activation_mean_large", bool(value >= p["mean_large"]),
                       f"largest mean |activation| of a hidden layer is {num(value)} ({layer})",
                       "probe")


def _flags(run: Run, quantity: str, fact: str, what: str) -> Iterator[Fact]:
    flags = _layer_series(run, quantity)
    if flags:
        bad = [k for k, v in flags.items() if v[1][-1] > 0.5]
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        yield log_fact(fact, bool(bad), (f"layers {shown} {what}" if bad else
                                         f"none of {len(flags)} layers {what}"), "probe")


def _frozen_from_norms(run: Run, tail: int) -> Iterator[Fact]:
    """Without the probe's ``frozen`` flags (per-layer norms logged by other means): a layer
    whose weight norm never changes while other layers' do is frozen, and so is one cut off from
    the gradient - exactly 0 over the last points while the layers below it still get one (a
    branch multiplied by 0). Every layer's weight norm moving says none is. A frozen parameter
    itself has no gradient to log (it is missing, not 0), and zeros in the first layers up to
    some layer are a gradient stopped on its way down (every unit of that layer dead, or zero
    weights), not freezing: ``grad_ratio_first_last`` = 0 carries that."""
    grads = _layer_series(run, "grad_norm")
    weights = {k: v for k, v in _layer_series(run, "weight_norm").items() if v[1].size >= 3}
    order = list(grads)
    zero = [k for k, v in grads.items() if np.all(v[1][-tail:] == 0.0)]
    if len(zero) == len(grads) or zero == order[:len(zero)]:
        zero = []  # all of them, or the first layers up to one: a blocked gradient
    still = [k for k, v in weights.items() if np.all(v[1] == v[1][0])]
    still = still if len(still) < len(weights) else []
    texts = []
    if zero:
        texts.append(f"gradient exactly 0 in layers {_names(zero)}")
    if still:
        texts.append(f"weights never change in layers {_names(still)}")
    if texts:
        yield log_fact("frozen_parameters", True, "; ".join(texts) + " (frozen by mistake?)",
                       "layer norms", 0.8)
    elif len(weights) >= 2:
        yield log_fact("frozen_parameters", False,
                       f"the weights of all {len(weights)} layers change", "layer norms", 0.8)


def _names(layers: list[str]) -> str:
    return ", ".join(layers[:5]) + (f" and {len(layers) - 5} more" if len(layers) > 5 else "")


def _first_flag(flags: dict[str, Points]) -> tuple[str, int] | None:
    """The layer (forward order) flagged at the earliest step, and that step."""
    hits = [(int(v[0][np.argmax(v[1] > 0.5)]), i, k) for i, (k, v) in enumerate(flags.items())
            if (v[1] > 0.5).any()]
    if not hits:
        return None
    step, _, layer = min(hits)
    return layer, step


def _nonfinite(run: Run) -> Iterator[Fact]:
    weights = _layer_series(run, "weights_nonfinite")
    if not weights:
        return
    first = _first_flag(weights)
    bad = [k for k, v in weights.items() if v[1][-1] > 0.5]
    if first is None:
        yield log_fact("weights_nonfinite", False, "every layer's weights are finite", "probe")
        return
    text = (f"weights turned NaN/Inf first in layer {first[0]} at step {first[1]}; "
            f"{len(bad)} of {len(weights)} layers non-finite at the end")
    outputs = _first_flag(_layer_series(run, "act_nonfinite"))
    if outputs is not None:
        text += f"; first non-finite layer output: {outputs[0]} at step {outputs[1]}"
    yield log_fact("weights_nonfinite", True, text, "probe")


def _preflight(run: Run) -> Iterator[Fact]:
    overfit = _last(run, "overfit_tiny_batch")
    if overfit is not None:
        yield log_fact("can_overfit_tiny_batch", overfit > 0.5,
                       "pre-flight: the loss on a tiny batch "
                       + ("reached ~0" if overfit > 0.5 else "did not approach 0"), "preflight")
    gradcheck = _last(run, "gradcheck_rel_error")
    if gradcheck is not None:
        yield log_fact("gradient_check_error", abs(gradcheck),
                       f"pre-flight gradient check: max relative error {gradcheck:.2g}",
                       "preflight")
    initial, expected = _last(run, "initial_loss"), _last(run, "expected_loss")
    if initial is not None and expected is not None and expected > 0:
        ratio = initial / expected
        value = "much_higher" if ratio > 1.25 else "much_lower" if ratio < 0.75 else \
            "about_expected"
        yield log_fact("initial_loss_vs_expected", value,
                       f"pre-flight: initial loss {num(initial)} vs expected {num(expected)}",
                       "preflight")
    for name, fact, text in (
            ("inputs_nonfinite", "inputs_contain_nan", "the batch contains NaN/Inf"),
            ("batches_single_label", "batches_single_label", "a batch holds a single label"),
            ("random_input_same", "random_input_same_behaviour",
             "random inputs give the same loss as real ones")):
        value = _last(run, name)
        if value is not None:
            yield log_fact(fact, value > 0.5, f"pre-flight: {text}: "
                           + ("yes" if value > 0.5 else "no"), "preflight")
    for name, text in (("input_abs_max", "largest |input| in the batch"),
                       ("input_abs_mean", "|mean| of the inputs")):
        value = _last(run, name)
        if value is not None and value >= 0:
            yield log_fact(name, value, f"pre-flight: {text} is {num(value)}", "preflight")
    imbalance = _last(run, "class_imbalance_ratio")
    if imbalance is not None and imbalance >= 1:
        yield log_fact("class_imbalance_ratio", imbalance,
                       f"pre-flight: largest/smallest class count {num(imbalance)}", "preflight")
