"""Lightning metrics.csv, Keras CSVLogger, generic CSV/TSV and Ultralytics results.csv."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from nndoctor.adapters.readers import detect_reader, read_path
from nndoctor.adapters.readers.generic_csv import reader as generic
from nndoctor.adapters.readers.keras_csv import reader as keras_csv
from nndoctor.adapters.readers.lightning_csv import reader as lightning
from nndoctor.adapters.readers.ultralytics import reader as ultralytics
from nndoctor.adapters.run import LogError

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs"


# ------------------------------------------------------------------------- Lightning

def test_lightning_sparse_rows_and_suffixes() -> None:
    path = LOGS / "lightning" / "version_0" / "metrics.csv"
    assert detect_reader(path) is lightning
    (run,) = lightning.read(path)
    assert run.name == "version_0" and run.format == "lightning_csv"
    train = run.series["train_loss"]
    assert train.source_tag == "train_loss_step"  # finer series preferred for train
    assert len(train) == 24 and train.steps[:3].tolist() == [49, 99, 149]
    assert math.isnan(train.values[train.steps.tolist().index(1149)])  # literal nan kept
    val = run.series["val_loss"]
    assert val.steps.tolist() == [199, 399, 599, 799, 999, 1199]
    assert run.series["train_loss_epoch"].steps.tolist() == val.steps.tolist()
    assert run.series["lr"].source_tag == "lr-Adam"
    assert run.series["lr"].values[-1] == pytest.approx(1e-4)
    assert "epoch" not in run.series and "step" not in run.series


def test_lightning_hparams_context() -> None:
    (run,) = lightning.read(LOGS / "lightning" / "version_0" / "metrics.csv")
    assert run.context == {"num_classes": 10, "batch_size": 64, "lr": 0.001, "optimizer": "Adam",
                           "dropout": 0.1, "step_unit": "step", "steps_per_epoch": 200,
                           "epochs_reached": 6.0}  # the last rows are in epoch 5 (0-based)


def test_lightning_old_header_order_and_momentum_column() -> None:
    (run,) = lightning.read(LOGS / "lightning" / "version_1" / "metrics.csv")
    assert run.series["lr"].source_tag == "lr-SGD"
    assert "lr-sgd-momentum" in run.series  # momentum is not a learning rate
    assert run.context["num_classes"] == 37
    assert run.context["optimizer"] == "SGD"  # LightningCLI class_path, last component


def test_lightning_hparams_never_followed_and_unsafe_yaml_ignored(tmp_path: Path) -> None:
    folder = tmp_path / "version_0"
    folder.mkdir()
    (folder / "metrics.csv").write_text("epoch,step,train_loss\n0,9,1.0\n0,19,0.9\n")
    (folder / "hparams.yaml").write_text(
        "data_dir: /nonexistent/secret\nckpt: !!python/object/apply:os.system ['echo hi']\n")
    (run,) = lightning.read(folder / "metrics.csv")
    assert run.series["train_loss"].values.tolist() == [1.0, 0.9]
    assert any("hparams.yaml" in w for w in run.warnings)
    assert run.context == {"step_unit": "step", "epochs_reached": 1.0}


def test_other_metrics_csv_goes_to_the_generic_reader(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text("iteration,loss,val_loss\n0,1.0,1.1\n10,0.8,0.9\n")
    assert detect_reader(path) is generic
    (run,) = read_path(path)
    assert run.series["val_loss"].steps.tolist() == [0, 10]


# ------------------------------------------------------------------------- Keras CSVLogger

def test_keras_csv_appended_runs_keep_last_and_na_is_missing() -> None:
    path = LOGS / "keras_csv" / "training.log"
    assert detect_reader(path) is keras_csv
    (run,) = keras_csv.read(path)
    assert run.series["train_loss"].steps.tolist() == list(range(7))
    assert run.series["val_loss"].steps.tolist() == list(range(6))  # NA in the last epoch
    assert run.series["train_loss"].values[0] == pytest.approx(1.3)  # from the second run
    assert any("appended" in w and "line 6" in w for w in run.warnings)
    assert run.series["train_acc"].source_tag == "accuracy"
    assert run.series["val_acc"].source_tag == "val_accuracy"


def test_keras_csv_old_names_semicolon_and_lr() -> None:
    path = LOGS / "keras_csv" / "old_keras.csv"
    assert detect_reader(path) is keras_csv
    (run,) = keras_csv.read(path)
    assert set(run.series) == {"train_loss", "val_loss", "train_acc", "val_acc", "lr"}
    assert run.series["lr"].values.tolist() == [0.01, 0.01, 0.01, 0.001, 0.001]


def test_keras_csv_repeated_header_starts_a_new_run(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("epoch,loss,val_loss\n0,1.0,1.1\n1,0.9,1.0\nepoch,loss,val_loss\n"
                    "0,0.5,0.6\n")
    (run,) = keras_csv.read(path)
    assert run.series["train_loss"].values.tolist() == [0.5]
    assert run.warnings


def test_python_logging_file_is_not_keras(tmp_path: Path) -> None:
    path = tmp_path / "training.log"
    path.write_text("2025-04-24 21:16:20,207 - INFO - epoch 1 loss 0.5\n"
                    "2025-04-24 21:16:21,207 - INFO - epoch 2 loss 0.4\n")
    reader = detect_reader(path)  # a console log (console.py), never the Keras CSV reader
    assert reader is not None and reader.name == "console"
    (run,) = reader.read(path)
    assert run.series["train_loss"].values.tolist() == [0.5, 0.4]


# ------------------------------------------------------------------------- generic CSV / TSV

def test_generic_csv_step_column_sparse_cells() -> None:
    path = LOGS / "generic_csv" / "progress.csv"
    assert detect_reader(path) is generic
    (run,) = generic.read(path)
    assert run.series["train_loss"].steps.tolist() == list(range(0, 1000, 100))
    assert run.series["val_loss"].steps.tolist() == [0, 200, 400, 600, 800]
    assert run.series["grad_norm"].values.max() == pytest.approx(41.5)
    assert run.context["index"] == "step"


def test_fastai_history_unprefixed_metrics_are_validation() -> None:
    (run,) = generic.read(LOGS / "generic_csv" / "history.csv")
    assert run.series["val_loss"].source_tag == "valid_loss"
    assert run.series["val_acc"].source_tag == "accuracy"
    assert "train_acc" not in run.series
    assert "time" not in run.series  # mm:ss text column skipped
    assert run.series["train_loss"].steps.tolist() == [0, 1, 2, 3, 4]


def test_tsv_with_iteration_index() -> None:
    path = LOGS / "generic_csv" / "metrics.tsv"
    assert detect_reader(path) is generic
    (run,) = generic.read(path)
    assert run.series["train_loss"].steps.tolist() == list(range(0, 500, 50))
    assert run.context["index"] == "iteration"


def test_no_index_column_uses_row_number() -> None:
    (run,) = generic.read(LOGS / "generic_csv" / "deepdiagnosis_no_index.csv")
    assert run.series["val_loss"].steps.tolist() == list(range(6))
    assert run.series["train_loss"].source_tag == "loss"
    assert run.context["index"] == "row"


def test_non_numeric_cell_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("step,loss,acc\n0,1.0,0.1\n1,oops,0.2\n2,0.8,0.3\n")
    with pytest.raises(LogError) as err:
        read_path(path)
    message = str(err.value)
    assert str(path) in message and "line 3" in message and "'loss'" in message
    assert "'oops'" in message and "\n" not in message


def test_fractional_epoch_is_not_an_index(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("epoch,loss\n0.25,1.0\n0.5,0.9\n0.75,0.8\n")
    (run,) = generic.read(path)
    assert run.series["train_loss"].steps.tolist() == [0, 1, 2]
    assert "epoch" not in run.series


def test_unrelated_csv_is_not_a_log(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("filename,label\na.png,cat\nb.png,dog\n")
    assert detect_reader(path) is None


# ------------------------------------------------------------------------- Ultralytics

def test_yolov8_padded_results_csv() -> None:
    path = LOGS / "ultralytics" / "train" / "results.csv"
    assert detect_reader(path) is ultralytics
    (run,) = ultralytics.read(path)
    assert run.series["train/box_loss"].steps.tolist() == list(range(1, 11))  # 1-based epochs
    total = (run.series["train/box_loss"].values + run.series["train/cls_loss"].values
             + run.series["train/dfl_loss"].values)
    np.testing.assert_allclose(run.series["train_loss"].values, total)
    assert "sum of" in run.context["derived"]["train_loss"]
    assert run.series["val_loss"].source_tag == "val/box_loss+val/cls_loss+val/dfl_loss"
    assert run.series["lr"].source_tag == "lr/pg0"
    assert "metrics/map50-95_b" in run.series
    assert run.context["batch_size"] == 16 and run.context["lr"] == 0.01
    assert run.context["optimizer"] == "SGD"


def test_yolov5_and_yolo11_layouts() -> None:
    (v5,) = ultralytics.read(LOGS / "ultralytics" / "yolov5_exp3" / "results.csv")
    assert v5.series["lr"].source_tag == "x/lr0"
    assert v5.series["train_loss"].steps.tolist() == list(range(5))
    assert "train/obj_loss" in v5.series["train_loss"].source_tag
    (v11,) = ultralytics.read(LOGS / "ultralytics" / "yolo11_train2" / "results.csv")
    assert "time" not in v11.series and len(v11.series["train_loss"]) == 4


def test_empty_results_csv_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    path.write_text("")
    with pytest.raises(LogError, match="empty file"):
        read_path(path)
    with pytest.raises(LogError, match="empty file"):
        read_path(tmp_path)


def test_a_csv_downloaded_from_a_wandb_chart_is_one_run_per_run_name(tmp_path: Path) -> None:
    """W&B's chart download: Step, then "<run> - <metric>" with __MIN/__MAX envelopes of the
    sampled points; a run without a value at a step leaves its cell empty."""
    rows = ['"Step","calm-sky-3 - train/loss","calm-sky-3 - train/loss__MIN",'
            '"calm-sky-3 - train/loss__MAX","bold-fog-4 - train/loss",'
            '"bold-fog-4 - train/loss__MIN","bold-fog-4 - train/loss__MAX"']
    for step in range(0, 50, 5):
        other = f'"{1.0 / (step + 1)}"' if step % 10 == 0 else '""'
        rows.append(f'"{step}","{2.0 - step / 50}","{2.0 - step / 50}","{2.0 - step / 50}",'
                    f'{other},{other},{other}')
    path = tmp_path / "wandb_export_2024-01-01T00_00_00.csv"
    path.write_text("\n".join(rows) + "\n")
    runs = {run.name: run for run in read_path(path)}
    assert sorted(runs) == ["bold-fog-4", "calm-sky-3"]
    calm, bold = runs["calm-sky-3"], runs["bold-fog-4"]
    assert list(calm.series) == ["train_loss"]  # the envelopes are left out
    assert calm.series["train_loss"].steps.tolist() == list(range(0, 50, 5))
    assert bold.series["train_loss"].steps.tolist() == [0, 10, 20, 30, 40]


def test_a_table_with_one_dash_column_is_no_wandb_export(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("step,loss,note - x\n0,1.0,3\n1,0.9,4\n")
    (run,) = read_path(path)
    assert run.name == "log" and "train_loss" in run.series
