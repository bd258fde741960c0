"""Shared pieces of the detectors: the registry and robust curve statistics."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import FrozenInstanceError
from typing import Any

import numpy as np

from nndoctor.adapters.medians import median, row_medians
from nndoctor.adapters.run import Run, Series
from nndoctor.adapters.windows import windows
from nndoctor.engine.facts import Fact, Value

Params = dict[str, Any]
Detector = Callable[[Run, Params], Iterator[Fact]]
DETECTORS: dict[str, Detector] = {}
PRODUCES: dict[str, tuple[str, ...]] = {}  # detector name -> the facts it can emit
# (kind, id of the object asked, argument) -> (that object, the answer): see one_run()
_MEMO: ContextVar[dict[tuple[Any, ...], tuple[Any, Any]] | None] = ContextVar("curves",
                                                                           default=None)


@contextmanager
def one_run() -> Iterator[None]:
    """While one run's detectors work: :meth:`Curve.of` and :meth:`Curve.smooth` give the same
    (read-only) answer again when asked again for the same series or curve, instead of computing
    it for each detector. Nothing outlives the block."""
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def remembered(kind: str, of: Any, argument: Any, compute: Callable[..., Any],
               *args: Any) -> Any:
    """``compute(*args)``, computed once per ``kind``, object ``of`` and (hashable) ``argument``
    while :func:`one_run` is active (its arrays made read-only); outside it, every time. (The
    arguments are passed, not closed over: a hit, the usual case, makes no closure.)"""
    memo = _MEMO.get()
    if memo is None:
        return compute(*args)
    key = (kind, id(of), argument)
    hit = memo.get(key)
    if hit is not None and hit[0] is of:  # the object is kept alive in the memo: ids stay unique
        return hit[1]
    answer = compute(*args)
    for array in (answer.steps, answer.values) if isinstance(answer, Curve) else (answer,):
        if isinstance(array, np.ndarray):
            array.flags.writeable = False  # shared by the detectors: none may change it
    memo[key] = (of, answer)
    return answer


def detector(name: str, produces: tuple[str, ...] = ()) -> Callable[[Detector], Detector]:
    """Register a detector under the name of its entry in detectors.yaml, with the facts it
    can produce (`nndoctor rules lint` checks every `derived_from_logs` fact has a producer)."""

    def register(fn: Detector) -> Detector:
        if name in DETECTORS and DETECTORS[name] is not fn:
            raise ValueError(f"two detectors are named {name!r}; each needs its own name")
        DETECTORS[name] = fn
        PRODUCES[name] = tuple(produces)
        return fn

    return register


def producers() -> dict[str, list[str]]:
    """Fact name -> the detectors that can produce it."""
    out: dict[str, list[str]] = {}
    for name, facts in PRODUCES.items():
        for fact in facts:
            out.setdefault(fact, []).append(name)
    return out


def log_fact(name: str, value: Value, evidence: str, detail: str = "",
             certainty: float = 1.0) -> Fact:
    """A fact read off the log (the Fact made directly: ~75 a run, and a NamedTuple's own
    ``__new__`` is a Python function)."""
    return _new_tuple(Fact, (name, value, certainty, "log", detail, evidence))


_new_tuple = tuple.__new__


class Curve:
    """The finite points of a series, with robust summaries used by several detectors; frozen
    (not a dataclass: making one costs every start ~3 M instructions)."""

    tag: str
    steps: np.ndarray
    values: np.ndarray

    def __init__(self, tag: str, steps: np.ndarray, values: np.ndarray) -> None:
        object.__setattr__(self, "tag", tag)
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "values", values)

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __repr__(self) -> str:
        return f"Curve(tag={self.tag!r}, steps={self.steps!r}, values={self.values!r})"

    @classmethod
    def of(cls, series: Series | None, tag: str, max_points: int = 0) -> Curve | None:
        """The finite points; with ``max_points``, long curves are reduced to bucket medians
        (shape detectors need the trend, not 10^6 points)."""
        if series is None:
            return None
        return remembered("of", series, (cls, tag, max_points), cls._finite, series, tag,
                          max_points)

    @classmethod
    def _finite(cls, series: Series, tag: str, max_points: int) -> Curve:
        finite = np.isfinite(series.values)
        if finite.all():  # views, not copies, of a 10-million-point series: read-only
            steps, values = series.steps.view(), series.values.view()
            steps.flags.writeable = values.flags.writeable = False
        else:
            steps, values = series.steps[finite], series.values[finite]
        del finite
        if max_points and values.size > max_points:
            size = -(-values.size // max_points)  # ceil: points per bucket
            usable = values.size - values.size % size
            buckets = values[:usable].reshape(-1, size)
            steps = steps[:usable].reshape(-1, size)[:, -1].copy()
            values = np.median(buckets, axis=1)
        return cls(tag, steps, values)

    def __len__(self) -> int:
        return int(self.values.size)

    @functools.cached_property
    def _ascending(self) -> bool:
        return bool((self.steps[1:] >= self.steps[:-1]).all())

    def between(self, low: float, high: float) -> np.ndarray:
        """The values at steps in (``low``, ``high``], in order (a slice when steps ascend)."""
        if self._ascending:  # each bound compared as its own type, as the mask compares it
            start = self.steps.searchsorted(low, side="right")
            return self.values[start:self.steps.searchsorted(high, side="right")]
        return self.values[(self.steps > low) & (self.steps <= high)]

    def within(self, lows: Sequence[float], highs: Sequence[float]) -> list[np.ndarray]:
        """``[self.between(low, high) for low, high in zip(lows, highs)]``, the bounds searched
        all at once when steps ascend."""
        if not self._ascending:
            return [self.between(low, high) for low, high in zip(lows, highs, strict=True)]
        starts = self.steps.searchsorted(np.asarray(lows), side="right").tolist()
        ends = self.steps.searchsorted(np.asarray(highs), side="right").tolist()
        values = self.values
        return [values[a:b] for a, b in zip(starts, ends, strict=True)]

    def head(self, fraction: float) -> np.ndarray:
        return self.values[: max(1, int(len(self) * fraction))]

    def tail(self, fraction: float) -> np.ndarray:
        return self.values[-max(1, int(len(self) * fraction)):]

    def level_start(self, fraction: float = 0.1) -> float:
        return self._level(False, fraction)

    def level_end(self, fraction: float = 0.1) -> float:
        return self._level(True, fraction)

    def _level(self, end: bool, fraction: float) -> float:
        """The median of the curve's first (last) ``fraction``, once per curve and fraction: a
        curve's arrays never change, and a run's detectors ask for the same few levels of its
        curves ~60 times."""
        levels = self.__dict__.get("_levels")
        if levels is None:
            levels = self.__dict__["_levels"] = {}
        found = levels.get((end, fraction))
        if found is None:
            found = levels[end, fraction] = median(self.tail(fraction) if end
                                                   else self.head(fraction))
        return found

    def smooth(self, window: int) -> np.ndarray:
        """Centered running median (robust to spikes), same length as the curve."""
        window = max(1, min(window, len(self)))
        return remembered("smooth", self, window, self._running_median, window)

    def _running_median(self, window: int) -> np.ndarray:
        if window == 1:
            return self.values.copy()
        pad = window // 2
        values = self.values  # edge padding, as np.pad(mode="edge"), without its overhead
        padded = np.concatenate((values[:1].repeat(pad), values,
                                 values[-1:].repeat(window - 1 - pad)))
        return row_medians(windows(padded, window))

    def trailing_median(self, window: int) -> np.ndarray:
        """Median of the ``window`` points before each point (NaN where there are none)."""
        out = np.empty(len(self))
        out.fill(np.nan)
        if len(self) > window:
            out[window:] = row_medians(windows(self.values[:-1], window))
        return out

    def span(self, start: int = 0, end: int = -1) -> str:
        return f"steps {int(self.steps[start])}-{int(self.steps[end])}"


def quantile(values: np.ndarray | list[float], q: float) -> float:
    """``float(np.quantile(values, q))`` (its default, linear interpolation) of a 1-D float
    array, bit for bit, without importing ``numpy.ma``, which ``np.quantile`` and
    ``np.percentile`` pull in on first use (~8 ms of a small diagnose's start-up); NaN if any
    value is. (Equal values may sit in another order than np.partition leaves them, so a -0.0
    can come out as 0.0.)"""
    ordered = np.array(values, dtype=np.float64)  # np.sort's own copy, then its sort
    ordered.sort()
    n = ordered.size
    if n == 0 or not 0.0 <= q <= 1.0:
        return float(np.quantile(values, q))  # numpy's own error or warning
    if ordered[-1] != ordered[-1]:
        return float("nan")
    virtual = (n - 1) * q
    below = int(np.floor(virtual))
    above = min(below + 1, n - 1)
    t = virtual - below
    a, b = ordered[below], ordered[above]
    diff = b - a
    return float(b - diff * (1 - t) if t >= 0.5 else a + diff * t)  # numpy's _lerp


def share_of(mask: np.ndarray) -> float:
    """``float(np.mean(mask))`` of a boolean array, bit for bit (numpy sums the trues as exact
    float64 and divides by the count, as Python's int division rounds), without np.mean's
    Python-level steps; numpy's own for an empty array."""
    if not mask.size:
        return float(np.mean(mask))
    return int(np.count_nonzero(mask)) / mask.size


def ranks(values: np.ndarray) -> np.ndarray:
    """The rank of each value (0 for the smallest; ties in order of position), as floats."""
    return np.argsort(np.argsort(values, kind="stable"), kind="stable").astype(float)


def correlation(x: np.ndarray, y: np.ndarray) -> float:
    """``float(np.corrcoef(x, y)[0, 1])`` of two 1-D arrays of one length, bit for bit: the same
    numpy steps (rows centred on their means, ``np.dot`` of them, scaled by 1 / (n - 1), divided
    by the row then the column standard deviation, clipped to [-1, 1]) without np.cov's checks
    and array wrapping (~15 µs a call). numpy's own for fewer than 2 points or a constant row."""
    rows = np.concatenate((x[None, :], y[None, :])).astype(np.float64, copy=False)
    n = rows.shape[1]
    if n < 2:
        return float(np.corrcoef(x, y)[0, 1])
    rows -= (rows.sum(axis=1) / n)[:, None]  # the mean (sum / count) without np.mean's checks
    c = np.dot(rows, rows.T.conj())
    c *= 1 / (n - 1)  # np.true_divide(1, n - 1): the same double
    first, second = math.sqrt(c[0, 0]), math.sqrt(c[1, 1])
    if not (first > 0 and second > 0):  # 0/0 or a NaN: numpy's warnings and value
        return float(np.corrcoef(x, y)[0, 1])
    r = float(c[0, 1]) / first / second
    return 1.0 if r > 1 else -1.0 if r < -1 else r


def point_noise(values: np.ndarray) -> float:
    """The standard deviation of a curve's point-to-point noise, robustly, from its successive
    differences (a trend cancels out): 1.4826 · median |Δ| / √2. NaN for fewer than 2 values."""
    if values.size < 2:
        return float("nan")
    return 1.4826 * median(np.abs(values[1:] - values[:-1])) / np.sqrt(2)


def graded(effect: float, weak: float, strong: float, floor: float = 0.35,
           ceiling: float = 1.0) -> float:
    """A fact's certainty graded by its effect size: ``floor`` at the detection threshold
    ``weak``, rising linearly to ``ceiling`` at ``strong`` (a val-loss rise of 8 % is weak
    evidence of overfitting, one of 100 % strong)."""
    if strong <= weak:
        return ceiling
    share = min(max((effect - weak) / (strong - weak), 0.0), 1.0)
    return round(floor + (ceiling - floor) * share, 4)


def relative_change(start: float, end: float) -> float:
    scale = max(abs(start), 1e-12)
    return (end - start) / scale


def pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def num(x: float) -> str:
    return f"{x:.4g}"
