"""Issue #11 formats: MLflow SQLite, W&B local runs, console logs, DVCLive, Ray Tune, remote paths.

MLflow and W&B files are written by the real packages (test extra ``formats``; skipped without
them). DVCLive (its package pulls all of DVC) and Ray Tune (far too heavy) are small files
constructed to their documented layouts (log-formats.md §5). Parity tests log the same curves
to a TensorBoard event file (tests/adapters/eventfile.py) and compare the derived facts.
"""

from __future__ import annotations

import json
import math
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nndoctor.adapters.readers import detect_reader, read_path
from nndoctor.adapters.run import LogError, Run
from nndoctor.adapters.symptoms import derive_facts
from nndoctor.knowledge.loader import load_knowledge_base
from tests.adapters import eventfile as ev

ROOT = Path(__file__).resolve().parents[2]
STEPS = list(range(0, 60))
TRAIN = [float(np.float32(2.3 * math.exp(-s / 12) + 0.05)) for s in STEPS]
VAL = [float(np.float32(2.3 * math.exp(-s / 12) + 0.3 + (0.02 * (s - 20) if s > 20 else 0)))
       for s in STEPS]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "MLFLOW_"))}
    env.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DISABLE_GIT="true",
               PYTHONPATH=str(ROOT))
    return env


def _facts(run: Run) -> dict[str, object]:
    kb = load_knowledge_base()
    return {f.name: f.value for f in derive_facts(run, kb)}


def _tb_twin(folder: Path, train_tag: str = "loss", val_tag: str = "val_loss") -> Run:
    events = [ev.event(s, ev.simple(train_tag, t), ev.simple(val_tag, v))
              for s, t, v in zip(STEPS, TRAIN, VAL, strict=True)]
    ev.write(folder / "events.out.tfevents.1700000000.host.1.0", events)
    (run,) = read_path(folder)
    return run


def _same_facts(run: Run, twin: Run) -> None:
    a, b = _facts(run), _facts(twin)

    def same(x: object, y: object) -> bool:
        if isinstance(x, float) and isinstance(y, float):
            return x == pytest.approx(y, rel=1e-6)  # a console log prints 8 digits
        return x == y

    diff = {k: (a.get(k), b.get(k)) for k in a.keys() | b.keys() if not same(a.get(k), b.get(k))}
    assert not diff


# --------------------------------------------------------------------------------- MLflow SQLite

MLFLOW_SCRIPT = """
import math, sys
import mlflow
mlflow.set_tracking_uri("sqlite:///" + sys.argv[1])
mlflow.set_experiment("exp1")
train, val = {train}, {val}
with mlflow.start_run(run_name="overfit"):
    mlflow.log_params({{"optimizer": "Adam", "lr": 0.001, "batch_size": 32, "num_classes": 10}})
    for s, (t, v) in enumerate(zip(train, val)):
        mlflow.log_metrics({{"loss": t, "val_loss": v}}, step=s)
with mlflow.start_run(run_name="broken"):
    for s in range(5):
        mlflow.log_metric("loss", float("nan") if s == 3 else 1.0 / (s + 1), step=s)
    mlflow.log_metric("grad_norm", float("inf"), step=4)
    mlflow.log_metric("neg", float("-inf"), step=4)
"""


@pytest.fixture(scope="module")
def mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mlflow")
    folder = tmp_path_factory.mktemp("mlflow")
    db = folder / "mlflow.db"
    script = MLFLOW_SCRIPT.format(train=TRAIN, val=VAL)
    subprocess.run([sys.executable, "-c", script, str(db)], check=True, cwd=folder,
                   env=_env(), capture_output=True, timeout=300)
    return db


def test_mlflow_sqlite_runs_params_nan_inf(mlflow_db: Path) -> None:
    reader = detect_reader(mlflow_db)
    assert reader is not None and reader.name == "mlflow_sqlite"
    runs = {r.name: r for r in read_path(mlflow_db)}
    assert set(runs) == {"exp1/overfit", "exp1/broken"}
    good = runs["exp1/overfit"]
    assert good.series["train_loss"].values.tolist() == pytest.approx(TRAIN)
    assert good.series["val_loss"].steps.tolist() == STEPS
    ctx = good.context
    assert (ctx["optimizer"], ctx["lr"], ctx["batch_size"], ctx["num_classes"]) == \
        ("Adam", 0.001, 32, 10)
    assert ctx["ended"] == "MLflow run status FINISHED"  # the `with start_run()` block closed
    bad = runs["exp1/broken"]
    loss = bad.series["train_loss"].values
    assert math.isnan(loss[3]) and loss[4] == pytest.approx(0.2)
    assert bad.series["grad_norm"].values.tolist() == [math.inf]
    assert bad.series["neg"].values.tolist() == [-math.inf]


def test_mlflow_sqlite_uri_and_directory_scan(mlflow_db: Path) -> None:
    uri_runs = read_path(Path("sqlite:///" + str(mlflow_db)))  # as argparse's Path leaves it
    assert sorted(r.name for r in uri_runs) == ["exp1/broken", "exp1/overfit"]
    assert sorted(r.name for r in read_path(mlflow_db.parent)) == ["exp1/broken", "exp1/overfit"]


