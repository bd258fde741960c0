"""Change one answer: the fact's choices, "forget", and a live what-if preview of the moves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from nndoctor.engine.facts import FactError
from nndoctor.engine.session import DONT_KNOW
from nndoctor.tui.messages import AnswerChosen, AnswerHighlighted
from nndoctor.tui.state import Change, Interview
from nndoctor.tui.widgets.question import RETRACT, QuestionView
from nndoctor.tui.widgets.status import MovesView

if TYPE_CHECKING:
    from nndoctor.tui.app import NNDoctorApp


@dataclass(frozen=True)
class Edited:
    """The new value of a fact (None = forget the answer)."""

    fact: str
    value: str | None


class EditAnswer(ModalScreen[Edited | None]):
    """Pick a new answer for ``fact``; the preview shows what it would move."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, fact: str) -> None:
        super().__init__()
        self.fact = fact

    @property
    def interview(self) -> Interview:
        interview = cast("NNDoctorApp", self.app).interview
        assert interview is not None
        return interview

    def compose(self) -> ComposeResult:
        with Vertical(id="edit-dialog") as dialog:
            dialog.border_title = f"Change {self.fact}"
            dialog.border_subtitle = "Enter apply · Esc cancel"
            with VerticalScroll(id="edit-scroll", can_focus=False):
                yield QuestionView(retract=True, id="edit-question")
            yield Static("[b]What if[/b]", classes="help")
            yield MovesView(id="preview")

    def on_mount(self) -> None:
        view = self.query_one(QuestionView)
        view.show(self.interview.prompt_for(self.fact))
        view.focus_choices()

    @on(AnswerHighlighted)
    def preview(self, event: AnswerHighlighted) -> None:
        value = None if event.value == RETRACT else event.value
        prompt = self.query_one(QuestionView).prompt
        labels = {RETRACT: "forget it", DONT_KNOW: "don't know",
                  **dict(prompt.choices if prompt else ())}
        label = labels.get(event.value, event.value)
        try:
            moves = self.interview.preview(self.fact, value)
        except FactError as exc:
            self.query_one(MovesView).update(str(exc))
            return
        titles = {cid: c.title for cid, c in self.interview.kb.causes.items()}
        self.query_one(MovesView).show(Change(f"{self.fact} → {label}", moves), titles)

    @on(AnswerChosen)
    def chosen(self, event: AnswerChosen) -> None:
        value = None if event.value == RETRACT else event.value
        if value is not None:
            try:
                self.interview.preview(self.fact, value)
            except FactError as exc:
                self.query_one(QuestionView).show_error(str(exc))
                return
        self.dismiss(Edited(self.fact, value))

    def action_cancel(self) -> None:
        self.dismiss(None)
