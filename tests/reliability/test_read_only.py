"""Running the CLI over a corpus of logs changes no input file and writes nothing beside them."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from nndoctor.cli import main

ROOT = Path(__file__).resolve().parents[2]


def snapshot(tree: Path) -> dict[str, tuple[str, int]]:
    out = {}
    for path in sorted(tree.rglob("*")):
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out[str(path.relative_to(tree))] = (digest, path.stat().st_mtime_ns)
    return out


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    tree = tmp_path / "logs"
    shutil.copytree(ROOT / "examples", tree / "examples")
    shutil.copytree(ROOT / "tests" / "fixtures" / "logs", tree / "fixtures")
    for path in tree.rglob("*"):  # read-only files must still be readable, never rewritten
        if path.is_file():
            path.chmod(0o444)
    return tree


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "html"])
def test_diagnose_leaves_every_input_untouched(corpus, capsys, fmt):
    before = snapshot(corpus)
    assert main(["diagnose", str(corpus), "--format", fmt, "--no-progress"]) in (0, 1)
    capsys.readouterr()
    assert snapshot(corpus) == before


def test_watch_once_and_ask_free_commands_leave_inputs_untouched(corpus, capsys):
    before = snapshot(corpus)
    main(["watch", str(corpus / "examples"), "--once"])
    main(["diagnose", str(corpus / "examples" / "nan_blowup"), "--answer", "lr=0.5"])
    capsys.readouterr()
    assert snapshot(corpus) == before
    assert not any(p.name.startswith(".nndoctor") for p in corpus.rglob("*"))


def test_report_written_only_where_asked(corpus, tmp_path, capsys):
    out = tmp_path / "out" / "report.md"
    out.parent.mkdir()
    before = snapshot(corpus)
    assert main(["diagnose", str(corpus / "examples"), "--format", "markdown", "-o",
                 str(out)]) == 0
    assert out.read_text().startswith("# nndoctor report")
    assert snapshot(corpus) == before
    capsys.readouterr()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read files without read permission")
def test_unreadable_file_is_one_line(tmp_path, capsys):
    log = tmp_path / "metrics.csv"
    log.write_text("step,loss\n1,2.0\n")
    log.chmod(0)
    assert main(["diagnose", str(log)]) == 2
    assert "metrics.csv" in capsys.readouterr().err