def test_mlflow_sqlite_is_read_without_writing(mlflow_db: Path) -> None:
    folder = mlflow_db.parent
    before = {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.iterdir()}
    read_path(mlflow_db)
    after = {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.iterdir()}
    assert before == after  # no -journal, -wal or -shm, the database untouched


def test_mlflow_sqlite_parity_with_tensorboard(mlflow_db: Path, tmp_path: Path) -> None:
    run = next(r for r in read_path(mlflow_db) if r.name == "exp1/overfit")
    twin = _tb_twin(tmp_path / "tb")
    twin = Run(twin.name, twin.path, twin.format, twin.series, {**twin.context,
               **{k: run.context[k] for k in ("optimizer", "lr", "batch_size", "num_classes")}})
    _same_facts(run, twin)


LIVE_SCRIPT = """
import sys, time
import mlflow
mlflow.set_tracking_uri("sqlite:///" + sys.argv[1])
mlflow.set_experiment("live")
with mlflow.start_run(run_name="running"):
    print("started", flush=True)
    for s in range(int(sys.argv[2])):
        mlflow.log_metric("loss", 1.0 / (s + 1), step=s)
        time.sleep(0.01)
"""


def test_mlflow_sqlite_live_database_while_logging(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    db = tmp_path / "mlflow.db"
    proc = subprocess.Popen([sys.executable, "-c", LIVE_SCRIPT, str(db), "300"], cwd=tmp_path,
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"started"
        seen, ended = [], []
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            (run,) = read_path(db)
            loss = run.get("train_loss")
            seen.append(len(loss) if loss is not None else 0)
            ended.append("ended" in run.context)
            time.sleep(0.05)
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()[-2000:]  # our reads never made the writer fail
    assert len(seen) >= 2 and seen == sorted(seen)
    assert not ended[0]  # status RUNNING while it logs
    (run,) = read_path(db)
    assert len(run.series["train_loss"]) == 300
    assert run.context["ended"] == "MLflow run status FINISHED"


def test_mlflow_sqlite_metric_columns_are_the_rows_converted_one_by_one() -> None:
    """The metric rows converted a column at a time (mlflow_sqlite._columns) hold what the row
    by row conversion (_points) gives: NaN flags, ±max as ±inf, integer values, several runs
    and metrics; a cell of another type leaves the rows to _points."""
    from nndoctor.adapters.readers.mlflow_sqlite import _columns, _points

    big = sys.float_info.max
    rows = [("r1", "acc", 0, 0.5, 0), ("r1", "acc", 1, 1, 0), ("r1", "loss", 0, 0.0, 1),
            ("r1", "loss", 5, big, 0), ("r1", "loss", 5, -big, 0), ("r2", "loss", 3, 2.5, 0),
            ("r3", "acc", -2, 7, 1)]

    def plain(points: dict) -> dict:
        return {run: {key: (np.asarray(s, dtype=np.int64).tobytes(),
                            np.asarray(v, dtype=np.float64).tobytes())
                      for key, (s, v) in metrics.items()} for run, metrics in points.items()}

    columns = _columns(rows)
    assert columns is not None
    assert plain(columns) == plain(_points(rows))
    assert list(columns) == ["r1", "r2", "r3"] and list(columns["r1"]) == ["acc", "loss"]
    assert _columns([]) == {}
    for odd in (("r4", "loss", 1.5, 1.0, 0), ("r4", "loss", 1, "1.0", 0), ("r4", 7, 1, 1.0, 0),
                ("r4", "loss", 1, None, 0), ("r4", "loss", 2**70, 1.0, 0)):
        assert _columns([*rows, odd]) is None


def test_mlflow_sqlite_damaged_file_is_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "mlflow.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x10\x00" + os.urandom(2000))
    with pytest.raises(LogError) as err:
        read_path(bad)
    assert "\n" not in str(err.value) and str(bad) in str(err.value)


# ---------------------------------------------------------------------------------- W&B local

WANDB_SCRIPT = """
import math, sys
import wandb
train, val = {train}, {val}
run = wandb.init(project="p", name="overfit", dir=sys.argv[1],
                 config={{"optimizer": "adam", "lr": 0.01, "batch_size": 16, "num_classes": 10}})
for s, (t, v) in enumerate(zip(train, val)):
    run.log({{"loss": t, "val_loss": v, "nested": {{"acc": 0.5}}}}, step=s)
run.log({{"grad_norm": float("nan")}}, step=60)
run.finish()
"""


@pytest.fixture(scope="module")
def wandb_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("wandb")
    folder = tmp_path_factory.mktemp("wandb")
    subprocess.run([sys.executable, "-c", WANDB_SCRIPT.format(train=TRAIN, val=VAL),
                    str(folder)], check=True, cwd=folder, env=_env(), capture_output=True,
                   timeout=300)
    (run_dir,) = (folder / "wandb").glob("offline-run-*")
    return run_dir


def test_wandb_offline_run_history_and_config(wandb_run: Path) -> None:
    (log,) = wandb_run.glob("run-*.wandb")
    reader = detect_reader(log)
    assert reader is not None and reader.name == "wandb"
    (run,) = read_path(wandb_run.parent.parent)
    assert run.name == "overfit" and run.format == "wandb"
    assert run.series["train_loss"].values.tolist() == pytest.approx(TRAIN)
    assert run.series["val_loss"].steps.tolist() == STEPS
    assert run.series["nested/acc"].values[0] == 0.5
    assert math.isnan(run.series["grad_norm"].values[-1])
    assert (run.context["optimizer"], run.context["lr"], run.context["num_classes"]) == \
        ("adam", 0.01, 10)
    assert run.context["ended"] == "the W&B log has its exit record (exit code 0)"  # finish()


def test_wandb_parity_with_tensorboard(wandb_run: Path, tmp_path: Path) -> None:
    (run,) = read_path(wandb_run)
    twin = _tb_twin(tmp_path / "tb")
    run = Run(run.name, run.path, run.format, {k: run.series[k] for k in ("train_loss",
              "val_loss")}, {})
    twin = Run(twin.name, twin.path, twin.format, twin.series, {})
    _same_facts(run, twin)


def test_wandb_cut_off_and_corrupt_logs(wandb_run: Path, tmp_path: Path) -> None:
    (log,) = wandb_run.glob("run-*.wandb")
    data = log.read_bytes()
    cut = tmp_path / "wandb" / "offline-run-20260101_000000-abc" / "run-abc.wandb"
    cut.parent.mkdir(parents=True)
    cut.write_bytes(data[: len(data) - 5])
    (run,) = read_path(cut)
    assert any("cut-off" in w or "corrupt" in w for w in run.warnings)

    cut.write_bytes(data[:7] + bytes([data[7] ^ 0xFF]) + data[8:])  # first chunk's CRC
    (run,) = read_path(cut)
    assert any("CRC" in w for w in run.warnings)
    cut.write_bytes(b":W&Bxx" + data[6:])
    with pytest.raises(LogError, match="not a W&B transaction log"):
        read_path(cut)


# -------------------------------------------------------------------------------- console logs

KERAS = ("Epoch 1/3\n\r 1/25 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step - accuracy: 0.5000 - loss: 2.0000"
         "\r25/25 ━━━━━━━━━━━━━━━━━━━━ 1s 3ms/step - accuracy: 0.6000 - loss: 1.5000 - "
         "val_accuracy: 0.5500 - val_loss: 1.6000\nEpoch 2/3\n25/25 - 0s - 2ms/step - accuracy: "
         "0.7000 - loss: 1.0000 - val_accuracy: 0.6500 - val_loss: 1.2000\nEpoch 3/3\n25/25 "
         "[==============================] - 0s 2ms/step - loss: 0.8000 - accuracy: 0.8000 - "
         "val_loss: 1.1000 - val_accuracy: 0.7000\n")
HF = (" 10%|█         | 10/100 [00:01<00:09,  9.0it/s]\n{'loss': 0.52, 'grad_norm': 1.3, "
      "'learning_rate': 4e-05, 'epoch': 0.5}\n 20%|██        | 20/100 [00:02<00:09,  9.0it/s]\n"
      "{'loss': 0.42, 'grad_norm': nan, 'learning_rate': 3e-05, 'epoch': 1.0}\n"
      "100%|██████████| 5/5 [00:00<00:00, 50.0it/s]\n{'eval_loss': 0.6, 'eval_runtime': 1.0, "
      "'epoch': 1.0}\n{'train_runtime': 10.0, 'train_samples_per_second': 3.0, 'train_loss': "
      "0.47, 'epoch': 1.0}\n")
LIGHTNING = ("Epoch 0: 100%|██████████| 50/50 [00:01<00:00, 40.00it/s, v_num=0, train_loss=0.523]"
             "\rEpoch 0: 100%|██████████| 50/50 [00:01<00:00, 40.00it/s, v_num=0, "
             "train_loss=0.500, val_loss=0.600]\rEpoch 1: 100%|██████████| 50/50 [00:01<00:00, "
             "40.00it/s, v_num=0, train_loss=0.400, val_loss=0.550]\n")


def test_console_keras_fit_with_and_without_bars(tmp_path: Path) -> None:
    path = tmp_path / "train.log"
    path.write_text(KERAS, encoding="utf-8")
    (run,) = read_path(path)
    assert run.format == "console" and run.context["step_unit"] == "epoch"
    assert run.series["train_loss"].values.tolist() == [1.5, 1.0, 0.8]
    assert run.series["val_acc"].steps.tolist() == [0, 1, 2]


def test_console_hf_trainer_dicts(tmp_path: Path) -> None:
    path = tmp_path / "nohup.out"
    path.write_text(HF, encoding="utf-8")
    (run,) = read_path(path)
    assert run.series["train_loss"].steps.tolist() == [10, 20]  # the main bar's counter
    assert math.isnan(run.series["grad_norm"].values[1])
    assert run.series["val_loss"].values.tolist() == [0.6]
    assert run.context["steps_per_epoch"] == 20
    assert "train_loss" not in [s.source_tag for s in run.series.values()]  # the summary


def test_console_dicts_of_a_script_of_ones_own(tmp_path: Path) -> None:
    """Printed dicts that are not the Trainer's: their train_loss is a point of the curve."""
    path = tmp_path / "train.log"
    path.write_text("".join(f"{{'epoch': {e}, 'train_loss': {1.0 - e / 10}, 'valid_loss': "
                            f"{1.1 - e / 10}}}\n" for e in range(5)), encoding="utf-8")
    (run,) = read_path(path)
    assert run.series["train_loss"].values.tolist() == pytest.approx([1.0, 0.9, 0.8, 0.7, 0.6])
    assert run.series["val_loss"].values.tolist() == pytest.approx([1.1, 1.0, 0.9, 0.8, 0.7])


FASTAI_TABLE = """epoch     train_loss  valid_loss  accuracy  time
0         1.523456    1.234567    0.512345  00:12
1         1.012345    0.934567    0.712345  00:11
2         0.812345    0.834567    0.772345  00:11
"""
ULTRALYTICS = """
      Epoch    GPU_mem   box_loss   cls_loss   dfl_loss  Instances       Size
       1/10         0G      1.234      2.345      1.111         45        640: 100%|##| 8/8
                 Class     Images  Instances      Box(P          R      mAP50  mAP50-95): 100%
                   all        128        929      0.641      0.528      0.611      0.442

      Epoch    GPU_mem   box_loss   cls_loss   dfl_loss  Instances       Size
       2/10         0G      1.134      2.045      1.011         41        640: 100%|##| 8/8
                   all        128        929      0.661      0.538      0.621      0.452
"""


def test_console_fastai_table(tmp_path: Path) -> None:
    """fastai prints a table whose unprefixed metrics are validation metrics."""
    path = tmp_path / "train.log"
    path.write_text(FASTAI_TABLE, encoding="utf-8")
    (run,) = read_path(path)
    assert run.context["step_unit"] == "epoch"
    assert run.series["train_loss"].values.tolist() == pytest.approx([1.523456, 1.012345,
                                                                      0.812345])
    assert run.series["val_loss"].steps.tolist() == [0, 1, 2]
    assert run.series["val_acc"].values.tolist() == pytest.approx([0.512345, 0.712345, 0.772345])
    assert "time" not in run.series


def test_console_ultralytics_table(tmp_path: Path) -> None:
    """The header repeats each epoch; ``1/10`` is epoch 1; GPU memory and sizes are no metric."""
    path = tmp_path / "train.log"
    path.write_text(ULTRALYTICS, encoding="utf-8")
    (run,) = read_path(path)
    box = next(s for name, s in run.series.items() if "box" in name)
    assert box.steps.tolist() == [0, 1] and box.values.tolist() == pytest.approx([1.234, 1.134])
    assert not any("gpu" in name.lower() or "instances" in name.lower() for name in run.series)


def test_a_table_without_an_index_column_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("model  loss  accuracy\nresnet  0.5  0.9\nvgg  0.6  0.8\n", encoding="utf-8")
    with pytest.raises(LogError):
        read_path(path)


def test_console_lightning_bars(tmp_path: Path) -> None:
    path = tmp_path / "slurm-1234.out"
    path.write_text(LIGHTNING, encoding="utf-8")
    (run,) = read_path(path)
    assert run.series["train_loss"].values.tolist() == [0.5, 0.4]
    assert run.series["val_loss"].steps.tolist() == [0, 1]
    assert "v_num" not in run.series


@pytest.mark.parametrize(("text", "steps", "loss"), [
    ("epoch 1 loss=0.5 val_loss=0.6\nepoch 2 loss=0.4 val_loss=0.5\n", [0, 1], [0.5, 0.4]),
    ("step 100 | loss 2.31\nstep 200 | loss 2.01 | lr 0.001\n", [100, 200], [2.31, 2.01]),
    ("Epoch [1/10], Step [100/600], Loss: 0.2345\nEpoch [1/10], Step [200/600], Loss: 0.2\n"
     "Epoch [2/10], Step [100/600], Loss: 0.1\n", [100, 200, 700], [0.2345, 0.2, 0.1]),
    ("iter 0: loss 4.2345, time 123.45ms, mfu -100.00%\niter 10: loss 3.2345, time 12.1ms, "
     "mfu 1.23%\n", [0, 10], [4.2345, 3.2345]),
])
def test_console_hand_written_lines(tmp_path: Path, text: str, steps: list[int],
                                    loss: list[float]) -> None:
    path = tmp_path / "out.txt"
    path.write_text(text, encoding="utf-8")
    (run,) = read_path(path)
    assert run.series["train_loss"].steps.tolist() == steps
    assert run.series["train_loss"].values.tolist() == pytest.approx(loss)


FAIRSEQ = ("2024-01-01 00:00:01 | INFO | train | epoch 001 | loss 9.1 | ppl 549.1 | wps 1234 | "
           "lr 0.0005 | gnorm 1.2 | train_wall 30\n"
           "2024-01-01 00:00:02 | INFO | valid | epoch 001 | valid on 'valid' subset | loss 8.5 | "
           "ppl 362.0\n"
           "2024-01-01 00:01:01 | INFO | train | epoch 002 | loss 7.9 | ppl 238.9 | wps 1234 | "
           "lr 0.0005 | gnorm 0.9 | train_wall 30\n"
           "2024-01-01 00:01:02 | INFO | valid | epoch 002 | valid on 'valid' subset | loss 7.7 | "
           "ppl 208.0\n")


# PyTorch's examples/mnist/main.py: the test lines carry no index and follow their epoch
MNIST = ("Train Epoch: 1 [0/60000 (0%)]\tLoss: 2.300000\n"
         "Train Epoch: 1 [59520/60000 (99%)]\tLoss: 0.060000\n\n"
         "Test set: Average loss: 0.0499, Accuracy: 9838/10000 (98%)\n\n"
         "Train Epoch: 2 [0/60000 (0%)]\tLoss: 0.080000\n"
         "Train Epoch: 2 [59520/60000 (99%)]\tLoss: 0.040000\n\n"
         "Test set: Average loss: 0.0372, Accuracy: 9873/10000 (99%)\n")


MMENGINE = ("2024/01/01 00:00:00 - mmengine - INFO - Epoch(train)  [1][ 50/100]  base_lr: "
            "1.0000e-01 lr: 1.0000e-01  eta: 0:01:00  time: 0.1  data_time: 0.01  loss: 2.2000\n"
            "2024/01/01 00:00:10 - mmengine - INFO - Epoch(train)  [1][100/100]  base_lr: "
            "1.0000e-01 lr: 1.0000e-01  eta: 0:00:50  time: 0.1  data_time: 0.01  loss: 1.9000\n"
            "2024/01/01 00:00:12 - mmengine - INFO - Epoch(val) [1][20/20]    accuracy/top1: "
            "41.0000  accuracy/top5: 90.0000  data_time: 0.01  time: 0.02\n"
            "2024/01/01 00:00:20 - mmengine - INFO - Epoch(train)  [2][ 50/100]  base_lr: "
            "1.0000e-01 lr: 1.0000e-01  eta: 0:00:40  time: 0.1  data_time: 0.01  loss: 1.5000\n"
            "2024/01/01 00:00:30 - mmengine - INFO - Epoch(train)  [2][100/100]  base_lr: "
            "1.0000e-01 lr: 1.0000e-01  eta: 0:00:30  time: 0.1  data_time: 0.01  loss: 1.3000\n"
            "2024/01/01 00:00:32 - mmengine - INFO - Epoch(val) [2][20/20]    accuracy/top1: "
            "55.0000  accuracy/top5: 93.0000  data_time: 0.01  time: 0.02\n")
MMENGINE_ITERS = ("Iter(train) [  100/1000]  lr: 1.0e-02  loss: 1.2000  loss_cls: 0.8000\n"
                  "Iter(train) [  200/1000]  lr: 1.0e-02  loss: 1.0000  loss_cls: 0.7000\n"
                  "Iter(val) [50/50]    loss: 1.1000\n")


def test_console_mmengine_runner_logs(tmp_path: Path) -> None:
    """OpenMMLab's runner: Epoch(train) [e][i/n] lines give step (e-1)·n + i and the epoch length;
    an Epoch(val) line's [i/n] counts evaluation batches, so it belongs to the step before it."""
    path = tmp_path / "20240101_000000.log"
    path.write_text(MMENGINE, encoding="utf-8")
    (run,) = read_path(path)
    assert run.series["train_loss"].steps.tolist() == [50, 100, 150, 200]
    assert run.series["val_acc"].steps.tolist() == [100, 200]
    assert run.series["val_acc"].values.tolist() == pytest.approx([0.41, 0.55])  # percent
    assert run.series["lr"].values.tolist() == pytest.approx([0.1] * 4)
    assert run.context["steps_per_epoch"] == 100
    path.write_text(MMENGINE_ITERS, encoding="utf-8")
    (run,) = read_path(path)
    assert run.series["train_loss"].steps.tolist() == [100, 200]
    assert run.series["val_loss"].steps.tolist() == [200]
    assert run.series["val_loss"].values.tolist() == pytest.approx([1.1])


# PyTorch Ignite's examples: per-iteration lines, then each epoch's results on both splits
IGNITE = ("Epoch[1] Iteration[100/200] Loss: 1.50\nEpoch[1] Iteration[200/200] Loss: 1.10\n"
          "Training Results - Epoch: 1  Avg accuracy: 0.60 Avg loss: 0.90\n"
          "Validation Results - Epoch: 1  Avg accuracy: 0.55 Avg loss: 1.00\n"
          "Epoch[2] Iteration[100/200] Loss: 0.80\nEpoch[2] Iteration[200/200] Loss: 0.60\n"
          "Training Results - Epoch: 2  Avg accuracy: 0.80 Avg loss: 0.50\n"
          "Validation Results - Epoch: 2  Avg accuracy: 0.70 Avg loss: 0.70\n")


# a hand-written loop: a tqdm bar per epoch with set_postfix, then print(f"val_loss: …")
TQDM = ("Epoch 1: 100%|██████████| 469/469 [00:10<00:00, 45.2it/s, loss=0.900, acc=0.600]\n"
        "val_loss: 1.0000, val_acc: 0.5500\n"
        "Epoch 2: 100%|██████████| 469/469 [00:10<00:00, 45.2it/s, loss=0.600, acc=0.800]\n"
        "val_loss: 0.8000, val_acc: 0.7000\n")


@pytest.mark.parametrize(("text", "train", "val"), [
    (FAIRSEQ, [9.1, 7.9], [8.5, 7.7]),
    ("[train] epoch 1 loss 0.9 acc 0.5\n[val] epoch 1 loss 1.0 acc 0.4\n"
     "[train] epoch 2 loss 0.7 acc 0.6\n[val] epoch 2 loss 0.8 acc 0.5\n", [0.9, 0.7], [1.0, 0.8]),
    ("Train Epoch: 1 [0/600]\tLoss: 2.3\nTrain Epoch: 1 [300/600]\tLoss: 1.9\n", [2.3, 1.9], None),
    (MNIST, [2.3, 0.06, 0.08, 0.04], [0.0499, 0.0372]),
    (IGNITE, [1.5, 1.1, 0.8, 0.6], [1.0, 0.7]),  # its Training Results: loss_epoch
    (TQDM, [0.9, 0.6], [1.0, 0.8]),
    ("step 10 loss 0.9\nthroughput: 100 samples/s, loss scale: 1024\nstep 20 loss 0.8\n",
     [0.9, 0.8], None),  # an index-less line not named as an evaluation is not one
])
def test_console_a_role_word_before_the_index_names_the_split(tmp_path: Path, text: str,
                                                               train: list[float],
                                                               val: list[float] | None) -> None:
    """fairseq prints train and valid lines with the same names: the role word standing alone
    before the epoch says which split a line reports; a line naming none keeps its names."""
    path = tmp_path / "train.log"
    path.write_text(text, encoding="utf-8")
    (run,) = read_path(path)
    assert run.series["train_loss"].values.tolist() == pytest.approx(train)
    if val is None:
        assert "val_loss" not in run.series
    else:
        assert run.series["val_loss"].values.tolist() == pytest.approx(val)
    if text is FAIRSEQ:
        assert run.series["grad_norm"].values.tolist() == pytest.approx([1.2, 0.9])
    if text is IGNITE:  # an epoch's results sit at its last iteration, on the step axis
        assert run.series["val_loss"].steps.tolist() == [200, 400]
    if text is MNIST:  # 9838/10000 is a fraction, and the test set stands in for validation
        assert run.series["val_acc"].values.tolist() == pytest.approx([0.9838, 0.9873])
        # it counts samples, not steps: the x axis counts the printed training lines
        assert run.series["train_loss"].steps.tolist() == [0, 1, 2, 3]
        assert run.series["val_loss"].steps.tolist() == [1, 3]
        assert run.context["steps_per_epoch"] == 2


CONSOLE_TEXTS = [KERAS, HF, LIGHTNING, FASTAI_TABLE, ULTRALYTICS, FAIRSEQ, MNIST, MMENGINE,
                 MMENGINE_ITERS, IGNITE, TQDM,
                 (ROOT / "examples" / "console_keras" / "train.log").read_text(encoding="utf-8"),
                 (ROOT / "examples" / "healthy" / "training.log").read_text(encoding="utf-8"),
                 "step 100 | loss 2.31\nstep 200 | loss 2.01 | lr 0.001\n",
                 "Epoch [1/10], Step [100/600], Loss: 0.2345\nEpoch [1/10], Step [200/600], "
                 "Loss: 0.2\n", "INFO starting\nepoch 1 loss=0.5\nINFO done\n",
                 "model  loss  accuracy\nresnet  0.5  0.9\nvgg  0.6  0.8\n",
                 "{'train_runtime': 12.0, 'train_loss': 0.4}\n{'loss': 0.5, 'epoch': 1.0}\n"]


@pytest.mark.parametrize("text", CONSOLE_TEXTS, ids=range(len(CONSOLE_TEXTS)))
def test_the_sniff_that_stops_early_says_what_the_whole_parse_says(text: str) -> None:
    """Detection stops reading at the lines that tell: on every prefix of real and made-up
    console logs (cut at each line break and inside lines) it answers as the parse would."""
    from nndoctor.adapters.readers import console

    cuts = sorted({*range(0, len(text), 7), *(i + 1 for i, ch in enumerate(text) if ch == "\n"),
                   len(text)})
    for cut in cuts:
        prefix = text[:cut]
        assert console.sniff(prefix.encode("utf-8")) == (console.parse(prefix) is not None), cut


def test_console_text_without_metrics_is_never_guessed(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("downloading 10/200\nepoch of the dinosaurs\n")
    (tmp_path / "train.log").write_text("INFO starting\nINFO done\n")
    good = tmp_path / "run"
    good.mkdir()
    (good / "train.log").write_text("epoch 1 loss=0.5\nepoch 2 loss=0.4\n")
    assert [r.format for r in read_path(tmp_path)] == ["console"]
    before = sorted(p.stat().st_mtime_ns for p in tmp_path.rglob("*"))
    result = subprocess.run([sys.executable, "-m", "nndoctor", "diagnose",
                             str(tmp_path / "notes.txt")], capture_output=True, text=True,
                            env=_env(), timeout=120)
    assert result.returncode == 2 and "unknown log format" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "notes.txt" in result.stderr
    assert before == sorted(p.stat().st_mtime_ns for p in tmp_path.rglob("*"))


def test_keras_csvlogger_training_log_stays_csv(tmp_path: Path) -> None:
    path = tmp_path / "training.log"
    path.write_text("epoch,accuracy,loss,val_accuracy,val_loss\n0,0.5,1.0,0.4,1.1\n"
                    "1,0.6,0.8,0.5,1.0\n")
    reader = detect_reader(path)
    assert reader is not None and reader.name == "keras_csv"


def test_console_stdin_and_parity_with_tensorboard(tmp_path: Path) -> None:
    text = "".join(f"step {s} | loss {t:.8g} | val_loss {v:.8g}\n"
                   for s, t, v in zip(STEPS, TRAIN, VAL, strict=True))
    result = subprocess.run([sys.executable, "-m", "nndoctor", "diagnose", "-", "--format",
                             "json"], input=text, capture_output=True, text=True, env=_env(),
                            timeout=120)
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)["runs"]
    assert entry["name"] == "stdin" and entry["format"] == "console"
    path = tmp_path / "train.log"
    path.write_text(text)
    (run,) = read_path(path)
    _same_facts(run, _tb_twin(tmp_path / "tb"))


# ------------------------------------------------------------------- DVCLive / Ray (constructed)

def _tsv(path: Path, name: str, values: list[float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{1700000000000 + i}\t{i}\t{v}\n" for i, v in enumerate(values))
    path.write_text(f"timestamp\tstep\t{name}\n{rows}")


@pytest.mark.parametrize("layout", ["role/metric", "metric/role"])
def test_dvclive_both_layouts(tmp_path: Path, layout: str) -> None:
    """Constructed to DVCLive's documented layout (the dvclive package pulls all of DVC)."""
    root = tmp_path / "exp" / "dvclive"
    metrics = root / "plots" / "metrics"
    for role, values in (("train", TRAIN), ("eval", VAL)):
        file = metrics / (f"{role}/loss.tsv" if layout == "role/metric" else f"loss/{role}.tsv")
        _tsv(file, "loss" if layout == "role/metric" else role, values)
    _tsv(metrics / "epoch.tsv", "epoch", [float(s) for s in STEPS])
    (root / "params.yaml").write_text("lr: 0.01\noptimizer: SGD\nnum_classes: 10\n")
    (root / "metrics.json").write_text('{"train": {"loss": 0.1}, "step": 59}')
    (run,) = read_path(tmp_path)
    assert run.format == "dvclive" and run.name == "exp"
    assert run.series["train_loss"].values.tolist() == pytest.approx(TRAIN)
    assert run.series["val_loss"].values.tolist() == pytest.approx(VAL)
    assert run.context["step_unit"] == "epoch" and run.context["optimizer"] == "SGD"
    twin = _tb_twin(tmp_path / "tb")
    twin = Run(twin.name, twin.path, twin.format, twin.series, {**twin.context,
               "step_unit": "epoch"})
    run = Run(run.name, run.path, run.format, {k: run.series[k] for k in ("train_loss",
              "val_loss")}, {"step_unit": "epoch"})
    _same_facts(run, twin)


def test_ray_tune_trial_with_restore(tmp_path: Path) -> None:
    """Constructed to Ray Tune's documented trial layout (Ray is too heavy to install)."""
    trial = tmp_path / "tune" / "train_fn_0a1b2_00000_0_lr=0.01"
    trial.mkdir(parents=True)
    rows = [{"loss": 1.0 / i, "training_iteration": i, "done": False, "trial_id": "0a1b2",
             "time_total_s": 0.1 * i, "config": {"lr": 0.01}} for i in range(1, 6)]
    rows += [{"loss": 0.9 / i, "training_iteration": i, "config": {"lr": 0.01}}
             for i in range(4, 9)]  # restored from iteration 3
    (trial / "result.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (trial / "params.json").write_text('{"lr": 0.01, "batch_size": 64, "optimizer": "adam"}')
    (trial / "progress.csv").write_text("loss,training_iteration\n1.0,1\n")
    (run,) = read_path(tmp_path)
    assert run.format == "ray_tune"
    loss = run.series["train_loss"]
    assert loss.steps.tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert loss.values[3] == pytest.approx(0.9 / 4)
    assert run.context["batch_size"] == 64 and any("went back" in w for w in run.warnings)
    assert not any(k.startswith(("time", "done", "config")) for k in run.series)
    assert "ended" not in run.context  # the last result is not marked done
    rows[-1]["done"] = True
    (trial / "result.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run,) = read_path(tmp_path)
    assert run.context["ended"] == "the trial's last result has done = true"


# ------------------------------------------------------------------------------- remote (moto)

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_remote_s3_reads_like_a_local_folder(tmp_path: Path) -> None:
    moto_server = pytest.importorskip("moto.server")
    fsspec = pytest.importorskip("fsspec")
    pytest.importorskip("s3fs")
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    old = dict(fsspec.config.conf.get("s3", {}))
    keys = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    try:
        fsspec.config.conf["s3"] = {"endpoint_url": f"http://127.0.0.1:{port}",
                                    "key": "testing", "secret": "testing"}
        fs = fsspec.filesystem("s3", skip_instance_cache=True)
        fs.mkdir("bucket")
        local = tmp_path / "runs"
        twin = _tb_twin(local / "exp1")
        (local / "exp2").mkdir()
        (local / "exp2" / "train.log").write_text("epoch 1 loss=0.5\nepoch 2 loss=0.4\n")
        (local / "exp2" / "model.pt").write_bytes(b"\0" * 1000)  # not copied
        fs.put(str(local) + "/", "bucket/runs/", recursive=True)
        runs = read_path(Path("s3://bucket/runs/"))  # as argparse's Path leaves it
        assert [r.name for r in runs] == ["exp1", "exp2"]
        assert str(runs[0].path).startswith("s3:/bucket/runs/exp1")
        _same_facts(runs[0], twin)
        with pytest.raises(LogError, match="no such file") as err:
            read_path("s3://bucket/missing/")
        assert "s3://bucket/missing" in str(err.value) and "\n" not in str(err.value)
    finally:
        fsspec.config.conf["s3"] = old
        for k, v in keys.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()


def _wandb_log(records: list[bytes]) -> bytes:
    """W&B's framing (one FULL chunk per record, block padding) around ``records``."""
    import zlib

    out = bytearray(b":W&B" + struct.pack("<HB", 0xBEE1, 0))
    for record in records:
        assert len(record) < 32768 - 14
        if 32768 - len(out) % 32768 < 7 + len(record):
            out += b"\0" * (32768 - len(out) % 32768)
        out += struct.pack("<IHB", zlib.crc32(b"\x01" + record), len(record), 1) + record
    return bytes(out)


def test_wandb_run_without_its_exit_record_has_not_ended(wandb_run: Path, tmp_path: Path) -> None:
    """The same records as the real run, minus the exit record wandb.finish() writes: a run
    still going."""
    from nndoctor.adapters.readers.wandb import fields, records

    (log,) = wandb_run.glob("run-*.wandb")
    kept = [r for r in records(log.read_bytes(), log, [])
            if not any(number == 18 for number, _, _ in fields(r))]
    live = tmp_path / "wandb" / "offline-run-20260101_000000-abc" / "run-abc.wandb"
    live.parent.mkdir(parents=True)
    live.write_bytes(_wandb_log(kept))
    (run,) = read_path(live)
    assert run.series["train_loss"].values.tolist() == pytest.approx(TRAIN)
    assert "ended" not in run.context


def test_wandb_framing_spans_blocks(tmp_path: Path) -> None:
    """A record longer than a 32 KiB block (FIRST/MIDDLE/LAST chunks), built by hand."""
    import zlib

    from nndoctor.adapters.readers.wandb import records

    def chunk(kind: int, data: bytes) -> bytes:
        return struct.pack("<IHB", zlib.crc32(bytes([kind]) + data), len(data), kind) + data

    big = b"x" * 70000
    out = bytearray(b":W&B" + struct.pack("<HB", 0xBEE1, 0))
    pos, first = 0, True
    while pos < len(big):
        room = 32768 - len(out) % 32768 - 7
        piece = big[pos:pos + room]
        pos += len(piece)
        kind = 2 if first else (4 if pos >= len(big) else 3)
        first = False
        out += chunk(kind, piece)
        if 32768 - len(out) % 32768 < 7:
            out += b"\0" * (32768 - len(out) % 32768)
    warnings: list[str] = []
    assert list(records(bytes(out), tmp_path / "x.wandb", warnings)) == [big]
    assert warnings == []




def test_a_console_log_over_the_limit_is_read_in_bounded_memory(tmp_path, monkeypatch):
    """Only the first MAX_CONSOLE_BYTES of a huge console log are parsed, with a warning (the
    limit is lowered here so the file can stay small)."""
    from nndoctor.adapters.readers import console

    lines = [f"epoch {e} loss={2.0 / (e + 1):.4f} val_loss={2.2 / (e + 1):.4f}\n"
             for e in range(400)]
    log = tmp_path / "train.log"
    log.write_text("".join(lines) + "é" * 10, encoding="utf-8")
    monkeypatch.setattr(console, "MAX_CONSOLE_BYTES", 4001)  # cuts inside the file
    (run,) = console.reader.read(log)
    assert len(run.series["train_loss"]) < 400
    assert any("only the first" in w for w in run.warnings)
