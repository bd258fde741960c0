"""A log pre-fills facts (marked, never asked) and its curves are plotted with symptom marks."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import OptionList, TabbedContent

from nndoctor.commands.ask import build_app
from nndoctor.engine.session import Session
from nndoctor.tui.app import NNDoctorApp
from nndoctor.tui.screens.curves import CurvesScreen
from nndoctor.tui.widgets.curves import SparkCurves
from tests.tui.conftest import drive, overfitting_run, settle, text_of

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_opening_a_log_prefills_facts_that_are_never_asked() -> None:
    opened: list[Path] = []

    def loader(path: Path) -> list:
        opened.append(path)
        return [overfitting_run()]

    app = NNDoctorApp(Session(), log_loader=loader)

    async def scenario(pilot: Pilot[None]) -> None:
        interview = app.interview
        assert interview is not None and interview.run is None
        await pilot.press("enter")  # one answer first: opening a log must keep it
        await pilot.pause()
        answered = interview.history[0]
        await pilot.press("o")
        await pilot.pause()
        await pilot.press(*"runs/exp1", "enter")
        await settle(pilot)
        assert opened == [Path("runs/exp1")]
        assert interview.run is not None and interview.run.name == "synthetic-overfit"
        facts = interview.session.facts
        assert facts["val_loss_rising"].source == "log" and facts["val_loss_rising"].value is True
        assert facts[answered].source == "answer"
        assert "from log" in text_of(pilot, "#progress")
        assert app.screen.sub_title == "synthetic-overfit"
        for _ in range(5):
            assert interview.question is not None
            assert interview.question.fact not in interview.log_facts
            await pilot.press("enter")
            await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        answers = app.screen.query_one("#answers", OptionList)
        labels = [answers.get_option_at_index(i).id for i in range(answers.option_count)]
        assert "val_loss_rising" in labels

    drive(app, scenario)


def test_curves_mark_the_detected_symptoms_with_sparklines_when_plotext_is_missing() -> None:
    app = NNDoctorApp(Session(), log_loader=lambda path: [overfitting_run()], use_plotext=False)

    async def scenario(pilot: Pilot[None]) -> None:
        app.load_log(Path("x"))
        await settle(pilot)
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, CurvesScreen)
        assert app.screen.query_one(TabbedContent).tab_count == 2  # loss, lr
        spark = app.screen.query_one(SparkCurves)
        assert "▲" in spark.content.plain  # type: ignore[union-attr]
        assert "val loss rising (val_loss, step 800)" in text_of(pilot, ".marks")

    drive(app, scenario)


def test_curves_are_plotted_with_plotext() -> None:
    pytest.importorskip("textual_plotext")
    from nndoctor.tui.widgets.plot import CurvePlot

    app = NNDoctorApp(Session(), log_loader=lambda path: [overfitting_run()], use_plotext=True)

    async def scenario(pilot: Pilot[None]) -> None:
        app.load_log(Path("x"))
        await settle(pilot)
        await pilot.press("c")
        await pilot.pause()
        plot = app.screen.query_one(CurvePlot)
        assert [name for name, _ in plot.group.series] == ["train_loss", "val_loss"]
        assert [m.step for m in plot.group.marks if m.fact == "val_loss_rising"] == [800]

    drive(app, scenario)


def test_ask_with_an_example_log_ranks_its_cause() -> None:
    app = build_app(EXAMPLES / "overfitting", None)

    async def scenario(pilot: Pilot[None]) -> None:
        interview = app.interview
        assert interview is not None and interview.run is not None
        assert interview.log_facts
        assert interview.diagnosis.causes[0].id == "overfitting"
        assert all(f.source == "log" for f in interview.session.facts.values())

    drive(app, scenario)
