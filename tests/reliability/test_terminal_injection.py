"""Strings from a log never reach a terminal raw (issue #12, items 8 and 9).

Run names, folder names and MLflow tags are written by whoever wrote the log: with escape
sequences they could set the window title, clear the screen or fake report lines; with a NUL or
200 KB they stopped ``watch --exec``. Every report format, ``watch`` and the TUI show them
escaped; ``--exec`` gets them cleaned and bounded and a failing command does not stop the watch.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from nndoctor.cli import main
from nndoctor.commands.watch import EXEC_VALUE_LIMIT, Watcher
from nndoctor.sanitize import clean, clean_markup

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = "evil\x1b]0;pwned\x07\x1b[2J\x9b31m\u202e<b>[@click=app.quit]x[/]\nVerdict: HEALTHY"
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def mlflow_run(tmp_path: Path, run_name: str) -> Path:
    """The exploding MLflow example with ``run_name`` in tags/mlflow.runName."""
    tree = tmp_path / "mlflow"
    shutil.copytree(ROOT / "examples" / "exploding", tree)
    run = next(p for p in (tree / "mlruns" / "0").iterdir() if p.is_dir())
    (run / "tags" / "mlflow.runName").write_text(run_name, encoding="utf-8")
    return tree


def hostile_logs(tmp_path: Path) -> Path:
    """An MLflow run and a JSONL log in a folder, both named with escape sequences."""
    tree = mlflow_run(tmp_path, HOSTILE)
    folder = tree / ("folder\x1b]2;title\x07\nVerdict: HEALTHY")
    folder.mkdir()
    shutil.copy(ROOT / "examples" / "slow_lr" / "metrics.jsonl",
                folder / "run\x1b[31m\rVerdict: HEALTHY.jsonl")
    return tree


def test_clean_escapes_every_control_character_visibly():
    assert clean("a\x1b[2Jb\nc\td\x00\x9b\u202e") == "a\\x1b[2Jb\\nc\\td\\x00\\x9b\\u202e"
    assert clean("ok ünïcode ✓") == "ok ünïcode ✓"
    assert clean("x" * 50, limit=10) == "x" * 9 + "…"
    assert clean(Path("in\udcffput")) == "in\\xffput"  # a non-UTF-8 byte of a folder name
    assert clean_markup("[b]bold[/b]") == "\\[b]bold\\[/b]"


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_reports_show_log_strings_escaped(tmp_path, capsys, fmt):
    tree = hostile_logs(tmp_path)
    assert main(["diagnose", str(tree), "--format", fmt, "--no-progress"]) in (0, 1)
    out = capsys.readouterr().out
    assert not RAW_CONTROL.search(out), repr(RAW_CONTROL.search(out))
    assert "\\x1b]0;pwned\\x07" in out
    if fmt == "text":  # exactly one header and one verdict line per run: none faked by a name
        lines = out.splitlines()
        assert len([x for x in lines if x.startswith("── ")]) == 2
        assert len([x for x in lines if x.startswith(("PROBLEM", "HEALTHY", "INSUFF"))]) == 2
    if fmt == "markdown":
        assert len([x for x in out.splitlines() if x.startswith("- verdict:")]) == 2
    if fmt == "html":
        assert "<b>[@click" not in out and "&lt;b&gt;[@click" in out


def test_json_keeps_the_names_but_escapes_them(tmp_path, capsys):
    tree = hostile_logs(tmp_path)
    assert main(["diagnose", str(tree), "--format", "json", "--no-progress"]) in (0, 1)
    out = capsys.readouterr().out
    assert not RAW_CONTROL.search(out)
    names = {run["name"] for run in json.loads(out)["runs"]}
    assert HOSTILE in names  # the data is intact for a program reading the JSON


def test_watch_lines_are_escaped(tmp_path):
    tree = hostile_logs(tmp_path)
    lines: list[str] = []
    Watcher(tree, "likely", None, lines.append).check()
    assert lines and not any(RAW_CONTROL.search(x) or "\n" in x for x in lines)
    assert any(x.startswith("ALERT evil\\x1b]0;pwned") for x in lines)


def test_watch_exec_gets_clean_bounded_values_and_survives_failures(tmp_path):
    name = "nul\x00byte\x1b[2J" + "x" * 200_000  # a NUL and 200 KB: once fatal to --exec
    tree = mlflow_run(tmp_path, name)
    out = tmp_path / "exec.txt"
    lines: list[str] = []
    command = f"printf '%s' \"$NNDOCTOR_RUN\" > {out}; exit 3"
    assert Watcher(tree, "likely", command, lines.append).check() >= 1
    value = out.read_text(encoding="utf-8")
    assert value.startswith("nul\\x00byte\\x1b[2J") and len(value) <= EXEC_VALUE_LIMIT
    assert any("--exec command failed (exit 3)" in x for x in lines)
    assert all(len(x) < 250_000 for x in lines)


def test_watch_exec_that_cannot_start_is_reported(tmp_path, monkeypatch):
    tree = mlflow_run(tmp_path, "plain")
    lines: list[str] = []

    def refuse(*args, **kwargs):
        raise OSError(7, "Argument list too long")

    monkeypatch.setattr("nndoctor.commands.watch.subprocess.run", refuse)
    assert Watcher(tree, "likely", "true", lines.append).check() >= 1
    assert any("--exec command could not run: [Errno 7] Argument list too long" in x
               for x in lines)


def test_tui_shows_log_strings_as_plain_escaped_text(monkeypatch):
    from textual.app import App
    from textual.pilot import Pilot

    from nndoctor.engine.session import Session
    from nndoctor.tui.app import NNDoctorApp
    from tests.tui.conftest import drive, overfitting_run, settle

    shown: list[tuple[str, bool]] = []
    original = App.notify

    def spy(self, message, *, title="", severity="information", timeout=None, markup=True):
        shown.append((message, markup))
        original(self, message, title=title, severity=severity, timeout=timeout, markup=markup)

    monkeypatch.setattr(App, "notify", spy)
    app = NNDoctorApp(Session(), log_loader=lambda path: [overfitting_run(HOSTILE)])

    async def scenario(pilot: Pilot[None]) -> None:
        await pilot.press("o")
        await pilot.pause()
        await pilot.press(*"runs", "enter")
        await settle(pilot)
        assert app.interview is not None and app.interview.run is not None
        assert not RAW_CONTROL.search(app.screen.sub_title)
        assert app.screen.sub_title.startswith("evil\\x1b]0;pwned")

    drive(app, scenario)
    opened = [(m, markup) for m, markup in shown if "facts from the log" in m]
    assert opened and all(not markup and not RAW_CONTROL.search(m) for m, markup in opened)
