"""A full interview driven by keys and mouse at 80×24: answers, don't know, numbers, WHY, HOW."""

from __future__ import annotations

import asyncio
import threading

from textual.pilot import Pilot
from textual.widgets import Input, OptionList

from nndoctor.engine.session import DONT_KNOW, Session
from nndoctor.tui.app import NNDoctorApp
from nndoctor.tui.screens.ask import AskScreen
from nndoctor.tui.screens.cause import CauseScreen
from nndoctor.tui.screens.causes import CausesScreen
from nndoctor.tui.widgets.detail import CauseDetail
from nndoctor.tui.widgets.ranking import RankingList
from tests.tui.conftest import drive, mini_engine, text_of, wait_ready

MAX_QUESTIONS = 25


def test_answering_questions_until_a_cause_is_likely(app: NNDoctorApp) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        interview = app.interview
        assert interview is not None and isinstance(app.screen, AskScreen)
        assert "0 answered" in text_of(pilot, "#progress")
        asked = []
        while interview.progress().leader is None or interview.progress().leader.band not in (
                "likely", "confirmed"):
            assert interview.question is not None and len(asked) < MAX_QUESTIONS
            asked.append(interview.question.fact)
            # the first three: "don't know" (last choice); then the first choice
            await pilot.press(*(["end", "enter"] if len(asked) <= 3 else ["enter"]))
            await pilot.pause()
        assert len(set(asked)) == len(asked), "a question was asked twice"
        assert len(asked) > 3
        leader = interview.progress().leader
        answered = len(asked) - 3
        assert f"{answered} answered · 3 don't know" in text_of(pilot, "#progress")
        ranking = app.screen.query_one(RankingList)
        assert ranking.get_option_at_index(0).id == leader.id
        assert "likely" in text_of(pilot, "#progress") or "confirmed" in text_of(pilot, "#progress")
        assert asked[-1] in text_of(pilot, "#moves")  # what the last answer moved

    drive(app, scenario)


def test_dont_know_is_always_offered_and_never_asked_again(app: NNDoctorApp) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        interview = app.interview
        assert interview is not None and interview.question is not None
        first = interview.question.fact
        choices = app.screen.query_one("#q-choices", OptionList)
        assert choices.get_option_at_index(choices.option_count - 1).id == DONT_KNOW
        await pilot.press("end", "enter")
        await pilot.pause()
        assert first in interview.session.dont_know
        assert interview.question is not None and interview.question.fact != first
        assert "1 don't know" in text_of(pilot, "#progress")

    drive(app, scenario)


def test_a_number_can_be_typed_and_a_bad_one_is_refused(app: NNDoctorApp) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        interview = app.interview
        assert interview is not None
        for _ in range(4 * MAX_QUESTIONS):  # skip ("don't know") to the first number question
            prompt = interview.prompt()
            assert prompt is not None
            if prompt.number:
                break
            await pilot.press("end", "enter")
            await pilot.pause()
        assert prompt.number, "the interview never asked for a number"
        fact = prompt.fact
        box = app.screen.query_one("#q-number", Input)
        assert box.display
        box.focus()
        box.value = "1e999"
        await pilot.press("enter")
        await pilot.pause()
        assert fact not in interview.session.facts
        assert "finite" in text_of(pilot, "#q-error")
        good = interview.kb.facts[fact].answers()[0]  # a typical, valid value
        box.value = f"{good:g}"
        await pilot.press("enter")
        await pilot.pause()
        assert interview.session.facts[fact].value == good
        assert interview.session.facts[fact].source == "answer"

    drive(app, scenario)


def test_why_explains_the_question_and_mouse_clicks_answer(app: NNDoctorApp) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        interview = app.interview
        assert interview is not None and interview.question is not None
        why = app.screen.query_one("#why-scroll")
        assert not why.display
        await pilot.press("w")
        await pilot.pause()
        assert why.display
        assert interview.question.why[:30] in " ".join(text_of(pilot, "#q-why").split())
        first = interview.question.fact
        await pilot.press("w")  # fold the explanation away again
        await pilot.pause()
        assert not why.display
        assert await pilot.click("#q-choices", offset=(2, 0))
        await pilot.pause()
        assert first in interview.session.facts

    drive(app, scenario)


def test_undo_retracts_the_last_answer(app: NNDoctorApp) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        interview = app.interview
        assert interview is not None and interview.question is not None
        first = interview.question.fact
        await pilot.press("enter")
        await pilot.pause()
        assert first in interview.session.facts
        await pilot.press("u")
        await pilot.pause()
        assert first not in interview.session.facts
        assert interview.question is not None and interview.question.fact == first

    drive(app, scenario)


def test_selecting_a_ranked_cause_shows_how_fixes_and_sources(app: NNDoctorApp) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        interview = app.interview
        assert interview is not None
        while not interview.diagnosis.causes:
            await pilot.press("enter")
            await pilot.pause()
        cause = interview.diagnosis.causes[0]
        await pilot.press("tab")  # the ranking
        while not app.screen.query_one(RankingList).has_focus:
            await pilot.press("tab")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, CauseScreen) and app.screen.cause_id == cause.id
        detail = " ".join(app.screen.query_one(CauseDetail).plain().split())
        assert "What it means" in detail and "Fixes, in order" in detail and "Sources" in detail
        assert cause.support[0].rule_id in detail
        assert cause.support[0].facts[0].name in detail and "your answer" in detail
        fix = cause.fixes[0]
        assert " ".join(fix.action.split())[:40] in detail
        if fix.verify:
            assert "Verify:" in detail
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, AskScreen)

    drive(app, scenario)


def test_why_not_for_a_cause_that_is_not_ranked(app: NNDoctorApp) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        await pilot.press("k")
        await pilot.pause()
        assert isinstance(app.screen, CausesScreen)
        causes = app.screen.query_one("#all-causes", OptionList)
        assert causes.option_count == len(app.interview.kb.causes)  # type: ignore[union-attr]
        await pilot.press("end", "enter")
        await pilot.pause()
        assert isinstance(app.screen, CauseScreen)
        detail = app.screen.query_one(CauseDetail).plain()
        assert "Why not" in detail and "did not fire" in detail

    drive(app, scenario)


def test_when_nothing_is_left_to_ask_the_interview_says_so() -> None:
    session = Session(mini_engine())
    for name, value in (("loss_nonfinite", "true"), ("lr", "1"), ("val_loss_rising", "false"),
                        ("hidden_activation", "relu")):
        session.answer(name, value)
    app = NNDoctorApp(session)

    async def scenario(pilot: Pilot[None]) -> None:
        assert app.interview is not None and app.interview.progress().done
        assert "Nothing left to ask" in text_of(pilot, "#q-text")
        assert not app.screen.query_one("#q-choices").display
        await pilot.press("w")  # no question, no WHY: a no-op
        assert "4 answered" in text_of(pilot, "#progress")

    drive(app, scenario)


def test_keys_while_the_knowledge_base_loads_do_nothing() -> None:
    release = threading.Event()

    def slow_session() -> Session:
        release.wait(10)
        return Session(mini_engine())

    app = NNDoctorApp(slow_session)

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            assert "Loading" in text_of(pilot, "#q-text")
            await pilot.press("a", "k", "c", "w", "u", "e", "s", "o", "n", "enter")
            assert isinstance(app.screen, AskScreen) and not app.ready
            release.set()
            await wait_ready(pilot)
            assert app.interview is not None and app.interview.question is not None

    asyncio.run(main())
