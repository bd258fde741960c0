"""The main screen: the next question on the left, the live ranking on the right."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Footer, Header

from nndoctor.engine.facts import FactError
from nndoctor.sanitize import clean
from nndoctor.tui.messages import AnswerChosen, CauseChosen
from nndoctor.tui.screens.base import AppScreen
from nndoctor.tui.widgets.question import QuestionView, WhyView
from nndoctor.tui.widgets.ranking import RankingList
from nndoctor.tui.widgets.status import MovesView, ProgressView

LOADING = "Loading the knowledge base…"
DONE = ("[b]Nothing left to ask[/b] that would move the ranking.\n\n"
        "Open a cause on the right for its fixes, review your answers (a), "
        "or export the report (e).")


class AskScreen(AppScreen):
    """Ask one question at a time; every answer re-ranks the causes."""

    KEYS_TITLE = "The interview"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("w", "toggle_why", "Why?"),
        Binding("u", "undo", "Undo"),
        Binding("a", "answers", "Answers"),
        Binding("k", "causes", "Causes"),
        Binding("c", "curves", "Curves"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="ask"):
            with Vertical(id="interview-pane") as pane:
                pane.border_title = "Question"
                yield ProgressView(id="progress")
                with VerticalScroll(id="question-scroll", can_focus=False):
                    yield QuestionView(id="question")
                yield WhyView(id="why-scroll")
            with Vertical(id="ranking-pane") as pane:
                pane.border_title = "Likely causes"
                yield RankingList(id="ranking")
                yield MovesView(id="moves")
        yield Footer(compact=True)

    show_why: reactive[bool] = reactive(False)

    def on_mount(self) -> None:
        self.watch_show_why(self.show_why)
        if self.nnd.interview is None:  # a still text, not a spinner: the GIL goes to loading
            self.query_one(QuestionView).show(None, LOADING)
        else:
            self.refresh_view()

    def refresh_view(self) -> None:
        interview = self.interview
        self.query_one(ProgressView).show(interview.progress())
        prompt = interview.prompt()
        self.query_one(QuestionView).show(prompt, DONE)
        self.query_one(WhyView).show(prompt)
        self.watch_show_why(self.show_why)
        moves = {m.cause: m for m in interview.last_change.moves} if interview.last_change else {}
        ranking = self.query_one(RankingList)
        ranking.show(interview.diagnosis.causes, moves)
        ranking.border_title = None
        if not interview.diagnosis.causes:
            ranking.add_option("No cause ranked yet: answer a question or open a log (o).")
            ranking.disable_option_at_index(0)
        titles = {cid: c.title for cid, c in interview.kb.causes.items()}
        self.query_one(MovesView).show(interview.last_change, titles)
        self.sub_title = clean(interview.run.name) if interview.run else "interview"
        self.refresh_bindings()
        if interview.question is not None and not self.query_one(RankingList).has_focus:
            self.query_one(QuestionView).focus_choices()

    @on(AnswerChosen)
    def record(self, event: AnswerChosen) -> None:
        try:
            self.interview.answer(event.fact, event.value)
        except FactError as exc:
            self.query_one(QuestionView).show_error(str(exc))
            return
        self.query_one("#question-scroll").scroll_home(animate=False)
        self.refresh_view()

    @on(CauseChosen)
    def open_cause(self, event: CauseChosen) -> None:
        self.nnd.show_cause(event.cause_id)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        interview = self.nnd.interview
        if interview is None:
            return False
        if action == "undo":
            return bool(interview.history)
        if action == "curves":
            return interview.run is not None
        if action == "toggle_why":
            return interview.question is not None
        return True

    def action_toggle_why(self) -> None:
        self.show_why = not self.show_why

    def watch_show_why(self, show: bool) -> None:
        """WHY opens below the question in a region of its own; the help text folds away and the
        choices list shortens so the question and the highlighted choice stay in view."""
        interview = self.nnd.interview
        shown = show and interview is not None and interview.question is not None
        self.query_one(WhyView).display = shown
        self.query_one("#interview-pane").set_class(shown, "-why-open")
        self.query_one("#question-scroll").scroll_home(animate=False)

    def action_undo(self) -> None:
        if self.nnd.interview is None:
            return
        last = self.interview.last_answer()
        if last is None:
            self.notify("No answer to undo.")
            return
        self.interview.retract(last)
        self.refresh_view()

    def action_answers(self) -> None:
        self.nnd.show_answers()

    def action_causes(self) -> None:
        self.nnd.show_all_causes()

    def action_curves(self) -> None:
        self.nnd.show_curves()
