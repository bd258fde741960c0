"""Every cause of the knowledge base with its score: open any, ranked or not (WHY NOT)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import Footer, Header, OptionList
from textual.widgets.option_list import Option

from nndoctor.tui.screens.base import AppScreen
from nndoctor.tui.widgets.text import band_content, bar


class CausesScreen(AppScreen):
    """All causes, highest score first; Enter opens one."""

    KEYS_TITLE = "All causes"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "Back")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield OptionList(id="all-causes")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "all causes"
        self.refresh_view()
        self.query_one(OptionList).focus()

    def refresh_view(self) -> None:
        interview = self.interview
        causes = self.query_one(OptionList)
        current = causes.highlighted
        causes.clear_options()
        for cid, title, score in interview.all_causes():
            ranked = interview.diagnosis.cause(cid)
            band = ranked.band if ranked else None
            score_text = (band_content(score, band, 8) if band else Content.from_markup(
                "[$text-muted]$b $s[/]", b=bar(score, 8), s=f"{score:+.2f}"))
            prompt = Content.assemble(score_text, " ", Content.from_markup("[b]$t[/b]", t=title))
            causes.add_option(Option(prompt, id=cid))
        causes.highlighted = current if current is not None else 0

    @on(OptionList.OptionSelected)
    def open_cause(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.nnd.show_cause(event.option.id)
