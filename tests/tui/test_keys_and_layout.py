"""The keys are listed (help screen `?`, README), the question stays in view at 80×24 with WHY
open, notifications stay off the plot's axes, curve markers are symptoms that hold, and an
interview without a log opens with the symptom question - all on the real knowledge base."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.errors import NoWidget
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import OptionList, Static

from nndoctor.commands.ask import build_app
from nndoctor.engine.session import Session
from nndoctor.report.figures import symptoms
from nndoctor.tui.app import NNDoctorApp
from nndoctor.tui.screens.answers import AnswersScreen
from nndoctor.tui.screens.ask import AskScreen
from nndoctor.tui.screens.cause import CauseScreen
from nndoctor.tui.screens.causes import CausesScreen
from nndoctor.tui.screens.curves import CurvesScreen
from nndoctor.tui.screens.dialogs import ConfirmDialog, PathDialog
from nndoctor.tui.screens.edit import EditAnswer
from nndoctor.tui.screens.help import HelpScreen, declared
from tests.tui.conftest import drive, settle, text_of

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SCREENS = (NNDoctorApp, AskScreen, CauseScreen, CausesScreen, AnswersScreen, CurvesScreen,
           EditAnswer, PathDialog, ConfirmDialog, HelpScreen)


def on_screen(pilot: Pilot[None], widget: Widget) -> Region:
    """The part of ``widget`` the terminal shows (empty when scrolled away or hidden)."""
    try:
        geometry = pilot.app.screen.find_widget(widget)
    except NoWidget:
        return Region()
    return geometry.region.intersection(geometry.clip)


def test_an_interview_without_a_log_opens_with_the_symptom_question(app: NNDoctorApp) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        interview = app.interview
        assert interview is not None and interview.question is not None
        assert interview.question.fact == "main_symptom"
        assert interview.kb.facts["main_symptom"].opens_interview
        assert text_of(pilot, "#q-text").startswith(interview.question.text)

    drive(app, scenario)


def test_with_a_log_the_symptom_question_is_not_the_opening() -> None:
    app = build_app(EXAMPLES / "overfitting", None)

    async def scenario(pilot: Pilot[None]) -> None:
        assert app.interview is not None and app.interview.question is not None
        assert app.interview.question.fact != "main_symptom"

    drive(app, scenario)


@pytest.mark.parametrize("answers", [0, 1])
def test_why_keeps_the_question_and_its_choices_in_view_at_80x24(app: NNDoctorApp,
                                                                  answers: int) -> None:
    """The opening question has the longest WHY (every symptom's effect); before, opening it
    scrolled the question and its choices out of the pane."""

    async def scenario(pilot: Pilot[None]) -> None:
        for _ in range(answers):
            await pilot.press("enter")
            await pilot.pause()
        await pilot.press("w")
        await pilot.pause()
        screen = app.screen
        question = screen.query_one("#q-text", Static)
        shown = on_screen(pilot, question)
        assert shown.height == question.region.height > 0  # the whole question
        choices = screen.query_one("#q-choices", OptionList)
        assert on_screen(pilot, choices).height >= 3
        highlighted = choices.highlighted or 0
        assert choices.scroll_offset.y <= highlighted < choices.scroll_offset.y + 5
        assert on_screen(pilot, screen.query_one("#q-why", Static)).height >= 3
        await pilot.press("down", "down", "down", "down", "down", "down")
        await pilot.pause()
        assert on_screen(pilot, question).height == question.region.height  # still there
        await pilot.press("w")
        await pilot.pause()
        assert not screen.query_one("#why-scroll").display
        assert on_screen(pilot, screen.query_one("#q-help", Static)).height > 0  # help is back

    drive(app, scenario)


def test_question_mark_lists_every_key_of_the_screen_and_the_app(app: NNDoctorApp) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(" ".join(s.content.plain.split()) for s in app.screen.query(Static)
                        if hasattr(s.content, "plain"))
        for binding in declared(AskScreen) + declared(NNDoctorApp):
            assert f"{app.get_key_display(binding)} {binding.description}" in text, binding
        assert "Undo (not now)" in text  # nothing to undo yet
        assert "The interview" in text and "Everywhere" in text
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, AskScreen)
        await pilot.press("c")  # no log: curves are not available, the key does nothing
        await pilot.press("k", "question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "All causes" in " ".join(s.content.plain for s in app.screen.query(Static)
                                        if hasattr(s.content, "plain"))
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, CausesScreen)

    drive(app, scenario)


def readme_keys() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"^## Keys of `nndoctor ask`\n(.*?)(?=^## )", text, re.S | re.M)
    assert match, "README.md needs a '## Keys of `nndoctor ask`' section"
    return match.group(1)


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: s.__name__)
def test_the_readme_lists_every_key(screen: type) -> None:
    """A key added to a screen without a line in the README fails here."""
    table = readme_keys()
    app = NNDoctorApp(Session())
    for binding in declared(screen):
        key = app.get_key_display(binding)
        rows = [row for row in table.splitlines() if f"`{key}`" in row]
        assert any(binding.description.lower() in row.lower() for row in rows), \
            f"README: no row with `{key}` and {binding.description!r} ({screen.__name__})"


def test_curve_markers_are_only_symptoms_that_hold() -> None:
    """The overfitting example: the rising validation loss is marked; the initial loss (about as
    expected - a measurement, no symptom) is not, though its evidence names a step."""
    app = build_app(EXAMPLES / "overfitting", None)
    app.use_plotext = False

    async def scenario(pilot: Pilot[None]) -> None:
        interview = app.interview
        assert interview is not None
        initial = interview.session.facts["initial_loss_vs_expected"]
        assert initial.value == "about_expected" and "step" in initial.detail
        held = {s.fact for s in symptoms(interview.report(questions=0), 5, interview.kb)}
        assert "val_loss_rising" in held and "initial_loss_vs_expected" not in held
        await pilot.press("c")
        await pilot.pause()
        marks = text_of(pilot, ".marks")
        assert "val loss rising (val_loss, step 48)" in marks  # the fact's human label
        assert "initial loss" not in marks

    drive(app, scenario)


def test_notifications_on_the_curves_stay_off_the_axes_and_the_marks() -> None:
    pytest.importorskip("textual_plotext")
    import asyncio

    from textual.widgets._toast import Toast

    from nndoctor.tui.widgets.plot import CurvePlot

    app = build_app(EXAMPLES / "overfitting", None)
    app.use_plotext = True

    async def main() -> None:
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            while not app.ready:
                await pilot.pause(0.02)
            await pilot.press("c")
            await settle(pilot)
            app.notify("Report written to nndoctor-report.md")
            app.notify("a warning that runs over two lines of the toast, naming a log file "
                       "that is long", severity="warning")
            await settle(pilot)
            toasts = [on_screen(pilot, t) for t in app.screen.query(Toast)]
            assert len(toasts) == 2 and all(t.area for t in toasts)
            plot = on_screen(pilot, app.screen.query_one(CurvePlot))
            y_axis = Region(plot.x, plot.y, 10, plot.height)  # tick labels and the axis line
            x_axis = Region(plot.x, plot.bottom - 3, plot.width, 3)  # ticks, labels, "step"
            marks = on_screen(pilot, app.screen.query_one(".marks", Static))
            for toast in toasts:
                for kept in (y_axis, x_axis, marks):
                    assert not toast.overlaps(kept), (toast, kept)

    asyncio.run(main())
