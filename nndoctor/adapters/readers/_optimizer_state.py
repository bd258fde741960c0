"""What a saved optimiser state tells about the gradients of the whole run, read without torch
and without running any of the pickle's code.

torch's optimisers create a parameter's state (Adam's ``exp_avg`` / ``exp_avg_sq``, SGD's
``momentum_buffer``) at the first step in which that parameter has a gradient. A parameter the
optimiser lists but keeps no state for never received one: ``requires_grad`` off, a ``detach()``
or ``no_grad`` before it, a module the forward pass never uses. Adam's second moment
``exp_avg_sq`` is a running mean of each value's squared gradient, so its sum over a matrix is
that layer's gradient norm² (up to the same bias correction for every parameter): the per-layer
gradient comparison a probe would log, saved by every run that checkpoints an Adam-family
optimiser. Hugging Face's Trainer saves ``checkpoint-N/optimizer.pt`` (and hands the optimiser
only the parameters with ``requires_grad``, so a frozen part shows as an optimiser holding a
small share of the model); Lightning's ``.ckpt`` holds ``optimizer_states`` beside the
``state_dict``. Each state tensor is sampled (at most ``STATE_SAMPLE_BYTES``, spread over it),
and only the metadata pickle is loaded, so a large optimiser file costs a few megabytes of
reading.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from nndoctor.adapters.readers._checkpoints import (
    _EMBEDDING,
    FLOAT_DTYPES,
    MAX_TENSORS,
    OPTIMIZER_FILE,
    WEIGHTS_FILE,
    _floats,
    safetensors_header,
)
from nndoctor.adapters.readers._torch_weights import (
    MAX_MEMBERS,
    MAX_PICKLE_BYTES,
    _Tensor,
    _Weights,
    stored,
)
from nndoctor.lazy_re import regex

STATE_SAMPLE_BYTES = 16 << 10  # per state tensor (as for a weight matrix), in SAMPLE_CHUNKS pieces
SAMPLE_CHUNKS = 16
SECOND_MOMENTS = ("exp_avg_sq", "square_avg")  # Adam/AdamW/NAdam/RAdam, RMSprop
# where a hand-written checkpoint keeps the optimiser's state_dict
_OPTIMIZER_KEYS = ("optimizer_state_dict", "optimizer", "optim", "optimizer_state")
# float buffers a state_dict holds beside the parameters (normalisation statistics)
_BUFFERS = regex(r"(^|\.)(running_mean|running_var|num_batches_tracked)$")


def optimizer_state(path: Path) -> dict[str, Any]:
    """From the optimiser state saved in ``path`` (``_checkpoints.saved_optimizer``):
    ``optimizer_params`` (parameter tensors it lists), ``optimizer_stateless`` (how many of them
    have no state although others do: they never received a gradient) with
    ``optimizer_stateless_share`` (their share of the listed values, when their sizes are
    known), ``optimizer_model_share`` (the values the optimiser updates over the model's float
    values, when the model is saved beside it) and ``optimizer_second_moments``: per matrix
    parameter (two or more dimensions, lookup tables left out) with a second moment, in the
    optimiser's order, ``(index, shape, mean sampled second moment)``. {} when nothing readable
    is saved."""
    try:
        with zipfile.ZipFile(path) as archive:
            return _read_state(archive, path)
    except Exception:  # anything a hostile or foreign file raises means "unread"
        return {}


def _read_state(archive: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    members = archive.infolist()
    pickles = [m for m in members if m.filename.endswith("/data.pkl")]
    if len(members) > MAX_MEMBERS or len(pickles) != 1 or pickles[0].file_size > MAX_PICKLE_BYTES:
        return {}
    prefix = pickles[0].filename[:-len("data.pkl")]
    loaded = _Weights(archive.read(pickles[0])).load()
    optimizer, model = _optimizer_and_model(loaded)
    if optimizer is None:
        return {}
    listed = [i for group in optimizer["param_groups"] if isinstance(group, dict)
              for i in group.get("params", ()) if isinstance(i, int)]
    state = {i: s for i, s in optimizer["state"].items()
             if isinstance(i, int) and isinstance(s, dict) and s}
    if not listed or not state:
        return {}  # plain SGD keeps no state: nothing to compare
    out: dict[str, Any] = {"optimizer_file": str(path), "optimizer_params": len(listed)}
    sizes = {i: _size(s) for i, s in state.items()}
    stateless = [i for i in listed if i not in state]
    out["optimizer_stateless"] = len(stateless)
    shapes = model if model is not None else _safetensors_shapes(path)
    if model is not None and len(model) == len(listed) and len(optimizer["param_groups"]) == 1:
        # one group of every model parameter, in order (Lightning's Adam(self.parameters()));
        # with several groups the indices follow the groups, not the model
        listed_sizes = [int(np.prod(shape)) for shape in model.values()]
        total = sum(listed_sizes)
        if total > 0:
            out["optimizer_stateless_share"] = sum(
                listed_sizes[k] for k, i in enumerate(listed) if i not in state) / total
    elif not stateless:
        out["optimizer_stateless_share"] = 0.0
    model_values = sum(int(np.prod(shape)) for shape in shapes.values())
    updated = sum(v for v in sizes.values() if v is not None)
    if model_values and updated and None not in sizes.values():
        out["optimizer_model_share"] = min(updated / model_values, 1.0)
    # a lookup table is no layer a gradient flows through: its rows are tokens, not units
    lookups = {shape for name, shape in shapes.items() if _EMBEDDING.search(name)}
    out["optimizer_second_moments"] = _second_moments(archive, prefix, state, listed, lookups)
    return out


def _optimizer_and_model(loaded: Any) -> tuple[dict[str, Any] | None,
                                               dict[str, tuple[int, ...]] | None]:
    """The optimiser's state_dict (``state`` + ``param_groups``) and, when the file holds the
    model too, its float parameters' shapes by name, in order (None otherwise)."""
    if not isinstance(loaded, dict):
        return None, None
    candidates = [loaded]
    states = loaded.get("optimizer_states")  # Lightning: one per optimiser
    if isinstance(states, list) and len(states) == 1:
        candidates.append(states[0])
    candidates += [loaded.get(k) for k in _OPTIMIZER_KEYS]
    optimizer = next((c for c in candidates if isinstance(c, dict)
                      and isinstance(c.get("state"), dict)
                      and isinstance(c.get("param_groups"), list)), None)
    model = None
    weights = loaded.get("state_dict") if optimizer is not loaded else None
    if isinstance(weights, dict):
        model = {name: t.shape for name, t in weights.items()
                 if isinstance(t, _Tensor) and t.storage.dtype and isinstance(name, str)
                 and not _BUFFERS.search(name)}
    return optimizer, model


