"""The plotext chart of a curve group (needs the optional textual-plotext package)."""

from __future__ import annotations

import numpy as np
from textual_plotext import PlotextPlot

from nndoctor.tui.widgets.curves import CurveGroup, log_scale

COLORS = ("cyan", "orange", "green", "magenta")


class CurvePlot(PlotextPlot):
    """Lines of each series, a red ✕ where a symptom was detected."""

    def __init__(self, group: CurveGroup) -> None:
        super().__init__()
        self.group = group

    def on_mount(self) -> None:
        plt = self.plt
        plt.clear_figure()
        plt.xlabel("step")
        for (name, series), color in zip(self.group.series, COLORS, strict=False):
            ok = np.isfinite(series.values)
            plt.plot(series.steps[ok].tolist(), series.values[ok].tolist(),
                     label=name, marker="braille", color=color)
        if log_scale(self.group):
            plt.yscale("log")
        for mark in self.group.marks:
            series = dict(self.group.series).get(mark.series)
            if series is None:
                continue
            plt.vline(mark.step, "red")
            ok = np.isfinite(series.values) & (series.steps >= mark.step)
            if ok.any():
                i = int(np.argmax(ok))
                plt.scatter([int(series.steps[i])], [float(series.values[i])],
                            marker="x", color="red")
