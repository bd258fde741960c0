"""The weight matrices inside a ``torch.save`` checkpoint (a Lightning ``.ckpt``, a saved
``state_dict``), sampled without torch and without running any of the pickle's code.

The archive's ``*/data.pkl`` names each tensor's storage (a persistent id: dtype, key) and how
the tensor views it (``torch._utils._rebuild_tensor_v2``: offset, shape, stride); the storage
itself is the archive member ``*/data/<key>``, stored uncompressed (a compressed one is not
read: seeking into it would inflate everything before the offset). The pickle is loaded with
every name it uses resolved to an inert stand-in (``_torch_pickle.Stub``) except those three,
which only record their arguments, so the first ``SAMPLE_BYTES`` of each weight matrix are read
straight from the archive, as ``_checkpoints`` reads a safetensors file.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from nndoctor.adapters.readers._checkpoints import (
    DTYPE_EPS,
    FLOAT_DTYPES,
    MAX_TENSORS,
    SAMPLE_BYTES,
    WEIGHT_NAME,
    Sampled,
)
from nndoctor.adapters.readers._torch_pickle import Stub, _Inert

MAX_PICKLE_BYTES = 4 << 20  # the metadata of a model with ~30,000 tensors
MAX_MEMBERS = 100_000
MAX_NAMES = 4096  # distinct classes and functions a pickle may name (each is a stand-in type)
_STORAGES = {"FloatStorage": "F32", "DoubleStorage": "F64", "HalfStorage": "F16",
             "BFloat16Storage": "BF16"}
# where a checkpoint keeps the model's weights: Lightning, and the usual hand-written layouts
_STATE_KEYS = ("state_dict", "model_state_dict", "model", "net", "module")


class _Storage(NamedTuple):
    key: str
    dtype: str  # safetensors' name (F32, BF16, …), "" for one that is no float


class _Tensor(NamedTuple):
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


class _Dict(dict):  # type: ignore[type-arg]
    """collections.OrderedDict as a plain dict (its BUILD state, ``_metadata``, is kept aside)."""


def _rebuild(storage: Any, offset: Any, shape: Any, stride: Any, *_rest: Any) -> _Tensor | None:
    if not isinstance(storage, _Storage) or not isinstance(offset, int):
        return None
    if not all(isinstance(v, int) for v in (*shape, *stride)):
        return None
    return _Tensor(storage, offset, tuple(shape), tuple(stride))


class _Weights(_Inert):
    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self._named: dict[tuple[str, str], Any] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return _Dict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild
        key = (module, name)
        if key not in self._named:
            if len(self._named) >= MAX_NAMES:
                raise pickle.UnpicklingError("too many names")
            self._named[key] = super().find_class(module, name)
        return self._named[key]

    def persistent_load(self, pid: Any) -> _Storage | None:
        if isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage":
            kind = getattr(pid[1], "__name__", "")
            return _Storage(str(pid[2]), _STORAGES.get(kind, ""))
        return None


def torch_weights(path: Path) -> dict[str, Sampled]:
    """The sampled start of each floating weight matrix (two or more dimensions, laid out
    contiguously) of the model a ``torch.save`` file holds; {} when it holds none or is not such
    a file. Raises nothing a hostile or foreign file could cause."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            pickles = [m for m in members if m.filename.endswith("/data.pkl")]
            if len(members) > MAX_MEMBERS or len(pickles) != 1 \
                    or pickles[0].file_size > MAX_PICKLE_BYTES:
                return {}
            prefix = pickles[0].filename[:-len("data.pkl")]
            loaded = _Weights(archive.read(pickles[0])).load()
            tensors = _state_dict(loaded)
            out: dict[str, Sampled] = {}
            for name, tensor in sorted(tensors.items()):
                sampled = _read(archive, prefix, tensor)
                if sampled is not None and WEIGHT_NAME.search(name):
                    out[name] = sampled
                    if len(out) >= MAX_TENSORS:
                        break
            return out
    except Exception:  # anything a hostile or foreign file raises means "unread"
        return {}


def _state_dict(loaded: Any) -> dict[str, _Tensor]:
    """The name → tensor mapping of a checkpoint: the object itself, or under a usual key."""
    candidates = [loaded] + [loaded.get(k) for k in _STATE_KEYS if isinstance(loaded, dict)]
    for candidate in candidates:
        if isinstance(candidate, dict) and not isinstance(candidate, Stub):
            tensors = {k: v for k, v in candidate.items()
                       if isinstance(k, str) and isinstance(v, _Tensor)}
            if tensors:
                return tensors
    return {}


def stored(archive: zipfile.ZipFile, prefix: str, tensor: _Tensor
           ) -> tuple[zipfile.ZipInfo, str] | None:
    """The archive member holding a float tensor laid out contiguously, uncompressed, and its
    numpy dtype; None for any other (a transposed or strided view: its first bytes are not its
    first rows; torch stores storages uncompressed, and seeking into a deflated one costs)."""
    dtype = FLOAT_DTYPES.get(tensor.storage.dtype)
    if dtype is None or not tensor.shape or min(tensor.shape) < 1:
        return None
    contiguous = tuple(int(np.prod(tensor.shape[i + 1:])) for i in range(len(tensor.shape)))
    if tensor.stride != contiguous:
        return None
    info = archive.getinfo(f"{prefix}data/{tensor.storage.key}")
    return (info, dtype) if info.compress_type == zipfile.ZIP_STORED else None


def _read(archive: zipfile.ZipFile, prefix: str, tensor: _Tensor) -> Sampled | None:
    found = stored(archive, prefix, tensor) if len(tensor.shape) >= 2 else None
    if found is None:
        return None
    info, dtype = found
    item = np.dtype(dtype).itemsize
    size = min(int(np.prod(tensor.shape)) * item, SAMPLE_BYTES)
    size -= size % item
    if (tensor.offset * item + size) > info.file_size:
        return None
    with archive.open(info) as member:
        member.seek(tensor.offset * item)
        data = member.read(size)
    if len(data) < size:
        return None
    return Sampled(np.frombuffer(data, dtype=dtype), tensor.shape, DTYPE_EPS[tensor.storage.dtype])
