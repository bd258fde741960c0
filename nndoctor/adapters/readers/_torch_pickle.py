"""The plain values inside a file written by ``torch.save`` (Hugging Face's
``training_args.bin``), read without torch and without running any of the pickle's code.

``torch.save`` writes a zip archive whose ``*/data.pkl`` is an ordinary pickle. A pickle names the
classes and functions that rebuild its objects, and unpickling normally imports and calls them:
arbitrary code. Here every name resolves to an inert stand-in instead (:class:`Stub`), so loading
runs nothing of the file's: a dataclass comes back as its field dict, an enum member as its value,
a tensor as an empty stub. Files over ``MAX_PICKLE_BYTES``, or not of that layout, give None.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

MAX_PICKLE_BYTES = 1 << 20
MAX_ARCHIVE_BYTES = 64 << 20  # TrainingArguments take a few KB; a zip directory is read whole


class Stub:
    """Stands for a class or function the pickle names. Called (an enum member, a rebuild
    function) it keeps its arguments; rebuilt from state (a dataclass) it keeps the state."""

    args: tuple[Any, ...] = ()  # made by NEWOBJ (cls.__new__), __init__ is not called
    state: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __call__(self, *args: Any, **kwargs: Any) -> Stub:  # a stand-in's method, called
        return Stub(*args)


class _Inert(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> type[Stub]:
        return type(name, (Stub,), {"__module__": "nndoctor.stub", "origin": f"{module}.{name}"})

    def persistent_load(self, pid: Any) -> None:  # a tensor's storage: not read
        return None


def load_plain(path: Path) -> Any:
    """The pickled object of ``path`` with stubs resolved to plain values (see :func:`plain`),
    or None when the file is not a small ``torch.save`` archive (over ``MAX_ARCHIVE_BYTES``, or
    its pickle over ``MAX_PICKLE_BYTES``)."""
    try:
        if path.stat().st_size > MAX_ARCHIVE_BYTES:
            return None
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
            if len(names) != 1 or archive.getinfo(names[0]).file_size > MAX_PICKLE_BYTES:
                return None
            data = archive.read(names[0])
        return plain(_Inert(io.BytesIO(data)).load())
    except Exception:  # anything a hostile or foreign file raises means "unread"
        return None


def plain(value: Any, depth: int = 0) -> Any:
    """Stubs as plain data: one built from a dict state → that dict, an enum-like call with one
    scalar → the scalar; containers recursively (to a bounded depth); other stubs → None."""
    if depth > 20:
        return None
    if isinstance(value, Stub):
        if isinstance(value.state, dict):
            return plain(value.state, depth + 1)
        if value.state is None and len(value.args) == 1 and isinstance(
                value.args[0], str | int | float | bool):
            return value.args[0]
        return None
    if isinstance(value, dict):
        return {k: plain(v, depth + 1) for k, v in value.items() if isinstance(k, str)}
    if isinstance(value, list | tuple):
        return [plain(v, depth + 1) for v in value]
    return value
