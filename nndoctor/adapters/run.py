"""The plain data a reader produces: one training run as canonical metric series plus context."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from nndoctor.plain import PLAIN, Plain

CANONICAL = ("train_loss", "val_loss", "train_acc", "val_acc", "lr", "grad_norm")


class _Fresh:
    """The default of a field made anew for each instance (``field(default_factory=…)``),
    shown in a signature as a dataclass shows it."""

    def __repr__(self) -> str:
        return "<factory>"


_FRESH: Any = _Fresh()


@dataclass(**PLAIN)
class Series(Plain):
    """One metric over training: ``steps`` (int64) and ``values`` (float64, may hold NaN/Inf)."""

    steps: np.ndarray
    values: np.ndarray
    source_tag: str = ""  # the name it had in the log, e.g. "eval/loss"
    _shown = _compared = ("steps", "values", "source_tag")

    def __init__(self, steps: np.ndarray, values: np.ndarray, source_tag: str = "") -> None:
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "source_tag", source_tag)
        self.__post_init__()

    def __post_init__(self) -> None:
        if self.steps.shape != self.values.shape or self.steps.ndim != 1:
            raise ValueError("steps and values must be 1-D arrays of the same length")

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @classmethod
    def from_pairs(cls, steps: Any, values: Any, source_tag: str = "") -> Series:
        """Build a series sorted by step (stable, so repeated steps keep their order)."""
        s = np.asarray(steps, dtype=np.int64)
        v = np.asarray(values, dtype=np.float64)
        if s.size > 1 and not np.all(s[1:] >= s[:-1]):
            order = np.argsort(s, kind="stable")
            s, v = s[order], v[order]
        return cls(s, v, source_tag)


@dataclass(**PLAIN)
class Run(Plain):
    """A training run: where it came from, its series by canonical name, and its context."""

    name: str
    path: Path
    format: str
    series: dict[str, Series] = field(default_factory=dict)
    # num_classes, batch_size, optimizer, lr…; the x axis: step_unit, steps_per_epoch, epoch_base;
    # "ended": how the log says training ended (a summary, a run status), absent while it may go on
    context: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    _shown = _compared = ("name", "path", "format", "series", "context", "warnings")

    def __init__(self, name: str, path: Path, format: str,
                 series: dict[str, Series] = _FRESH, context: dict[str, Any] = _FRESH,
                 warnings: tuple[str, ...] = ()) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "format", format)
        object.__setattr__(self, "series", {} if series is _FRESH else series)
        object.__setattr__(self, "context", {} if context is _FRESH else context)
        object.__setattr__(self, "warnings", warnings)

    def get(self, name: str) -> Series | None:
        return self.series.get(name)

    def with_context(self, context: dict[str, Any]) -> Run:
        """``dataclasses.replace(self, context=context)`` without its per-field steps (the
        detectors' annotations: a few a run)."""
        return type(self)(self.name, self.path, self.format, self.series, context, self.warnings)

    def extent(self, series: Series) -> tuple[int | None, float | None]:
        """How far training got by the last point of ``series``: (optimizer steps, epochs), each
        None when the log does not say. Readers set ``context["step_unit"]`` ("step" or
        "epoch"; steps when absent), ``steps_per_epoch`` when they can derive it, and
        ``epoch_base`` (1 when epochs are counted from 1, as Ultralytics does)."""
        if not len(series):
            return None, None
        last = int(series.steps[-1])
        spe = self.context.get("steps_per_epoch")
        spe = spe if isinstance(spe, int) and spe > 0 else None
        if self.context.get("step_unit") == "epoch":
            base = self.context.get("epoch_base", 0)
            epochs = last + 1 - (base if isinstance(base, int) else 0)
            return (epochs * spe if spe else None), float(epochs)
        return last, (last / spe if spe else None)


class Reader(Protocol):
    """A log format: decides whether it can read a path and reads it into runs."""

    name: str

    def can_read(self, path: Path) -> bool: ...

    def read(self, path: Path) -> list[Run]: ...


class LogError(Exception):
    """A log that cannot be used; ``str()`` is one line naming the file and the problem."""

    def __init__(self, path: Path | str, message: str) -> None:
        self.path = str(path)
        self.message = message
        super().__init__(f"{path}: {message}")
