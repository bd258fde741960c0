"""Papercuts of the command line: `--help` that answers the usual questions, a closed pipe
(`| head`) that ends a command quietly, and `rules docs` that writes only where it should."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nndoctor.cli import REPORT_FORMATS, _parser, main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def help_of(capsys: pytest.CaptureFixture[str], *command: str) -> str:
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


def subcommand(name: str) -> argparse.ArgumentParser:
    actions = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return actions[0].choices[name]


def test_every_report_format_is_described(capsys):
    """A format added to --format without a line saying what it writes fails here."""
    [fmt] = [a for a in subcommand("diagnose")._actions if a.dest == "format"]
    assert set(fmt.choices) == set(REPORT_FORMATS)
    text = help_of(capsys, "diagnose")
    for name, description in REPORT_FORMATS.items():
        assert f"  {name} " in text and description.split()[0] in text, name


@pytest.mark.parametrize("command", [(), ("diagnose",), ("watch",), ("ask",), ("rules",)])
def test_help_names_exit_codes(capsys, command):
    text = help_of(capsys, *command)
    assert "exit codes:" in text
    for code in ("0  ran", "2  bad input or usage", "3  internal error"):
        assert code in text


def test_help_describes_path_and_defaults(capsys):
    text = " ".join(help_of(capsys, "diagnose").split())  # unwrap
    assert "PATH a log file, a run folder or a folder of many runs" in text
    assert "trainer_state.json" in text and "TensorBoard event files" in text
    for default in ("(default: text)", "(default: 5)", "default: every core", "default: never"):
        assert default in text
    watch = " ".join(help_of(capsys, "watch").split())
    for default in ("default: likely", "(default: 5)", "(default: 600)"):
        assert default in watch


def test_help_wraps_to_the_terminal(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    for command in ((), ("diagnose",), ("watch",)):
        lines = help_of(capsys, *command).splitlines()
        assert max(len(line) for line in lines) <= 60, command


@pytest.mark.parametrize("command", [
    ["rules", "list"], ["rules", "show", "OPT017"], ["rules", "facts"],
    ["diagnose", str(EXAMPLES / "overfitting")],
])
def test_a_closed_pipe_ends_quietly(command):
    """The reader goes away before the command writes (as `| head -0` does): exit 0 and not a
    word on stderr, instead of a BrokenPipeError traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "nndoctor", *command], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the pipe's only reader is gone: every write fails with EPIPE
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0
    assert err == b""


def test_head_reads_the_first_lines_and_the_command_exits_0():
    """The real shell pipe, with the pipeline's first exit status."""
    out = subprocess.run(["bash", "-c", f"set -o pipefail; {sys.executable} -m nndoctor rules "
                          "list | head -n 1"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ACT001") and out.stderr == ""


def test_rules_docs_defaults_to_the_projects_docs_from_any_folder(tmp_path):
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "nndoctor", "rules", "docs", "--check"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "up to date" in out.stdout
    assert list(tmp_path.iterdir()) == []  # nothing written into the current folder


def test_rules_docs_outside_a_checkout_needs_out(tmp_path):
    """An installed nndoctor (no pyproject.toml beside the package) refuses to guess a folder;
    with --out it writes there and only there."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "nndoctor", site / "nndoctor",
                    ignore=shutil.ignore_patterns("__pycache__"))
    cwd = tmp_path / "project"
    (cwd / "docs" / "rules").mkdir(parents=True)
    mine = cwd / "docs" / "rules" / "mine.md"
    mine.write_text("the user's own page\n")
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    refused = subprocess.run([sys.executable, "-m", "nndoctor", "rules", "docs"], cwd=cwd,
                             env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "--out DIR" in refused.stderr and len(refused.stderr.splitlines()) == 1
    assert mine.read_text() == "the user's own page\n"  # untouched
    out = tmp_path / "generated"
    written = subprocess.run([sys.executable, "-m", "nndoctor", "rules", "docs", "--out",
                              str(out)], cwd=cwd, env=env, capture_output=True, text=True,
                             timeout=60)
    assert written.returncode == 0, written.stderr
    assert (out / "rules" / "index.md").is_file() and mine.exists()


@pytest.mark.parametrize("columns", [None, "123", "0", "wide"])
def test_help_is_as_wide_as_shutil_says(monkeypatch: pytest.MonkeyPatch, columns: str | None
                                        ) -> None:
    """The help's width is argparse's own (shutil.get_terminal_size), found without shutil."""
    from nndoctor.cli import terminal_columns

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.delenv("LINES", raising=False)
    assert terminal_columns() == shutil.get_terminal_size().columns
    assert argparse.HelpFormatter("x")._width == subcommand("diagnose")._get_formatter()._width
