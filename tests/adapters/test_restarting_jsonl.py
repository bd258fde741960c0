"""Resumed runs that append to the same JSON-lines file (mmengine ``vis_data/scalars.json``,
detectron2 ``metrics.json``) keep the newest segment. Files are built to the documented layouts
(mmengine's LoggerHook/LocalVisBackend, detectron2's JSONWriter): neither package is installed."""

from __future__ import annotations

import json
from pathlib import Path

from nndoctor.adapters.readers import read_path


def _write(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_detectron2_restart_keeps_the_newest_segment(tmp_path):
    first = [{"iteration": i, "total_loss": 3.0 - i / 100, "lr": 0.01} for i in range(0, 300, 20)]
    # crashed at 280, resumed from the checkpoint at 200: 200-280 are logged again, differently
    second = [{"iteration": i, "total_loss": 1.0 - i / 1000, "lr": 0.01}
              for i in range(200, 400, 20)]
    log = _write(tmp_path / "output" / "metrics.json", first + second)
    (run,) = read_path(log)
    loss = run.series["train_loss"]
    assert list(loss.steps) == sorted(set(loss.steps))  # one point per step, no interleaving
    assert loss.steps[0] == 0 and loss.steps[-1] == 380
    at_200 = float(loss.values[list(loss.steps).index(200)])
    assert abs(at_200 - (1.0 - 0.2)) < 1e-9  # the resumed run's value, not the crashed one's
    assert any("restart" in w for w in run.warnings)


def test_mmengine_validation_rows_on_an_epoch_axis_are_no_restart(tmp_path):
    rows = []
    for epoch in range(1, 4):
        rows += [{"lr": 0.01, "loss": 2.0 / epoch - it / 1e4, "step": (epoch - 1) * 100 + it,
                  "epoch": epoch} for it in range(10, 101, 10)]
        rows.append({"accuracy/top1": 30.0 * epoch, "step": epoch})  # by_epoch validation
    log = _write(tmp_path / "work_dirs" / "exp" / "vis_data" / "scalars.json", rows)
    (run,) = read_path(log)
    assert len(run.series["train_loss"]) == 30
    assert not any("restart" in w for w in run.warnings)
    # the validation rows count epochs: each is the evaluation after its epoch's last step,
    # and their accuracy is the validation accuracy (in percent)
    assert run.series["val_acc"].steps.tolist() == [100, 200, 300]
    assert run.series["val_acc"].values.tolist() == [0.3, 0.6, 0.9]
    assert "train_acc" not in run.series


def test_evaluation_rows_on_the_training_axis_keep_their_steps(tmp_path):
    """detectron2's evaluation rows share the iteration axis: nothing is moved or renamed."""
    rows = [{"iteration": i, "total_loss": 3.0 - i / 100, "lr": 0.01} for i in range(0, 300, 20)]
    rows.insert(10, {"iteration": 199, "bbox/AP": 31.5})
    log = _write(tmp_path / "output" / "metrics.json", rows)
    (run,) = read_path(log)
    assert run.series["bbox/ap"].steps.tolist() == [199]


def test_other_json_lines_logs_keep_every_point(tmp_path):
    rows = [{"step": s, "loss": 1.0} for s in (0, 10, 20, 5, 15)]
    (run,) = read_path(_write(tmp_path / "log.jsonl", rows))
    assert len(run.series["train_loss"]) == 5
