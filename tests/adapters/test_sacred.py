"""Sacred FileStorageObserver run folders (readers/sacred.py), on runs written by sacred 0.8.7
(tests/fixtures/logs/sacred/make_fixtures.py): a softmax regression that learns, and the same
with a learning rate 300x too high."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nndoctor.adapters.readers import detect_reader, read_path
from nndoctor.adapters.readers.sacred import reader as sacred
from nndoctor.adapters.run import LogError
from nndoctor.cli import main
from nndoctor.pipeline import diagnose_run

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "logs" / "sacred" / "runs"


def test_a_run_folder_is_one_run_with_its_config() -> None:
    for name in ("metrics.json", "run.json", "config.json", "cout.txt"):
        assert detect_reader(RUNS / "1" / name) is sacred, name
    (run,) = read_path(RUNS / "1")  # cout.txt is claimed, not read again as console output
    assert run.name == "softmax_blobs/1" and run.format == "sacred"
    assert run.series["train_loss"].source_tag == "train.loss"
    assert run.series["val_acc"].source_tag == "val.accuracy"
    assert len(run.series["val_loss"]) == 30 and "lr" in run.series
    assert run.context["lr"] == 0.5 and run.context["batch_size"] == 64
    assert run.context["num_classes"] == 4
    assert run.context["step_unit"] == "epoch"  # 30 steps logged, epochs = 30 in the config
    assert "COMPLETED" in run.context["ended"]


def test_the_observer_folder_holds_one_run_per_run_id() -> None:
    assert sorted(r.name for r in read_path(RUNS)) == ["softmax_blobs/1", "softmax_blobs/2"]


def test_the_healthy_run_is_healthy_and_the_unstable_one_has_its_learning_rate_too_high() -> None:
    """Per-epoch points: run 1's first point comes after a whole epoch (far below ln 4, no
    alarm); run 2's loss swings ±32 % from epoch to epoch, which no mini-batch noise explains."""
    (healthy,) = read_path(RUNS / "1")
    report = diagnose_run(healthy, questions=0).diagnosis
    assert report.verdict == "healthy" and report.causes == ()
    (unstable,) = read_path(RUNS / "2")
    report = diagnose_run(unstable, questions=0).diagnosis
    assert report.verdict == "problem" and report.causes[0].id == "lr_too_high"
    assert report.facts["loss_oscillating"].value is True


@pytest.mark.parametrize(("metrics", "needle"), [
    ("[1, 2]", "expected an object of metrics"),
    ('{"train.loss": {"steps": [0, 1], "values": [1.0]}}', "2 steps but 1 values"),
    ('{"train.loss": {"values": [1.0]}}', "expected steps and values lists"),
    ('{"train.loss": {"steps": [0, 1', "invalid JSON"),
    ('{"note": {"steps": [0], "values": ["text"]}}', "no numeric metric"),
])
def test_a_broken_metrics_file_is_one_line_naming_it(tmp_path: Path, capsys, metrics: str,
                                                      needle: str) -> None:
    run = tmp_path / "runs" / "7"
    shutil.copytree(RUNS / "1", run)
    (run / "metrics.json").write_text(metrics)
    with pytest.raises(LogError, match=needle):
        sacred.read(run / "metrics.json")
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    assert main(["diagnose", str(run / "metrics.json")]) == 2
    err = capsys.readouterr().err
    assert "metrics.json" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before  # nothing touched


def test_a_failed_run_says_so(tmp_path: Path) -> None:
    run = tmp_path / "3"
    shutil.copytree(RUNS / "2", run)
    record = json.loads((run / "run.json").read_text())
    record["status"] = "FAILED"
    (run / "run.json").write_text(json.dumps(record))
    (found,) = read_path(run)
    assert "FAILED" in found.context["ended"]
    assert any("FAILED" in w for w in found.warnings)
