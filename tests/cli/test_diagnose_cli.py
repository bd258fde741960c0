"""`nndoctor diagnose` end to end on the bundled examples: formats, exit codes, bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nndoctor.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXPECTED_TOP2 = {  # example -> the injected cause must be among the top two
    "nan_blowup": "lr_too_high",
    "overfitting": "overfitting",
    "exploding": "exploding_gradients",
    "slow_lr": "lr_too_low",
    "mlflow_sqlite": "overfitting",  # an MLflow SQLite store (issue #11)
}


def run_json(capsys, *args: str) -> dict:
    assert main(["diagnose", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(("example", "cause"), sorted(EXPECTED_TOP2.items()))
def test_examples_are_diagnosed(capsys, example, cause):
    doc = run_json(capsys, str(EXAMPLES / example))
    [run] = doc["runs"]
    assert run["verdict"] == "problem"
    assert cause in [c["id"] for c in run["causes"][:2]]
    confidences = [c["confidence"] for c in run["causes"]]
    assert confidences == sorted(confidences, reverse=True)
    top = run["causes"][0]
    assert top["evidence"] and top["fixes"] and top["band"] in {"possible", "likely", "confirmed"}


def test_healthy_example_is_healthy(capsys):
    [run] = run_json(capsys, str(EXAMPLES / "healthy"))["runs"]
    assert run["verdict"] == "healthy"
    [console] = run_json(capsys, str(EXAMPLES / "console_keras"))["runs"]  # Keras fit output
    assert console["verdict"] == "healthy" and console["format"] == "console"


def test_text_report_has_sparklines_evidence_and_fixes(capsys):
    assert main(["diagnose", str(EXAMPLES / "overfitting")]) == 0
    short = capsys.readouterr().out
    assert "Overfitting" in short and "Do first: Stop at the validation minimum" in short
    assert "val_loss rose" in short and "Fixes, in order:" not in short and "▁" not in short
    assert main(["diagnose", str(EXAMPLES / "overfitting"), "--explain"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(short.rsplit("\n\nDetails:", 1)[0])  # the short block comes first
    assert "train_loss" in out and "▁" in out
    assert "Evidence:" in out and "Fixes, in order:" in out


def test_sweep_has_a_summary(capsys):
    assert main(["diagnose", str(EXAMPLES), "--top", "1"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(f"{len(list(EXAMPLES.iterdir()))} runs:")


def test_fail_on_band_sets_exit_code(capsys):
    assert main(["diagnose", str(EXAMPLES / "nan_blowup"), "--fail-on", "likely"]) == 1
    assert main(["diagnose", str(EXAMPLES / "healthy"), "--fail-on", "likely"]) == 0
    capsys.readouterr()


def test_answers_change_the_ranking(capsys):
    base = run_json(capsys, str(EXAMPLES / "flat_loss"))["runs"][0]
    informed = run_json(capsys, str(EXAMPLES / "flat_loss"), "--answer", "hidden_activation=relu",
                        "--answer", "dead_unit_fraction=0.9")["runs"][0]
    assert informed["causes"][0]["id"] == "dead_relu"
    assert informed["causes"][0]["confidence"] > base["causes"][0]["confidence"]


def test_markdown_and_html_outputs(tmp_path, capsys):
    assert main(["diagnose", str(EXAMPLES / "nan_blowup"), "--format", "markdown"]) == 0
    assert capsys.readouterr().out.startswith("# nndoctor report")
    out = tmp_path / "report.html"
    assert main(["diagnose", str(EXAMPLES / "nan_blowup"), "--format", "html", "-o", str(out)]) == 0
    page = out.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page and "<img" not in page


@pytest.mark.parametrize(("args", "needle"), [
    (["diagnose", "does/not/exist"], "no such file or directory"),
    (["diagnose", "EXAMPLE", "--answer", "nonsense"], "write FACT=VALUE"),
    (["diagnose", "EXAMPLE", "--answer", "lr=fast"], "fact 'lr' is a number"),
    (["diagnose", "EXAMPLE", "--answer", "no_such=1"], "unknown fact 'no_such'"),
    (["diagnose", "EXAMPLE", "--top", "0"], "--top must be at least 1"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, args, needle):
    args = [str(EXAMPLES / "nan_blowup") if a == "EXAMPLE" else a for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_bad_files_exit_2_without_traceback(tmp_path):
    empty = tmp_path / "metrics.csv"
    empty.write_text("")
    garbage = tmp_path / "notes.bin"
    garbage.write_bytes(b"\x00\x01garbage")
    for path in (empty, garbage):
        proc = subprocess.run([sys.executable, "-m", "nndoctor", "diagnose", str(path)],
                              capture_output=True, text=True)
        assert proc.returncode == 2
        assert str(path) in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


def test_refuses_to_overwrite_an_input_log(tmp_path, capsys):
    log = tmp_path / "metrics.csv"
    shutil.copy(EXAMPLES / "overfitting" / "metrics.csv", log)
    before = log.read_bytes()
    assert main(["diagnose", str(log), "-o", str(log)]) == 2
    assert log.read_bytes() == before
    assert "refusing to overwrite" in capsys.readouterr().err


def test_watch_once_alerts_and_runs_the_command(tmp_path, capsys):
    marker = tmp_path / "alerted"
    code = main(["watch", str(EXAMPLES / "nan_blowup"), "--once", "--alert-on", "likely",
                 "--exec", f"echo $NNDOCTOR_CAUSE >> {marker}"])
    out = capsys.readouterr().out
    assert code == 1 and "ALERT" in out
    assert "lr_too_high" in marker.read_text()
    assert main(["watch", str(EXAMPLES / "healthy"), "--once"]) == 0
