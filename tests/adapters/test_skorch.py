"""skorch ``history.json`` (readers/skorch_history.py), on files written by skorch 1.4.0's
``Checkpoint`` callback (tests/fixtures/logs/skorch/make_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

from nndoctor.adapters.readers import detect_reader, read_path
from nndoctor.adapters.readers.skorch_history import reader as skorch
from nndoctor.pipeline import diagnose_run

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs" / "skorch"


def test_every_training_batch_is_a_point_and_each_epoch_sits_at_its_last_batch() -> None:
    path = LOGS / "shuffled" / "history.json"
    assert detect_reader(path) is skorch
    (run,) = read_path(path)
    assert run.name == "shuffled" and run.format == "skorch_history"
    assert run.series["train_loss"].steps.tolist() == list(range(1, 501))  # 25 batches x 20
    assert run.series["val_loss"].steps.tolist() == list(range(25, 501, 25))
    assert len(run.series["val_acc"]) == 20 and len(run.series["train_loss_epoch"]) == 20
    assert run.context["steps_per_epoch"] == 25 and run.context["batch_size"] == 64


def test_a_keras_history_is_not_a_skorch_one(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text('{"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}', encoding="utf-8")
    assert not skorch.can_read(path)
    path.write_text('[{"epoch": 1, "train_loss": 1.0}]', encoding="utf-8")  # no batches
    assert not skorch.can_read(path)


def test_shuffled_is_healthy_unshuffled_repeats_each_epoch_and_a_huge_lr_diverges() -> None:
    """skorch's default training iterator does not shuffle: the same batches in the same order
    every epoch, and the batch losses repeat with the epoch."""
    verdicts = {}
    for name in ("shuffled", "unshuffled", "lr_too_high"):
        (run,) = read_path(LOGS / name)
        verdicts[name] = diagnose_run(run, questions=0).diagnosis
    assert verdicts["shuffled"].verdict == "healthy"
    assert all(c.band not in ("likely", "confirmed") for c in verdicts["shuffled"].causes)
    assert verdicts["unshuffled"].causes[0].id == "data_not_shuffled"
    assert verdicts["lr_too_high"].causes[0].id == "lr_too_high"
