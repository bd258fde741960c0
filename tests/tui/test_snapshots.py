"""SVG snapshots at 80×24 on a tiny frozen knowledge base (tests/tui/kb), so rule-base edits do
not change them. Nothing here reads a clock or random numbers. After a deliberate UI change:
``pytest tests/tui/test_snapshots.py --snapshot-update``, then review the SVGs."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from textual.pilot import Pilot

from nndoctor.engine.facts import Fact
from nndoctor.engine.session import Session
from nndoctor.tui.app import DARK, LIGHT, NNDoctorApp
from nndoctor.tui.widgets.ranking import RankingList
from tests.tui.conftest import mini_engine, overfitting_run, wait_ready

pytest.importorskip("pytest_textual_snapshot", reason="snapshots need pytest-textual-snapshot")

Compare = Callable[..., bool]
ANSWERS = (("loss_nonfinite", "true"), ("lr", "1.0"))
LOG_FACTS = (
    Fact("val_loss_rising", True, source="log", detail="val_loss, steps 800-1990",
         evidence="val_loss rose 144% above its minimum 0.6136 at step 800"),
    Fact("loss_nonfinite", False, source="log", detail="", evidence="every loss is finite"),
)


def mini_app(answers: Sequence[tuple[str, str]] = ANSWERS, theme: str = DARK,
             log: bool = False) -> NNDoctorApp:
    session = Session(mini_engine(), LOG_FACTS if log else ())
    for name, value in answers:
        session.answer(name, value)
    run = overfitting_run() if log else None
    return NNDoctorApp(session, run, theme=theme, use_plotext=False)


def keys(*pressed: str) -> Callable[[Pilot[None]], object]:
    async def run_before(pilot: Pilot[None]) -> None:
        await wait_ready(pilot)
        await pilot.press(*pressed)
        await pilot.pause()

    return run_before


def test_first_question(snap_compare: Compare) -> None:
    """A fresh interview: the first question, nothing ranked yet."""
    assert snap_compare(mini_app(()), run_before=keys())


def test_ranking_with_why(snap_compare: Compare) -> None:
    """Two answers in, the ranking moved and WHY is open."""
    assert snap_compare(mini_app(), run_before=keys("w"))


def test_cause_detail(snap_compare: Compare) -> None:
    """HOW, fixes with verification, sources of the leading cause."""

    async def open_leader(pilot: Pilot[None]) -> None:
        await wait_ready(pilot)
        pilot.app.screen.query_one(RankingList).focus()
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(mini_app(), run_before=open_leader)


def test_change_answer_preview(snap_compare: Compare) -> None:
    """Changing the lr answer previews what would move."""
    assert snap_compare(mini_app(), run_before=keys("a", "down", "enter", "up"))


def test_light_theme_with_log(snap_compare: Compare) -> None:
    """Light theme; facts from a log are counted and the ranking includes them."""
    assert snap_compare(mini_app((), LIGHT, log=True), run_before=keys())


def test_curves_sparkline_fallback(snap_compare: Compare) -> None:
    """Curves without textual-plotext: sparklines with ▲ at the detected step."""
    assert snap_compare(mini_app((), log=True), run_before=keys("c"))


def test_curves_plotext(snap_compare: Compare) -> None:
    """Curves with textual-plotext: lines and a red marker at the detected step."""
    pytest.importorskip("textual_plotext")
    app = mini_app((), log=True)
    app.use_plotext = True
    assert snap_compare(app, run_before=keys("c"))


def test_keys_help(snap_compare: Compare) -> None:
    """`?`: the interview's keys (undo greyed: nothing to undo), the app's, moving around."""
    assert snap_compare(mini_app(()), run_before=keys("question_mark"))
