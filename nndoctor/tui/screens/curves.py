"""The log's curves, one tab per group, with markers where symptoms were detected."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from nndoctor.adapters.run import Run
from nndoctor.sanitize import clean, clean_markup
from nndoctor.tui.screens.base import AppScreen
from nndoctor.tui.widgets.curves import (
    CurveGroup,
    Mark,
    curve_groups,
    curve_widget,
    log_scale,
    plotext_available,
)


class CurvesScreen(AppScreen):
    """Charts of the loaded run (plotext, or sparklines without textual-plotext)."""

    KEYS_TITLE = "Curves"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, use_plotext: bool | None = None) -> None:
        super().__init__()
        self.use_plotext = use_plotext
        self._shown: Run | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        interview = self.interview
        run = interview.run
        if run is None:
            yield Static("No log loaded. Press [b]o[/b] to open one.", id="no-curves")
        else:
            from nndoctor.report.figures import symptoms

            report = interview.report(questions=0)  # the HTML report marks the same symptoms
            marks = [Mark(s.series, s.step, s.fact, s.label)
                     for s in symptoms(report, len(report.diagnosis.causes), interview.kb)
                     if s.series and s.step is not None]
            groups = curve_groups(run, marks)
            if not groups:
                yield Static(f"{clean_markup(run.name)}: no loss, accuracy, lr or grad-norm "
                             "series.",
                             id="no-curves")
            else:
                with TabbedContent(id="curves"):
                    for i, group in enumerate(groups):
                        with TabPane(group.title, id=f"curve-{i}"):
                            plotext = self.use_plotext
                            if plotext is None:
                                plotext = plotext_available()
                            yield curve_widget(group, plotext)
                            yield Static(legend(group, plotext), classes="marks")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._shown = self.interview.run
        self.sub_title = f"curves of {clean(self._shown.name)}" if self._shown else "curves"

    def refresh_view(self) -> None:
        """Redraw only when another log was opened."""
        if self.interview.run is not self._shown:
            self._shown = self.interview.run
            self.sub_title = f"curves of {clean(self._shown.name)}" if self._shown else "curves"
            self.refresh(recompose=True)


def legend(group: CurveGroup, plotext: bool) -> Content:
    """The symptoms marked on a chart (and whether its y axis is logarithmic)."""
    scale = " [$text-muted](log y axis)[/]" if plotext and log_scale(group) else ""
    if not group.marks:
        return Content.from_markup(f"[$text-muted]no symptom marked on these curves[/]{scale}")
    text = ", ".join(f"{m.label or m.fact} ({m.series}, step {m.step})" for m in group.marks)
    return Content.from_markup(f"[$error]{'✕' if plotext else '▲'}[/] $t{scale}", t=text)
