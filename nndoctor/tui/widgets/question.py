"""One question: its text, help, the choices (plus "don't know") and a number box; and the
WHY of a question, shown beside it in a region of its own."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from nndoctor.engine.session import DONT_KNOW
from nndoctor.tui.messages import AnswerChosen, AnswerHighlighted
from nndoctor.tui.state import Prompt

RETRACT = "__retract__"  # the extra choice of the change-an-answer dialog


class QuestionView(Vertical):
    """Shows a :class:`Prompt`; picking a choice or typing a number posts :class:`AnswerChosen`."""

    def __init__(self, *, retract: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.prompt: Prompt | None = None
        self._retract = retract

    def compose(self) -> ComposeResult:
        yield Static(id="q-text")
        yield Static(id="q-help", classes="help")
        yield OptionList(id="q-choices")
        yield Input(id="q-number", type="number", placeholder="type a number, Enter")
        yield Static(id="q-error", classes="error")

    def show(self, prompt: Prompt | None, empty: str = "") -> None:
        """Display a prompt, or the ``empty`` text when there is none."""
        self.prompt = prompt
        text = self.query_one("#q-text", Static)
        choices = self.query_one("#q-choices", OptionList)
        number = self.query_one("#q-number", Input)
        self.show_error("")
        choices.clear_options()
        if prompt is None:
            text.update(empty)
            self.query_one("#q-help", Static).update("")
            choices.display = number.display = False
            return
        current = (Content.from_markup("\n[$text-muted]now:[/] [b]$c[/b]", c=prompt.current)
                   if prompt.current else Content(""))
        text.update(Content.assemble(Content.from_markup("[b]$t[/b]", t=prompt.text), current))
        self.query_one("#q-help", Static).update(prompt.help)
        unit = f" ({prompt.unit})" if prompt.unit else ""
        options = [Option(label, id=f"v:{value}") for value, label in prompt.choices]
        options.append(Option("Don't know", id=DONT_KNOW))
        if self._retract:
            options.append(Option("Forget this answer", id=RETRACT))
        choices.add_options(options)
        choices.display = True
        choices.highlighted = self._index_of(prompt.current)
        number.display = prompt.number
        number.value = ""
        number.placeholder = f"or type a number{unit}, Enter"

    def _index_of(self, label: str | None) -> int:
        if self.prompt is None or label is None:
            return 0
        labels = [lbl for _, lbl in self.prompt.choices] + ["don't know"]
        return labels.index(label) if label in labels else 0

    def show_error(self, message: str) -> None:
        error = self.query_one("#q-error", Static)
        error.update(message)
        error.display = bool(message)

    def focus_choices(self) -> None:
        self.query_one("#q-choices", OptionList).focus()

    @staticmethod
    def _value(option_id: str | None) -> str | None:
        if option_id is None:
            return None
        return option_id[2:] if option_id.startswith("v:") else option_id

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        value = self._value(event.option.id)
        if self.prompt is not None and value is not None:
            self.post_message(AnswerChosen(self.prompt.fact, value))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        value = self._value(event.option.id)
        if self.prompt is not None and value is not None:
            self.post_message(AnswerHighlighted(self.prompt.fact, value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.prompt is None:
            return
        if not event.value.strip():
            self.show_error("Type a number, or pick a choice above.")
            return
        self.post_message(AnswerChosen(self.prompt.fact, event.value.strip()))


class WhyView(VerticalScroll):
    """Why the question is asked: which hypotheses it separates. It scrolls on its own, so the
    question and its choices stay in view above it."""

    def compose(self) -> ComposeResult:
        yield Static(id="q-why", classes="why")

    def show(self, prompt: Prompt | None) -> None:
        why = (prompt.why if prompt else "") or "It is one of the facts the rules test."
        self.query_one("#q-why", Static).update(Content.from_markup("[b]Why:[/b] $w", w=why))
        self.scroll_home(animate=False)