def _size(state: dict[str, Any]) -> int | None:
    """The number of values of the parameter a state belongs to (from its moment tensors)."""
    for value in state.values():
        if isinstance(value, _Tensor) and value.shape:
            return int(np.prod(value.shape))
    return None


def _safetensors_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """The float tensors' shapes by name of the ``model.safetensors`` beside ``optimizer.pt``
    (its header only); {} when there is none."""
    weights = path.parent / WEIGHTS_FILE
    if path.name != OPTIMIZER_FILE or not weights.is_file():
        return {}
    try:
        with open(weights, "rb") as fh:
            header, _start = safetensors_header(fh, weights)
    except (OSError, ValueError):
        return {}
    return {name: tuple(int(x) for x in spec["shape"]) for name, spec in header.items()
            if name != "__metadata__" and isinstance(spec, dict)
            and spec.get("dtype") in FLOAT_DTYPES and isinstance(spec.get("shape"), list)}


def _second_moments(archive: zipfile.ZipFile, prefix: str, state: dict[int, dict[str, Any]],
                    listed: list[int], skipped: set[tuple[int, ...]],
                    ) -> tuple[tuple[int, tuple[int, ...], float], ...]:
    """Per matrix parameter with a second moment, in the optimiser's order, but none of the
    ``skipped`` shapes: ``(index, shape, mean sampled second moment)``."""
    out = []
    for index in listed:
        moment = next((state[index][k] for k in SECOND_MOMENTS
                       if isinstance(state.get(index, {}).get(k), _Tensor)), None)
        if moment is None or len(moment.shape) < 2 or moment.shape in skipped:
            continue
        values = _spread_sample(archive, prefix, moment)
        if values is None or not np.isfinite(values).all():
            continue
        out.append((index, moment.shape, float(values.mean())))
        if len(out) >= MAX_TENSORS:
            break
    return tuple(out)


def _spread_sample(archive: zipfile.ZipFile, prefix: str, tensor: _Tensor) -> np.ndarray | None:
    """The values of a contiguous float tensor: all of them up to ``STATE_SAMPLE_BYTES``, else
    ``SAMPLE_CHUNKS`` equal pieces spread evenly over it. None for a layout not read here."""
    found = stored(archive, prefix, tensor)
    if found is None:
        return None
    info, dtype = found
    item = np.dtype(dtype).itemsize
    count = int(np.prod(tensor.shape))
    start = tensor.offset * item
    if start + count * item > info.file_size:
        return None
    chunks = 1 if count * item <= STATE_SAMPLE_BYTES else SAMPLE_CHUNKS
    per_chunk = min(count, STATE_SAMPLE_BYTES // item // chunks)
    pieces = []
    with archive.open(info) as member:
        for k in range(chunks):
            first = (count - per_chunk) * k // max(chunks - 1, 1)
            member.seek(start + first * item)
            data = member.read(per_chunk * item)
            if len(data) < per_chunk * item:
                return None
            pieces.append(np.frombuffer(data, dtype=dtype))
    return _floats(np.concatenate(pieces)).astype(np.float64)
