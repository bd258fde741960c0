"""Going back: change an answer (with a what-if preview), forget one, start over."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import OptionList

from nndoctor.tui.app import NNDoctorApp
from nndoctor.tui.screens.answers import AnswersScreen
from nndoctor.tui.screens.ask import AskScreen
from nndoctor.tui.screens.dialogs import ConfirmDialog
from nndoctor.tui.screens.edit import EditAnswer
from tests.tui.conftest import drive, text_of


async def answer_first_choices(pilot: Pilot[None], count: int) -> list[str]:
    app = pilot.app
    assert isinstance(app, NNDoctorApp) and app.interview is not None
    facts = []
    for _ in range(count):
        assert app.interview.question is not None
        facts.append(app.interview.question.fact)
        await pilot.press("enter")
        await pilot.pause()
    return facts


def test_changing_an_earlier_answer_previews_and_shows_what_moved(app: NNDoctorApp) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        interview = app.interview
        assert interview is not None
        first, *_ = await answer_first_choices(pilot, 3)
        before = dict(interview.diagnosis.scores)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, AnswersScreen)
        answers = app.screen.query_one("#answers", OptionList)
        assert answers.get_option_at_index(0).id == first  # in the order answered
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, EditAnswer)
        assert "now:" in text_of(pilot, "#q-text")
        # highlight another value that moves the ranking: the what-if preview
        values = interview.kb.facts[first].answers()
        current = interview.session.facts[first].value
        steps = next(i for i, v in enumerate(values)
                     if v != current and interview.preview(first, v))
        for _ in range(steps):
            await pilot.press("down")
        await pilot.pause()
        preview = text_of(pilot, "#preview")
        assert first in preview
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, AnswersScreen)
        change = interview.last_change
        assert change is not None and change.label.startswith(first)
        assert change.moves, "the new answer should move the ranking"
        moved = change.moves[0]
        assert moved.before == before.get(moved.cause, 0.0)
        assert interview.kb.causes[moved.cause].title in text_of(pilot, "#answers-moves")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, AskScreen)
        assert first in text_of(pilot, "#moves")

    drive(app, scenario)


def test_forgetting_an_answer_and_starting_over(app: NNDoctorApp) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        interview = app.interview
        assert interview is not None
        asked = await answer_first_choices(pilot, 3)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("down", "delete")  # forget the second answer
        await pilot.pause()
        assert asked[1] not in interview.session.facts
        assert asked[0] in interview.session.facts and asked[2] in interview.session.facts
        await pilot.press("escape", "n")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await pilot.pause()
        assert interview.session.facts == {}
        assert interview.history == []
        assert "0 answered" in text_of(pilot, "#progress")

    drive(app, scenario)
