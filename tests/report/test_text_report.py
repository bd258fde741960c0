"""The terminal report (issue #16 item 1) on real fixture logs at 80 and 120 columns.

Snapshots keep the whole text (``tests/report/snapshots``; regenerate with ``--snapshot-update``);
the other tests check what must hold whatever the texts say: no line wider than the terminal,
wrapping only between words, the verdict, cause and first fix in the first lines, the rest only
under ``--explain``, a table first for a sweep, colour only on a terminal and never with
``NO_COLOR``, and log text never read as markup.
"""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.text import Text
from syrupy.assertion import SnapshotAssertion

from nndoctor.adapters.readers import read_path
from nndoctor.cli import main
from nndoctor.pipeline import diagnose_run
from nndoctor.report.text import BLOCKS_UP_TO, TextStyle, render_text

ROOT = Path(__file__).resolve().parents[2]
LOGS = "tests/fixtures/logs"
CASES = {  # name -> (PATH relative to the repository, extra arguments)
    "problem": (f"{LOGS}/tensorboard/torch_simple", ()),
    "tied": (f"{LOGS}/hf/sft-multi-eval", ()),
    "healthy": (f"{LOGS}/hf/bert-sst2", ()),
    "explain": (f"{LOGS}/keras_history", ("--explain", "--top", "2")),
    "sweep": (f"{LOGS}/hf", ()),
}
WIDTHS = (80, 120)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def diagnose_text(case: str, width: int, monkeypatch: pytest.MonkeyPatch,
                  capsys: pytest.CaptureFixture[str]) -> str:
    """``nndoctor diagnose`` as a user runs it from the repository, at a terminal width."""
    path, extra = CASES[case]
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", str(width))
    assert main(["diagnose", path, *extra, "--no-progress"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_snapshot(case: str, width: int, monkeypatch: pytest.MonkeyPatch,
                  capsys: pytest.CaptureFixture[str], text_snapshot: SnapshotAssertion) -> None:
    out = diagnose_text(case, width, monkeypatch, capsys)
    too_wide = [line for line in out.splitlines() if Text(line).cell_len > width]
    assert not too_wide, too_wide
    assert not ANSI.search(out), "colour codes in a report that is not written to a terminal"
    assert out == text_snapshot


@pytest.mark.parametrize("width", WIDTHS)
def test_first_lines_say_what_is_wrong_and_what_to_do(width: int,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = diagnose_text("problem", width, monkeypatch, capsys)
    report = diagnose_run(read_path(ROOT / CASES["problem"][0])[0])
    cause = report.diagnosis.causes[0]
    head = "\n".join(out.splitlines()[:8])
    assert head.splitlines()[1].startswith("PROBLEM")
    assert cause.title in head and f"{cause.confidence:.2f} {cause.band}" in head
    assert "Do first: " + cause.fixes[0].action.split()[0] in head
    assert "Evidence: " in head and "--explain" in out
    assert "Fixes, in order" not in out and "Curves:" not in out  # the rest waits for -v
    assert len(out.splitlines()) <= 9


@pytest.mark.parametrize("width", WIDTHS)
def test_wrapping_only_between_words(width: int, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Every fix, explanation and reason of the long form comes back whole when its wrapped
    lines are joined with single spaces: no word was split to fill a line."""
    out = diagnose_text("explain", width, monkeypatch, capsys)
    flat = " ".join(out.split())
    report = diagnose_run(read_path(ROOT / CASES["explain"][0])[0])
    texts = []
    for cause in report.diagnosis.causes[:2]:
        texts += [cause.explanation, *(t.because for t in cause.support)]
        texts += [f.action for f in cause.fixes] + [f.verify for f in cause.fixes if f.verify]
    assert texts
    for text in texts:
        assert " ".join(text.split()) in flat, text


def test_explain_has_everything(monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    out = diagnose_text("explain", 100, monkeypatch, capsys)
    report = diagnose_run(read_path(ROOT / CASES["explain"][0])[0])
    lines = out.splitlines()
    assert "Curves:" in lines and any("▁" in x or "█" in x for x in lines)
    assert "   Evidence:" in lines and "   Fixes, in order:" in lines
    for cause in report.diagnosis.causes[:2]:
        assert f"[{cause.id}]" in out
        for trace in cause.support:
            assert f"[{trace.rule_id} " in out
    assert "Details: add --explain" not in out


def test_sweep_starts_with_one_line_per_run(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = diagnose_text("sweep", 160, monkeypatch, capsys)
    lines = out.splitlines()
    assert lines[0] == "3 runs: 2 healthy, 1 problem"  # the GRPO run is judged by its reward
    assert lines[1].split() == ["run", "verdict", "cause", "confidence", "do", "first"]
    ids = ["bert-sst2/trainer_state.json", "grpo/trainer_state.json",
           "sft-multi-eval/trainer_state.json"]  # relative to the PATH given
    assert [line.split()[0] for line in lines[2:5]] == ids
    assert lines[5] == "" and lines[6].startswith("── bert-sst2/trainer_state.json")
    assert sum(line.startswith("── ") for line in lines) == 3  # then each run's block


def test_a_large_sweep_prints_only_its_table(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["diagnose", LOGS, "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    runs = int(lines[0].split()[0])
    assert runs > BLOCKS_UP_TO and lines[1].startswith("Leading causes: ")
    table = lines[lines.index(next(x for x in lines if x.startswith("run "))) + 1:][:runs]
    assert len(table) == runs and all("── " not in x for x in lines)
    assert all(Text(x).cell_len <= 100 for x in lines)
    assert "--explain" in lines[-1]


def tty_run(args: list[str], env: dict[str, str], tmp_path: Path) -> str:
    """The CLI in a pseudo-terminal (stdout is a TTY, as in a user's shell), read while it
    writes so a long report cannot fill the terminal's buffer."""
    leader, follower = pty.openpty()
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    errors = tmp_path / "stderr.txt"
    with errors.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "nndoctor", *args], stdout=follower,
                                stderr=err, cwd=ROOT,
                                env={**base, "COLUMNS": "100", "TERM": "xterm-256color", **env})
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child has closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=120) == 0, errors.read_text()
    return b"".join(chunks).decode("utf-8")


def test_colour_on_a_terminal_only(tmp_path: Path) -> None:
    path = CASES["problem"][0]
    coloured = tty_run(["diagnose", path], {}, tmp_path)
    assert ANSI.search(coloured)
    plain = ANSI.sub("", coloured).replace("\r\n", "\n")
    assert "PROBLEM  Learning rate too high" in plain
    assert not ANSI.search(tty_run(["diagnose", path], {"NO_COLOR": "1"}, tmp_path))
    out = tmp_path / "report.txt"
    assert tty_run(["diagnose", path, "-o", str(out)], {}, tmp_path) == ""
    written = out.read_text(encoding="utf-8")
    assert not ANSI.search(written) and written == plain


def test_log_text_is_never_markup() -> None:
    """A run named like rich markup and with escape sequences prints as those characters,
    with colour on."""
    run = read_path(ROOT / CASES["problem"][0])[0]
    hostile = "[bold red]fake[/bold red] :warning: \x1b[2J[link=http://x]y[/link]"
    report = diagnose_run(run)._replace(id=hostile)
    out = render_text([report], style=TextStyle(100, "truecolor"))
    plain = ANSI.sub("", out)
    assert "[bold red]fake[/bold red] :warning: \\x1b[2J[link=http://x]y[/link]" in plain
    assert "\x1b[2J" not in out and "\x1b]8;" not in out  # no clear screen, no hyperlink


def test_readme_shows_the_real_report(monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The README's sample is what the command prints (refresh it by pasting the output)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = "    $ nndoctor diagnose examples/overfitting\n"
    block = readme.split(command, 1)[1].split("\n\n`--explain`", 1)[0]
    shown = "\n".join(line.removeprefix("    ") for line in block.splitlines())
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["diagnose", "examples/overfitting"]) == 0
    assert capsys.readouterr().out.rstrip("\n") == shown
