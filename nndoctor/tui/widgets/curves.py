"""Training curves: a plotext chart when textual-plotext is installed, sparklines otherwise."""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from textual.content import Content
from textual.events import Resize
from textual.widget import Widget
from textual.widgets import Static

from nndoctor.adapters.run import Run, Series

GROUPS = (
    ("loss", ("train_loss", "val_loss")),
    ("accuracy", ("train_acc", "val_acc")),
    ("lr", ("lr",)),
    ("grad norm", ("grad_norm",)),
)
BARS = " ▁▂▃▄▅▆▇█"
LOG_SPAN = 1e3  # max/min ratio above which a plot's y axis is logarithmic


@dataclass(frozen=True)
class Mark:
    """A detected symptom at a step of a series."""

    series: str
    step: int
    fact: str
    label: str = ""  # the fact's short human name (knowledge/facts: label)


@dataclass(frozen=True)
class CurveGroup:
    title: str
    series: tuple[tuple[str, Series], ...]
    marks: tuple[Mark, ...]


def plotext_available() -> bool:
    return importlib.util.find_spec("textual_plotext") is not None


def curve_groups(run: Run, marks: Sequence[Mark]) -> list[CurveGroup]:
    """The canonical series of a run grouped into charts, each with its symptom marks."""
    groups = []
    for title, names in GROUPS:
        series = tuple((n, run.series[n]) for n in names if n in run.series and len(run.series[n]))
        if series:
            groups.append(CurveGroup(title, series, tuple(m for m in marks if m.series in names)))
    return groups


def log_scale(group: CurveGroup) -> bool:
    """Whether the chart needs a log y axis: positive values spanning > LOG_SPAN (a blow-up
    would flatten everything before it)."""
    finite = [s.values[np.isfinite(s.values)] for _, s in group.series]
    values = np.concatenate(finite) if finite else np.array([])
    return bool(values.size and values.min() > 0 and values.max() / values.min() > LOG_SPAN)


def column_means(series: Series, width: int) -> tuple[list[float | None], np.ndarray]:
    """Mean of each of ``width`` buckets (None where a bucket holds a non-finite value) and the
    first step of each bucket."""
    values = series.values
    n = min(width, values.size)
    edges = np.linspace(0, values.size, n + 1).astype(int)
    means: list[float | None] = []
    for lo, hi in itertools.pairwise(edges):
        chunk = values[lo:hi]
        means.append(float(chunk.mean()) if np.isfinite(chunk).all() else None)
    return means, series.steps[np.minimum(edges[:-1], values.size - 1)]


def block_chart(means: Sequence[float | None], height: int) -> list[str]:
    """Rows (top first) of a bar chart in eighth blocks; × marks a non-finite bucket."""
    known = [m for m in means if m is not None]
    low, high = (min(known), max(known)) if known else (0.0, 1.0)
    span = (high - low) or 1.0
    levels = [None if m is None else 1 + round((m - low) / span * (height * 8 - 1))
              for m in means]
    rows = []
    for row in range(height - 1, -1, -1):
        cells = []
        for level in levels:
            if level is None:
                cells.append("×" if row == 0 else " ")
            else:
                fill = min(max(level - row * 8, 0), 8)
                cells.append(BARS[fill])
        rows.append("".join(cells))
    return rows


class SparkCurves(Static):
    """The fallback chart: a small bar chart per series with ▲ under each symptom's step."""

    def __init__(self, group: CurveGroup, height: int = 4) -> None:
        super().__init__()
        self.group = group
        self.chart_height = height

    def on_resize(self, event: Resize) -> None:
        self.draw(max(self.content_region.width, 10))

    def draw(self, width: int) -> None:
        parts: list[Content | str] = []
        for name, series in self.group.series:
            means, starts = column_means(series, width)
            finite = series.values[np.isfinite(series.values)]
            rng = (f"{finite[0]:.4g} → {finite[-1]:.4g} (min {finite.min():.4g}, "
                   f"max {finite.max():.4g})" if finite.size else "no finite value")
            parts.append(Content.from_markup("[b]$n[/b] [$text-muted]$r[/]\n", n=name, r=rng))
            rows = block_chart(means, self.chart_height)
            parts.append(Content.from_markup("[$primary]$c[/]\n", c="\n".join(rows)))
            ticks = [" "] * len(means)
            for mark in self.group.marks:
                if mark.series == name:
                    ticks[max(int(np.searchsorted(starts, mark.step, side="right")) - 1, 0)] = "▲"
            parts.append(Content.from_markup("[$error]$t[/]\n", t="".join(ticks).rstrip()))
        self.update(Content.assemble(*parts))


def curve_widget(group: CurveGroup, use_plotext: bool | None = None) -> Widget:
    """A chart of one group: plotext if available (or asked for), else sparklines."""
    if use_plotext is None:
        use_plotext = plotext_available()
    if use_plotext:
        from nndoctor.tui.widgets.plot import CurvePlot

        return CurvePlot(group)
    return SparkCurves(group)
