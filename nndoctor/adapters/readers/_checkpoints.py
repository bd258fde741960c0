"""What the saved weights of a run tell: which weight matrices did not change between the last
two checkpoints, and the scale, symmetry and widths of the matrices of the saved model (a
safetensors file here, a ``torch.save`` checkpoint through ``_torch_weights``).

Hugging Face's Trainer saves ``checkpoint-N/model.safetensors`` every ``save_steps``. A
safetensors file is an 8-byte header length, a JSON header (name → dtype, shape, byte offsets)
and the raw little-endian arrays, so numpy reads it without torch and without unpickling
anything. Only a bounded sample of each tensor is read (its first ``SAMPLE_BYTES``), and at most
``MAX_TENSORS`` tensors, so a multi-gigabyte model costs a few megabytes of reading: a tensor the
optimiser updates changes nearly every element, so its first elements show it.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import numpy as np

from nndoctor.lazy_re import regex

WEIGHTS_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.pt"  # the Trainer's, beside the weights in checkpoint-N
MAX_HEADER_BYTES = 16 << 20
SAMPLE_BYTES = 16 << 10  # per tensor: 4096 float32 values
MAX_TENSORS = 256
MAX_LISTED = 1000  # entries of a folder looked at for a saved model
# torch.save files a training script commonly writes beside its log
TORCH_FILES = ("model.pt", "model.pth", "model.ckpt", "best.pt", "last.pt", "best_model.pt",
               "best_model.pth", "final_model.pt", "checkpoint.pt", "checkpoint.pth")
CHECKPOINT_DIR = regex(r"^checkpoint-(\d+)$")  # the Trainer's checkpoint-N folders
FLOAT_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2"}
DTYPE_EPS = {"F64": 2.2e-16, "F32": 1.2e-7, "F16": 9.8e-4, "BF16": 7.8e-3}  # the stored precision
# the weight matrices of Linear/Conv/Embedding/RNN layers (weight, weight_ih_l0, kernel), two or
# more dimensions: not a normalisation layer's scale vector, which a collapsed network leaves
# unchanged, nor float buffers (a causal mask, running statistics) that stay or move on their own
WEIGHT_NAME = regex(r"(^|\.)(weight\w*|kernel)$")
_EMBEDDING = regex(r"(?i)embed|(^|\.)(wte|wpe|shared)\.")
_ADAPTER = regex(r"(?i)lora_|adapter")  # low-rank, LoRA's B starts at 0


def checkpoint_context(run_dir: Path) -> dict[str, Any]:
    """From the last two ``checkpoint-N/model.safetensors`` under ``run_dir``:
    ``checkpoint_steps`` (the two steps), ``checkpoint_weights`` (how many weight matrices were
    compared), ``checkpoint_frozen`` (the names of those that did not change) and
    ``checkpoint_resolution`` (the largest change their stored precision could round away,
    eps × median |w|). {} when there are not two readable checkpoints."""
    found = sorted((int(m.group(1)), d / WEIGHTS_FILE) for d in _subdirs(run_dir)
                    if (m := CHECKPOINT_DIR.match(d.name)) and (d / WEIGHTS_FILE).is_file())
    if len(found) < 2 or found[-2][0] == found[-1][0]:
        return {}
    (before_step, before), (after_step, after) = found[-2:]
    try:
        old, new = _sample(before), _sample(after)
    except (OSError, ValueError, TypeError):  # a truncated or foreign file tells nothing
        return {}
    common = [n for n in new if n in old and old[n].raw.shape == new[n].raw.shape]
    if not common:
        return {}
    frozen = tuple(n for n in common if np.array_equal(old[n].raw, new[n].raw))
    resolution = max((new[n].eps * float(np.median(np.abs(_floats(new[n].raw)))) for n in frozen),
                     default=0.0)
    return {"checkpoint_steps": (before_step, after_step), "checkpoint_weights": len(common),
            "checkpoint_frozen": frozen, "checkpoint_resolution": resolution}


def saved_context(run_dir: Path) -> dict[str, Any]:
    """What a run saved under ``run_dir`` tells, from one listing of the folder: its model's
    weights (:func:`weights_context`) and its optimiser's state
    (``_optimizer_state.optimizer_state``, of :func:`saved_optimizer`)."""
    names = _names(run_dir)
    model = saved_model(run_dir, names)
    out = weights_context(model) if model is not None else {}
    optimizer = saved_optimizer(run_dir, names, model)
    if optimizer is not None:
        from nndoctor.adapters.readers._optimizer_state import optimizer_state  # zipfile, pickle

        out.update(optimizer_state(optimizer))
    return out


def weights_context(path: Path) -> dict[str, Any]:
    """From the saved model ``path`` (:func:`saved_model`):
    ``weights_scale`` - per weight matrix (embeddings and adapters left out), the sampled std times
    √fan_in, the quantity an initialisation sets (He ≈ 1.4, Glorot ≈ 1, torch's default ≈ 0.6),
    as ``(name, value)`` pairs; ``weights_symmetric``, the matrices whose sampled rows (two or
    more, the units) are all identical; and ``weights_widths``, the hidden layer widths - output
    sizes that another matrix takes as its input size (the output layer's is taken by none);
    ``weights_init_fit``, per matrix, how it compares with torch's default initialisation
    (:func:`_default_init_fit`). {} when the model cannot be read."""
    if path.suffix == ".safetensors":
        try:
            sampled = _sample(path)
        except (OSError, ValueError, TypeError):
            return {}
    else:
        from nndoctor.adapters.readers._torch_weights import torch_weights  # zipfile, pickle

        sampled = torch_weights(path)
    scale, symmetric, init_fit = [], [], []
    layers = {n: t.shape for n, t in sampled.items()
              if not _EMBEDDING.search(n) and not _ADAPTER.search(n)}
    consumed = {shape[1] for shape in layers.values()}
    widths = sorted({shape[0] for shape in layers.values() if shape[0] in consumed})
    for name, tensor in sampled.items():
        if name not in layers:
            continue  # a lookup table (no fan-in multiplies it), or an adapter zero by design
        fan_in = int(np.prod(tensor.shape[1:]))
        values = _floats(tensor.raw).astype(np.float64)
        if fan_in < 2 or not np.isfinite(values).all():
            continue
        scale.append((name, float(values.std() * np.sqrt(fan_in))))
        bound = default_init_bound(name, layers)
        if bound is not None:
            init_fit.append((name, *_default_init_fit(bound, values)))
        rows = values.size // fan_in
        if rows >= 2 and tensor.shape[0] >= 2:
            units = values[:rows * fan_in].reshape(rows, fan_in)
            if np.array_equal(units, np.broadcast_to(units[0], units.shape)):
                symmetric.append(name)
    return {"weights_scale": tuple(scale), "weights_symmetric": tuple(symmetric),
            "weights_widths": tuple(widths), "weights_init_fit": tuple(init_fit),
            "weights_file": str(path)} if scale else {}


def saved_optimizer(run_dir: Path, names: set[str], model: Path | None) -> Path | None:
    """Hugging Face's last ``checkpoint-N/optimizer.pt`` (or one in ``run_dir`` itself), else
    the saved ``model`` when it is a ``torch.save`` checkpoint that may hold an optimiser
    (Lightning's ``.ckpt``); ``names`` lists ``run_dir``."""
    found = _last_checkpoint_file(run_dir, names, OPTIMIZER_FILE)
    if found is not None:
        return found
    if OPTIMIZER_FILE in names and (run_dir / OPTIMIZER_FILE).is_file():
        return run_dir / OPTIMIZER_FILE
    return model if model is not None and model.suffix != ".safetensors" else None


def default_init_bound(name: str, shapes: dict[str, tuple[int, ...]]) -> float | None:
    """The half-width b of torch's default U(-b, b) initialisation of weight matrix ``name``:
    1/√fan_in for Linear and Conv layers (kaiming_uniform with a = √5), 1/√hidden_size for an
    RNN's ``weight_ih``/``weight_hh`` (hidden_size: the columns of its ``weight_hh``; None when
    that matrix is not among ``shapes``)."""
    if "weight_ih" in name or "weight_hh" in name:
        recurrent = shapes.get(name.replace("weight_ih", "weight_hh"))
        return 1.0 / np.sqrt(recurrent[1]) if recurrent and recurrent[1] > 0 else None
    return 1.0 / np.sqrt(max(int(np.prod(shapes[name][1:])), 1))


def _default_init_fit(bound: float, values: np.ndarray) -> tuple[int, float, float, float]:
    """How a sampled weight matrix compares with torch's default U(-b, b): (values sampled,
    max |w| / b, std · √3 / b, share of |w| beyond b). A matrix that never changed has the
    first two at 1 (its largest value just inside b, the spread of a uniform); one that
    trained has values beyond b."""
    magnitude = np.abs(values)
    beyond = float(np.count_nonzero(magnitude > bound * (1 + 1e-6))) / values.size
    return (int(values.size), float(magnitude.max() / bound),
            float(values.std() * np.sqrt(3.0) / bound), beyond)


def saved_model(run_dir: Path, names: set[str] | None = None) -> Path | None:
    """The model a run folder saved: Hugging Face's ``model.safetensors`` (else the last
    ``checkpoint-N``'s), Lightning's ``checkpoints/*.ckpt`` (``last.ckpt``, else the newest), or
    a ``torch.save`` file under a usual name (``names``: the folder's listing, when the caller
    has it). At most ``MAX_LISTED`` entries of a folder are looked at, so a folder of many files
    costs no more than a small one."""
    names = _names(run_dir) if names is None else names
    if WEIGHTS_FILE in names and (run_dir / WEIGHTS_FILE).is_file():  # not a FIFO: no hang
        return run_dir / WEIGHTS_FILE
    found = _last_checkpoint_file(run_dir, names, WEIGHTS_FILE)
    if found is not None:
        return found
    if "checkpoints" in names:
        lightning = run_dir / "checkpoints"
        ckpts = [lightning / n for n in _names(lightning)
                 if n.endswith(".ckpt") and (lightning / n).is_file()]
        if lightning / "last.ckpt" in ckpts:
            return lightning / "last.ckpt"
        if ckpts:
            return max(ckpts, key=_mtime)
    return next((run_dir / n for n in TORCH_FILES if n in names and (run_dir / n).is_file()),
                None)


def _last_checkpoint_file(run_dir: Path, names: set[str], filename: str) -> Path | None:
    """``filename`` in the highest-numbered ``checkpoint-N`` folder of ``run_dir`` holding one."""
    found = sorted((int(m.group(1)), run_dir / n / filename) for n in names
                   if (m := CHECKPOINT_DIR.match(n)) and (run_dir / n / filename).is_file())
    return found[-1][1] if found else None


def _names(folder: Path) -> set[str]:
    try:
        with os.scandir(folder) as entries:
            return {e.name for _, e in zip(range(MAX_LISTED), entries, strict=False)}
    except OSError:
        return set()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _subdirs(folder: Path) -> list[Path]:
    try:
        return [d for d in folder.iterdir() if d.is_dir()]
    except OSError:
        return []


class Sampled(NamedTuple):
    """The first ``SAMPLE_BYTES`` of a weight matrix as stored (bfloat16 as uint16), its full
    shape and the relative precision of its dtype."""

    raw: np.ndarray
    shape: tuple[int, ...]
    eps: float


def _sample(path: Path) -> dict[str, Sampled]:
    """The sampled start of each floating weight matrix of a safetensors file."""
    out: dict[str, Sampled] = {}
    with open(path, "rb") as fh:
        header, start = safetensors_header(fh, path)
        for name in sorted(header):
            spec = header[name]
            if name == "__metadata__" or not WEIGHT_NAME.search(name) or not isinstance(spec, dict):
                continue
            if not isinstance(spec.get("shape"), list) or len(spec["shape"]) < 2:
                continue
            dtype = FLOAT_DTYPES.get(spec.get("dtype"))
            offsets = spec.get("data_offsets")
            if dtype is None or not (isinstance(offsets, list) and len(offsets) == 2):
                continue
            begin, end = (int(x) for x in offsets)
            size = min(end - begin, SAMPLE_BYTES)
            size -= size % np.dtype(dtype).itemsize
            if size <= 0:
                continue
            fh.seek(start + begin)
            data = fh.read(size)
            if len(data) < size:
                raise ValueError(f"{path}: truncated")
            out[name] = Sampled(np.frombuffer(data, dtype=dtype),
                                tuple(int(x) for x in spec["shape"]), DTYPE_EPS[spec["dtype"]])
            if len(out) >= MAX_TENSORS:
                break
    return out


def safetensors_header(fh: BinaryIO, path: Path) -> tuple[dict[str, Any], int]:
    """The JSON header of the safetensors file open as ``fh`` (name → dtype, shape, offsets) and
    the offset its data starts at; ValueError when it is not one (or its header is over
    ``MAX_HEADER_BYTES``)."""
    head = fh.read(8)
    if len(head) < 8:
        raise ValueError(f"{path}: not a safetensors file")
    (length,) = struct.unpack("<Q", head)
    if not 2 <= length <= MAX_HEADER_BYTES:
        raise ValueError(f"{path}: not a safetensors header")
    header = json.loads(fh.read(length))
    if not isinstance(header, dict):
        raise ValueError(f"{path}: not a safetensors header")
    return header, 8 + length


def _floats(raw: np.ndarray) -> np.ndarray:
    """bfloat16 (read as uint16) widened to float32; other dtypes as they are."""
    if raw.dtype == np.dtype("<u2"):
        return (raw.astype(np.uint32) << 16).view(np.float32)
    return raw
