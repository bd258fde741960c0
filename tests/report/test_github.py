"""``--format github`` (issue #16 item 4): one workflow-command annotation per run that needs
attention, with the values escaped as the Actions runner reads them."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from nndoctor.cli import main
from nndoctor.report.github import escape_data, escape_property

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
LOGS = ROOT / "tests" / "fixtures" / "logs"
COMMAND = re.compile(r"^::(error|warning|notice) file=([^,:]+),title=([^,:]+)::(.+)$")


def unescape(text: str) -> str:
    """What the runner shows (``actions/runner`` ``ActionCommand.Unescape``)."""
    for code, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(code, char)
    return text


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["diagnose", *args, "--no-progress"])
    return code, capsys.readouterr().out


def test_one_annotation_per_run_that_needs_attention(capsys: pytest.CaptureFixture[str]) -> None:
    _, text = run(capsys, str(LOGS), "--format", "json")
    runs = json.loads(text)["runs"]
    code, out = run(capsys, str(LOGS), "--format", "github")
    assert code == 0
    lines = out.splitlines()
    parsed = [COMMAND.match(line) for line in lines]
    assert all(parsed), [line for line, m in zip(lines, parsed, strict=True) if not m]
    expected = []
    for r in runs:
        top = r["causes"][0] if r["causes"] else None
        if r["verdict"] == "problem":
            level = "error" if top["band"] in ("likely", "confirmed") else "warning"
            expected.append((level, r["path"], top["title"], top["confidence"], top["band"]))
        elif r["verdict"] == "insufficient-data":
            expected.append(("notice", r["path"], None, None, None))
    assert len(parsed) == len(expected) and {e[0] for e in expected} >= {"error", "warning"}
    for match, (level, path, title, confidence, band) in zip(parsed, expected, strict=True):
        assert match is not None
        assert match.group(1) == level and unescape(match.group(2)) == path
        message = unescape(match.group(4))
        if title is not None:
            assert title in unescape(match.group(3)) and f"{confidence:.2f} {band}" in message
            assert "Do first: " in message
    healthy = [r["path"] for r in runs if r["verdict"] == "healthy"]
    assert healthy and not any(unescape(m.group(2)) in healthy for m in parsed if m)


def test_the_first_fix_and_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    _, text = run(capsys, str(EXAMPLES / "nan_blowup"), "--format", "json")
    top = json.loads(text)["runs"][0]["causes"][0]
    code, out = run(capsys, str(EXAMPLES / "nan_blowup"), "--format", "github", "--fail-on",
                    "likely")
    assert code == 1  # the gate still follows --fail-on
    match = COMMAND.match(out.strip())
    assert match and match.group(1) == "error"
    assert unescape(match.group(4)).endswith("Do first: " + top["fixes"][0]["action"])
    code, out = run(capsys, str(EXAMPLES / "healthy"), "--format", "github", "--fail-on",
                    "likely")
    assert (code, out) == (0, "")


def test_properties_and_message_are_escaped(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A folder named with the characters that end a property or a command."""
    folder = tmp_path / "a,b:c%d\rx"
    shutil.copytree(EXAMPLES / "nan_blowup", folder)
    _, out = run(capsys, str(tmp_path), "--format", "github")
    [line] = out.splitlines()
    match = COMMAND.match(line)
    assert match, line
    assert "%2C" in match.group(2) and "%3A" in match.group(2) and "%25" in match.group(2)
    assert unescape(match.group(2)) == str(folder).replace("\r", "\\r")  # cleaned, then escaped
    assert unescape(match.group(4)).startswith("a,b:c%d\\rx: ")


def test_escaping_rules() -> None:
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("a,b:c%\n") == "a%2Cb%3Ac%25%0A"
    assert escape_data("a,b:c") == "a,b:c"  # the message keeps commas and colons
