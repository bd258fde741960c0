"""Per-layer signals as people log them → the probe's series names (docs/probes.md, tag scheme).

nndoctor's probes write ``nndoctor/<quantity>/<NN-layer>``; the probe detectors read only those.
The same signals logged by hand or by a framework — ``grad_norm/<param>``, Lightning's
``grad_2.0_norm/<param>``, ``gradients/<layer>/norm``, ``<layer>.grad_norm``, ``grad/<layer>``,
``weights/<layer>``, ``weight_norm/<layer>``, TensorBoard gradient/weight histograms (read as
``hist/<tag>/norm`` = sqrt(sum of squares)), ``dead_relu_frac``,
``activations/<layer>/zero_fraction``, ``<layer>/dead_fraction``, ``saturation/<layer>`` — are
renamed into that scheme here, so the same facts come out. The patterns are data
(:data:`SCALAR_PATTERNS`, :data:`HIST_PATTERNS`).

Per-parameter norms (``fc1.weight``, ``fc1.bias``) are combined into one per-layer L2 norm,
sqrt(Σ norm²) on the steps they share — what the probe logs per layer. Layers are numbered in
forward order as well as the names allow: modules whose names differ only in numbers are in
natural order (``layer.2`` before ``layer.10``), differently named modules keep the order in which
the log first mentions them (TensorBoard and JSON Lines keep the writing order, which follows
``model.named_parameters()``; a sorted CSV header gives plain natural order, so there a head
named ``classifier`` sorts before ``features.0``: a limit of names alone).
When the probe's own series of a quantity are present, other schemes for it keep their own names.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from nndoctor.adapters.run import Series
from nndoctor.lazy_re import regex

PROBE_PREFIX = "nndoctor/"
_F = re.IGNORECASE
_L = r"(?P<layer>.+?)"
# (pattern on the whole tag, quantity); a pattern without a layer group is a model-level signal
SCALAR_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (regex(p, _F), q) for p, q in (
        # gradient norms
        (rf"(?:train/)?(?:grad_norm|gradient_norm|grad-norm|gradnorm)/{_L}", "grad_norm"),
        (rf"(?:train/)?grad_(?:2(?:\.0)?|l2)_norm/{_L}", "grad_norm"),  # Lightning grad_norm()
        (rf"(?:gradients?|grads?)/{_L}(?:/(?:norm|l2_norm|grad_norm|l2))?", "grad_norm"),
        (rf"{_L}[./](?:grad_norm|gradient_norm|grad_l2_norm|grad/norm)", "grad_norm"),
        # weight norms
        (rf"(?:weights?|weight_norm|weights_norm|param_norm|parameter_norm)/{_L}(?:/norm)?",
         "weight_norm"),
        (rf"{_L}[./](?:weight_norm|param_norm|weight/norm)", "weight_norm"),
        # dead units (share of units that never fire)
        (r"dead_(?:relu|unit|units|neuron|neurons)_(?:frac|fraction|ratio)|dead_fraction",
         "dead_fraction"),
        (rf"(?:dead_fraction|dead_frac|dead_relu_frac|dead_relu_fraction|dead_relu|dead_units"
         rf"|dead_neurons|dead)/{_L}", "dead_fraction"),
        (rf"activations?/{_L}/(?:zero_fraction|dead_fraction|sparsity)", "dead_fraction"),
        (rf"{_L}[./](?:dead_fraction|dead_frac|dead_relu_frac|dead_relu_fraction|zero_fraction)",
         "dead_fraction"),
        # saturated units
        (r"saturation|saturation_frac|saturation_fraction|saturated_fraction",
         "saturated_fraction"),
        (rf"(?:saturation|saturated|saturation_frac|saturation_fraction|saturated_fraction)/{_L}",
         "saturated_fraction"),
        (rf"{_L}[./](?:saturation|saturated_fraction|saturation_fraction)",
         "saturated_fraction"),
    ))
# TensorBoard histograms (``hist/<tag>/norm`` from the reader): which tags hold what; the last
# flag: the tag counts only when it ends in a parameter leaf (``fc1.weight``, ``dense/kernel_0``)
HIST_PATTERNS: tuple[tuple[re.Pattern[str], str, bool], ...] = tuple(
    (regex(p, _F), q, leaf) for p, q, leaf in (
        (rf"(?:gradients?|grads?)/{_L}", "grad_norm", False),
        (rf"{_L}(?:[./_]grad|[./_]grads|[./]gradients?)", "grad_norm", False),
        (rf"(?:weights?|parameters?|params?)/{_L}", "weight_norm", False),
        (_L, "weight_norm", True),
    ))
_HIST = regex(r"hist/(?P<tag>.+)/norm")
NORM_QUANTITIES = {"grad_norm", "weight_norm"}
# a last name part that is a parameter of a module (combined into the module's norm)
PARAM_LEAF = regex(r"(?:[a-z]+_)?(?:weight|bias|kernel|gamma|beta)(?:_\w+)?", _F)
# layer names that are not layers: roles, totals, statistics of a histogram-like scheme
NOT_LAYERS = {"train", "training", "val", "valid", "validation", "eval", "test", "total", "global",
              "all", "mean", "avg", "std", "min", "max", "median", "var", "hist", "histogram",
              "norm", "epoch", "step", "total_norm", "global_norm", "norm_total", "l2", "l2_norm",
              "grad_norm", "clipped", "unclipped", "pre_clip", "post_clip", "before_clip",
              "after_clip", "scale", "loss_scale"}
ROLE_HEADS = {"train", "training", "validation", "val", "eval"}


def _module(layer: str) -> tuple[str, str]:
    """``fc1.weight`` → (``fc1``, ``weight``); a name without a parameter leaf → (name, "")."""
    parts = re.split(r"[./]", layer)
    if len(parts) > 1 and PARAM_LEAF.fullmatch(parts[-1]):
        return layer[: len(layer) - len(parts[-1]) - 1], parts[-1]
    return layer, ""


@functools.lru_cache(maxsize=4096)  # a pure function of the tag: a sweep's runs repeat theirs
def _match(tag: str) -> tuple[str, str, str] | None:
    """(quantity, module, parameter leaf) of a per-layer tag, or None."""
    t = tag.strip()
    hist = _HIST.fullmatch(t)
    if hist is not None:
        inner = re.sub(r"/histogram$", "", hist.group("tag"), flags=_F)  # Keras 3: <w>/histogram
        head, sep, rest = inner.partition("/")
        if sep and head.lower() in ROLE_HEADS:  # Keras: train/dense/kernel_0
            inner = rest
        for pattern, quantity, needs_leaf in HIST_PATTERNS:
            m = pattern.fullmatch(inner)
            if m is None:
                continue
            module, leaf = _module(m.group("layer"))
            if needs_leaf and not leaf:
                return None  # a histogram of something else (activations, outputs)
            return _checked(quantity, module, leaf)
        return None
    for pattern, quantity in SCALAR_PATTERNS:
        m = pattern.fullmatch(t)
        if m is None:
            continue
        if "layer" not in pattern.groupindex:
            return quantity, "model", ""
        module, leaf = _module(m.group("layer"))
        return _checked(quantity, module, leaf)
    return None


def _checked(quantity: str, module: str, leaf: str) -> tuple[str, str, str] | None:
    last = re.split(r"[./]", module.lower())[-1] if module else ""
    if not module or module.lower() in NOT_LAYERS or last in NOT_LAYERS:
        return None
    if leaf and quantity not in NORM_QUANTITIES:
        module = f"{module}.{leaf}"  # a fraction is per module; keep the name whole
        leaf = ""
    return quantity, module, leaf


def clean_layer(name: str) -> str:
    """The layer part of a probe series name: lower case, ``[a-z0-9_.-]`` (as the probe writes)."""
    text = re.sub(r"[^a-z0-9_.\-]+", "_", name.strip().lower())
    return re.sub(r"_+", "_", text).strip("_.") or "model"


def natural_key(name: str) -> tuple[Any, ...]:
    """``layer.10`` after ``layer.2``: digit runs compare as numbers."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower())
                 for p in re.split(r"(\d+)", name) if p)


