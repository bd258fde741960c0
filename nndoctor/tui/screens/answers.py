"""Every known fact (answers, don't-knows, facts from the log): change or retract any."""

from __future__ import annotations

import textwrap
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Footer, Header, OptionList
from textual.widgets.option_list import Option

from nndoctor.engine.facts import FactError
from nndoctor.sanitize import clean
from nndoctor.tui.screens.base import AppScreen
from nndoctor.tui.screens.edit import EditAnswer, Edited
from nndoctor.tui.state import Entry
from nndoctor.tui.widgets.status import MovesView

SOURCE_STYLE = {"answer": "$success", "log": "$accent", "dont_know": "$text-muted"}
INDENT = " " * 6
SOURCE_NAME = {"answer": "you", "log": "log", "dont_know": "you", "probe": "probe"}


def entry_prompt(entry: Entry, width: int = 72) -> Content:
    """``  you lr = 0.1`` with the evidence or override note wrapped under it."""
    style = SOURCE_STYLE.get(entry.source, "$text")
    who = SOURCE_NAME.get(entry.source, entry.source)
    line = Content.from_markup(f"[{style}]$s[/] [b]$f[/b] = $v", s=f"{who:>5}", f=entry.fact,
                               v=clean(entry.value))  # values and notes may come from the log
    if entry.note:
        note = textwrap.fill(clean(entry.note), width, initial_indent=INDENT,
                             subsequent_indent=INDENT)
        line = Content.assemble(line, Content.from_markup("\n[$text-muted]$n[/]", n=note))
    return line


class AnswersScreen(AppScreen):
    """Enter changes the highlighted fact (with a what-if preview); Delete forgets an answer."""

    KEYS_TITLE = "Your answers"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("delete,x", "retract", "Forget"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="answers-pane"):
            yield OptionList(id="answers")
            yield MovesView(id="answers-moves")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "your answers and the log's facts"
        self.refresh_view()
        self.query_one(OptionList).focus()

    def refresh_view(self) -> None:
        interview = self.interview
        answers = self.query_one(OptionList)
        current = answers.highlighted_option.id if answers.highlighted_option else None
        answers.clear_options()
        entries = interview.entries()
        width = max(answers.size.width - 2, 30) if answers.size.width else 72
        for entry in entries:
            answers.add_option(Option(entry_prompt(entry, width), id=entry.fact))
        if not entries:
            answers.add_option(Option("Nothing known yet: answer a question first.", disabled=True))
        ids = [e.fact for e in entries]
        answers.highlighted = ids.index(current) if current in ids else 0
        titles = {cid: c.title for cid, c in interview.kb.causes.items()}
        self.query_one(MovesView).show(interview.last_change, titles)

    def _selected(self) -> str | None:
        option = self.query_one(OptionList).highlighted_option
        return option.id if option is not None and not option.disabled else None

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_change()

    def action_change(self) -> None:
        fact = self._selected()
        if fact is None:
            return
        self.app.push_screen(EditAnswer(fact), self._apply)

    def action_retract(self) -> None:
        fact = self._selected()
        if fact is not None:
            self._apply(Edited(fact, None))

    def _apply(self, edit: Edited | None) -> None:
        if edit is None:
            return
        try:
            if edit.value is None:
                self.interview.retract(edit.fact)
            else:
                self.interview.answer(edit.fact, edit.value)
        except FactError as exc:
            self.notify(str(exc), severity="warning")
            return
        self.refresh_view()
