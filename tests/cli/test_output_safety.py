"""`-o` / `--plot` never replace a file the diagnosis read, and never leave a partial report."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from nndoctor.cli import main
from nndoctor.safe_write import write_atomic

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _copy_example(tmp_path: Path, name: str) -> Path:
    dest = tmp_path / name
    shutil.copytree(EXAMPLES / name, dest)
    return dest


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _refused(capsys, args: list[str]) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "refusing to overwrite" in err and len(err.strip().splitlines()) == 1
    return err


def test_hard_link_to_the_log_is_refused(tmp_path, capsys):
    run = _copy_example(tmp_path, "overfitting")
    log = next(p for p in run.iterdir() if p.suffix == ".csv")
    link = tmp_path / "h"
    os.link(log, link)
    before = _snapshot(run)
    _refused(capsys, ["diagnose", str(log), "-o", str(link)])
    assert _snapshot(run) == before


def test_a_file_read_beside_the_log_is_refused(tmp_path, capsys):
    run = _copy_example(tmp_path, "overfitting")
    log = next(p for p in run.iterdir() if p.suffix == ".csv")
    siblings = [p for p in run.iterdir() if p != log]
    assert siblings, "the example should hold a file read beside the log (hparams.yaml)"
    before = _snapshot(run)
    for sibling in siblings:
        _refused(capsys, ["diagnose", str(log), "-o", str(sibling)])
        _refused(capsys, ["diagnose", str(log), "--plot", str(sibling)])
    assert _snapshot(run) == before


def test_another_file_of_the_same_mlflow_run_is_refused(tmp_path, capsys):
    run = _copy_example(tmp_path, "exploding")
    metrics = sorted(run.rglob("metrics/*"))
    assert len(metrics) >= 2
    before = _snapshot(run)
    _refused(capsys, ["diagnose", str(metrics[0]), "-o", str(metrics[1])])
    params = sorted(run.rglob("params/*"))
    _refused(capsys, ["diagnose", str(metrics[0]), "-o", str(params[0])])
    assert _snapshot(run) == before


def test_existing_file_inside_an_input_folder_is_refused_but_a_new_one_is_written(tmp_path,
                                                                                   capsys):
    run = _copy_example(tmp_path, "healthy")
    notes = run / "notes.txt"
    notes.write_text("mine")
    _refused(capsys, ["diagnose", str(run), "-o", str(notes)])
    assert notes.read_text() == "mine"
    fresh = tmp_path / "report.md"
    assert main(["diagnose", str(run), "-o", str(fresh), "--format", "markdown"]) == 0
    assert fresh.read_text().startswith("#")


def test_a_report_outside_the_inputs_is_replaced_atomically(tmp_path, capsys):
    run = _copy_example(tmp_path, "healthy")
    out = tmp_path / "out" / "report.json"
    out.parent.mkdir()
    out.write_text("old")
    assert main(["diagnose", str(run), "-o", str(out), "--format", "json"]) == 0
    assert out.read_text().startswith("{")
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.json"]  # no temp left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    out = tmp_path / "report.txt"
    out.write_text("old report")
    with pytest.raises(TypeError):
        write_atomic(out, 12345)  # type: ignore[arg-type]  # not text: the write fails midway
    assert out.read_text() == "old report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.txt"]


def test_a_new_report_gets_the_permissions_open_would_give_and_a_replaced_one_keeps_its_own(
        tmp_path):
    umask = os.umask(0o022)
    try:
        fresh = tmp_path / "fresh.html"
        write_atomic(fresh, "<html></html>")
        assert fresh.stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600
        kept = tmp_path / "kept.json"
        kept.write_text("old")
        kept.chmod(0o640)
        write_atomic(kept, "{}")
        assert kept.stat().st_mode & 0o777 == 0o640 and kept.read_text() == "{}"
    finally:
        os.umask(umask)
