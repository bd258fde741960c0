"""Export the Markdown report, save and resume a session, and bad input at the command line."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from nndoctor.cli import main
from nndoctor.commands.ask import build_app, session_factory
from nndoctor.engine.session import Session
from nndoctor.report.markdown import render_markdown
from nndoctor.tui.app import NNDoctorApp
from nndoctor.tui.files import SAVE_KEY
from nndoctor.tui.screens.dialogs import PathDialog
from tests.tui.conftest import drive, settle

EXAMPLE = Path(__file__).parents[2] / "examples" / "overfitting"


async def give_path(pilot: Pilot[None], key: str, path: Path) -> None:
    """Open a file dialog with ``key``, type ``path``, confirm."""
    await pilot.press(key)
    await pilot.pause()
    assert isinstance(pilot.app.screen, PathDialog)
    pilot.app.screen.query_one(Input).value = str(path)
    await pilot.press("enter")
    await settle(pilot)


def test_export_is_the_markdown_report_of_diagnose(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    app = build_app(EXAMPLE, None)
    target = tmp_path / "report.md"

    async def scenario(pilot: Pilot[None]) -> None:
        await give_path(pilot, "e", target)

    drive(app, scenario)
    assert main(["diagnose", str(EXAMPLE), "--format", "markdown"]) == 0
    assert target.read_text(encoding="utf-8") == capsys.readouterr().out


def test_export_of_an_interview_includes_answers_and_questions(tmp_path: Path,
                                                               app: NNDoctorApp) -> None:
    target = tmp_path / "interview.md"

    async def scenario(pilot: Pilot[None]) -> None:
        for _ in range(3):
            await pilot.press("enter")
            await pilot.pause()
        await give_path(pilot, "e", target)
        assert app.interview is not None
        assert target.read_text(encoding="utf-8") == render_markdown([app.interview.report()])

    drive(app, scenario)
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# nndoctor report") and "## interview" in text
    assert "your answer" in text and "**Questions that would sharpen the diagnosis**" in text


def test_export_refuses_to_overwrite_the_log() -> None:
    log = EXAMPLE / "metrics.csv"
    before = log.read_bytes()
    app = build_app(log, None)

    async def scenario(pilot: Pilot[None]) -> None:
        await give_path(pilot, "e", log)

    drive(app, scenario)
    assert log.read_bytes() == before


def test_save_then_resume_restores_answers_dont_knows_and_log(tmp_path: Path) -> None:
    saved = tmp_path / "session.json"
    app = build_app(EXAMPLE, None)
    state: dict[str, object] = {}

    async def interview(pilot: Pilot[None]) -> None:
        assert app.interview is not None
        await pilot.press("enter")
        await pilot.press("end", "enter")  # don't know
        await pilot.press("enter")
        await pilot.pause()
        state["facts"] = app.interview.session.facts
        state["dont_know"] = app.interview.session.dont_know
        state["scores"] = app.interview.diagnosis.scores
        await give_path(pilot, "s", saved)

    drive(app, interview)
    data = json.loads(saved.read_text(encoding="utf-8"))
    assert data[SAVE_KEY] == 1 and data["log"].endswith("metrics.csv")

    resumed = build_app(None, saved)

    async def check(pilot: Pilot[None]) -> None:
        interview = resumed.interview
        assert interview is not None
        assert interview.session.facts == state["facts"]
        assert interview.session.dont_know == state["dont_know"]
        assert interview.diagnosis.scores == state["scores"]
        assert interview.run is not None and interview.run.name == "overfitting"  # curves
        assert interview.log_facts

    drive(resumed, check)


def test_load_session_from_inside_the_app(tmp_path: Path, app: NNDoctorApp) -> None:
    saved = tmp_path / "s.json"
    session = Session()
    session.answer("hidden_activation", "sigmoid")
    saved.write_text(json.dumps({SAVE_KEY: 1, "log": None, **session.to_dict()}), "utf-8")

    async def scenario(pilot: Pilot[None]) -> None:
        await give_path(pilot, "l", saved)
        assert app.interview is not None
        assert app.interview.session.facts["hidden_activation"].value == "sigmoid"
        assert app.interview.history == ["hidden_activation"]

    drive(app, scenario)


def test_bad_path_or_saved_session_is_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", str(tmp_path / "missing")]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["ask", str(empty)]) == 2
    not_json = tmp_path / "notes.json"
    not_json.write_text("{oops", "utf-8")
    assert main(["ask", "--resume", str(not_json)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("nndoctor: ") for line in err)
    assert "notes.json: not a saved session" in err[2]


def test_a_saved_session_with_an_unknown_fact_stops_the_app_with_a_message() -> None:
    app = NNDoctorApp(session_factory(None, {"facts": [{"name": "no_such_fact", "value": 1}]}))

    async def main_() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            for _ in range(1000):
                if app.error is not None:
                    break
                await pilot.pause(0.02)

    asyncio.run(main_())
    assert app.error is not None and "no_such_fact" in app.error
