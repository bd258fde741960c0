"""Where probe values go: the ``nndoctor/<quantity>/<layer>`` tag scheme and its writers.

A TensorBoard-style writer (anything with ``add_scalar(tag, value, step)``) is used as given;
otherwise :class:`JsonlWriter` writes one JSON object per step, ``{"step": N, "<tag>": value}``,
which the JSON Lines reader turns back into series under the same names.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import IO, Protocol

from nndoctor.adapters.run import Series
from nndoctor.adapters.symptoms.probes import ACT_KINDS  # act_kind codes, one definition

PREFIX = "nndoctor"
JSONL_NAME = "probe.jsonl"
QUANTITIES = ("dead_fraction", "saturated_fraction", "update_ratio", "grad_norm", "act_std",
              "act_mean", "act_kind", "act_units", "frozen", "weights_nonfinite",
              "act_nonfinite", "symmetric_units")
__all__ = ["ACT_KINDS", "JsonlWriter", "MemoryWriter", "ScalarWriter", "clean_layer", "layer_names",
           "tag"]


class ScalarWriter(Protocol):
    """The one method the probes need from a logger (TensorBoard SummaryWriter has it)."""

    def add_scalar(self, tag: str, scalar_value: float, global_step: int) -> None: ...


def clean_layer(name: str) -> str:
    """A layer name that every reader keeps unchanged: lower case, ``[a-z0-9_.-]`` only."""
    text = re.sub(r"[^a-z0-9_.\-]+", "_", name.strip().lower())
    return re.sub(r"_+", "_", text).strip("_.") or "model"


def tag(quantity: str, layer: str | None = None) -> str:
    """``nndoctor/<quantity>/<layer>`` (or ``nndoctor/<quantity>`` without a layer)."""
    return f"{PREFIX}/{quantity}" + (f"/{layer}" if layer else "")


def layer_names(names: list[str]) -> dict[str, str]:
    """Module names in forward order → ``NN-name`` tags whose alphabetical order is that order.

    Readers may sort series by name; the zero-padded index keeps first/last layer comparisons
    (gradient ratio, activation std collapse) right whatever the reader does.
    """
    width = max(2, len(str(max(len(names) - 1, 0))))
    return {n: f"{i:0{width}d}-{clean_layer(n or 'model')}" for i, n in enumerate(names)}


class JsonlWriter:
    """Buffers the scalars of one step and writes them as one JSON line when the step changes
    (or on close), so each step is one line even when the loss arrives after the probe values."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.suffix != ".jsonl":
            self.path = self.path / JSONL_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = self.path.open("w", encoding="utf-8")
        self._step: int | None = None
        self._row: dict[str, float] = {}

    def add_scalar(self, tag: str, scalar_value: float, global_step: int) -> None:
        if global_step != self._step:
            self._write_row()
            self._step = global_step
        self._row[tag] = float(scalar_value)

    def _write_row(self) -> None:
        if self._file is None or self._step is None or not self._row:
            return
        # NaN/Inf are written as Python's json writes them (NaN, Infinity): the JSON Lines
        # reader accepts them, and a non-finite loss is exactly what must survive the trip.
        self._file.write(json.dumps({"step": self._step, **self._row}) + "\n")
        self._row = {}

    def flush(self) -> None:
        """Push finished rows to disk; the current step's row waits for its last values."""
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._write_row()
            self._file.close()
            self._file = None


class MemoryWriter:
    """Keeps scalars in memory, in the order they arrive (pre-flight checks, tests)."""

    def __init__(self) -> None:
        self.points: dict[str, list[tuple[int, float]]] = {}

    def add_scalar(self, tag: str, scalar_value: float, global_step: int) -> None:
        self.points.setdefault(tag, []).append((int(global_step), float(scalar_value)))

    def series(self) -> dict[str, Series]:
        return {t: Series.from_pairs([s for s, _ in p], [v for _, v in p], t)
                for t, p in self.points.items()}