def _stem(module: str) -> str:
    return re.split(r"\d", module.lower(), maxsplit=1)[0]


def layer_series(raw: Mapping[str, Series]) -> tuple[dict[str, Series], dict[str, Any]]:
    """``raw`` with per-layer tags renamed to ``nndoctor/<quantity>/<NN-layer>`` (in the place
    of their first tag, so log order is kept), and a context hint naming the layers found."""
    native = {q for q in (*NORM_QUANTITIES, "dead_fraction", "saturated_fraction")
              if any(t.startswith(f"{PROBE_PREFIX}{q}/") for t in raw)}
    found: dict[tuple[str, str], list[tuple[str, str, Series]]] = {}
    stems: dict[str, int] = {}
    for tag, series in raw.items():
        if tag.startswith(PROBE_PREFIX) or not len(series):
            continue
        hit = _match(tag)
        if hit is None or hit[0] in native:
            continue
        quantity, module, leaf = hit
        stems.setdefault(_stem(module), len(stems))
        entries = found.setdefault((quantity, module), [])
        if any(e[1] == leaf for e in entries):
            continue  # the same parameter under a second scheme: the first one counts
        entries.append((tag, leaf, series))
    if not found:
        return dict(raw), {}
    modules = sorted({m for _, m in found}, key=lambda m: (stems[_stem(m)], natural_key(m)))
    width = max(2, len(str(len(modules) - 1)))
    index = {m: f"{i:0{width}d}-{clean_layer(m)}" for i, m in enumerate(modules)}
    renamed: dict[str, tuple[str, Series]] = {}  # first tag of a layer → its new series
    dropped: set[str] = set()
    for (quantity, module), entries in found.items():
        series = _combine(entries) if quantity in NORM_QUANTITIES else entries[0][2]
        name = f"{PROBE_PREFIX}{quantity}/{index[module]}"
        renamed[entries[0][0]] = (name, series)
        dropped.update(tag for tag, _, _ in entries[1:])
    out: dict[str, Series] = {}
    for tag, series in raw.items():
        if tag in renamed:
            name, new = renamed[tag]
            out[name] = new
        elif tag not in dropped:
            out[tag] = series
    hint = {"layer_signals": {q: sum(1 for k in found if k[0] == q)
                              for q in sorted({k[0] for k in found})}}
    return out, hint


def _combine(entries: list[tuple[str, str, Series]]) -> Series:
    """One layer's L2 norm from its parameters' norms, on the steps all of them have."""
    if len(entries) == 1:
        tag, _, s = entries[0]
        return Series(s.steps, s.values, s.source_tag or tag)
    last = [_last_per_step(s) for _, _, s in entries]
    common = last[0][0]
    for steps, _ in last[1:]:
        common = np.intersect1d(common, steps)
    tags = "+".join(s.source_tag or tag for tag, _, s in entries)
    if common.size == 0:  # logged at different steps: the largest parameter speaks for it
        tag, _, s = max(entries, key=lambda e: len(e[2]))
        return Series(s.steps, s.values, s.source_tag or tag)
    total = np.zeros(common.shape, dtype=np.float64)
    for steps, values in last:
        total += values[np.searchsorted(steps, common)] ** 2
    return Series(common.astype(np.int64), np.sqrt(total), tags)


def _last_per_step(s: Series) -> tuple[np.ndarray, np.ndarray]:
    """Steps (unique, sorted) and the last value logged at each."""
    last = len(s.steps) - 1 - np.unique(s.steps[::-1], return_index=True)[1]
    return s.steps[last], s.values[last]
