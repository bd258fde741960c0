"""One cause in full: meaning, HOW or WHY NOT, fixes with verification, sources."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header

from nndoctor.tui.screens.base import AppScreen
from nndoctor.tui.widgets.detail import CauseDetail


class CauseScreen(AppScreen):
    """The detail of a cause, scrollable; Escape goes back."""

    KEYS_TITLE = "One cause"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,backspace", "app.pop_screen", "Back")]

    def __init__(self, cause_id: str) -> None:
        super().__init__()
        self.cause_id = cause_id

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="detail-scroll"):
            yield CauseDetail(id="detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.refresh_view()
        self.query_one("#detail-scroll").focus()

    def refresh_view(self) -> None:
        self.sub_title = self.interview.kb.causes[self.cause_id].title
        self.query_one(CauseDetail).show(self.interview, self.cause_id)
