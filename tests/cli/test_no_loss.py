"""A log with series but no loss is never answered silently: a warning in every report, and
``--fail-on`` exits 2 (nothing was judged) unless another run has findings (exit 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nndoctor.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def no_loss(tmp_path: Path) -> Path:
    path = tmp_path / "log.csv"
    rows = "".join(f"{s},{0.1 + s / 100},{0.01},{s / 50}\n" for s in range(60))
    path.write_text("step,acc,lr,objective_scale\n" + rows)
    return path


def test_warning_names_the_series_and_the_fix(no_loss: Path, capsys) -> None:
    assert main(["diagnose", str(no_loss)]) == 0  # without --fail-on a report is all it is
    out = " ".join(capsys.readouterr().out.split())  # the report wraps at the width
    assert "warning: no series maps to a train or val loss" in out
    assert "acc, lr, objective_scale" in out and "--metric train_loss=" in out


def test_warning_in_json(no_loss: Path, capsys) -> None:
    assert main(["diagnose", str(no_loss), "--format", "json"]) == 0
    [run] = json.loads(capsys.readouterr().out)["runs"]
    assert any("no series maps to a train or val loss" in w for w in run["warnings"])


def test_fail_on_exits_2(no_loss: Path, capsys) -> None:
    assert main(["diagnose", str(no_loss), "--fail-on", "possible"]) == 2
    err = capsys.readouterr().err
    assert "no train or val loss in log" in err and "--metric train_loss=TAG" in err


def test_metric_override_clears_the_warning(no_loss: Path, capsys) -> None:
    code = main(["diagnose", str(no_loss), "--metric", "train_loss=objective_scale",
                 "--format", "json", "--fail-on", "confirmed"])
    [run] = json.loads(capsys.readouterr().out)["runs"]
    assert not any("no series maps" in w for w in run["warnings"])
    assert code in (0, 1)


def test_findings_elsewhere_exit_1(no_loss: Path, capsys) -> None:
    code = main(["diagnose", str(no_loss), str(EXAMPLES / "exploding"), "--fail-on", "possible"])
    assert code == 1
