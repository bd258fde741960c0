"""Every reader says whether its x axis counts steps or epochs, and steps per epoch when it can."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nndoctor.adapters.readers import read_path
from nndoctor.adapters.readers._runs import steps_per_epoch
from nndoctor.adapters.run import Run, Series
from tests.adapters import eventfile as ef

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs"
TWICE = LOGS / "twice"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

AXES = {  # fixture → (step_unit, steps_per_epoch)
    "lightning/version_0/metrics.csv": ("step", 200),
    "twice/lightning_two_loggers/lightning_logs/version_0/metrics.csv": ("step", 4),  # real
    "twice/lightning_two_loggers/lightning_logs/version_1": ("step", 4),  # real TB: epoch tag
    "twice/hf_output_dir/trainer_state.json": ("step", 5),  # real: 40 samples / batch 8
    "twice/hf_output_dir/runs": ("step", 5),  # real HF TensorBoard: train/epoch
    "hf/bert-sst2/trainer_state.json": ("step", 500),
    "keras_csv/training.log": ("epoch", None),
    "keras_history/history.json": ("epoch", None),
    "ultralytics/train/results.csv": ("epoch", None),
    "ultralytics/yolov5_exp3/results.csv": ("epoch", None),
    "tensorboard/keras_tf2": ("epoch", None),
    "tensorboard/torch_simple": ("step", None),
    "generic_csv/progress.csv": ("step", None),
    "generic_csv/history.csv": ("epoch", None),  # fastai: an epoch column
    "generic_csv/deepdiagnosis_no_index.csv": ("epoch", None),  # no index: one row per epoch
    "jsonl/metrics.jsonl": ("step", None),
    "mlflow/mlruns/1/3f9c2a7e5d1b4c8e9a0b1c2d3e4f5a6b/meta.yaml": ("step", None),
}


@pytest.mark.parametrize(("rel", "expected"), sorted(AXES.items()))
def test_every_reader_names_its_x_axis(rel: str, expected: tuple[str, int | None]) -> None:
    (run,) = read_path(LOGS / rel)
    assert run.context["step_unit"] == expected[0]
    assert run.context.get("steps_per_epoch") == expected[1]


def test_steps_per_epoch_from_pairs() -> None:
    assert steps_per_epoch([2, 4, 6, 15], [0.4, 0.8, 1.2, 3.0]) == 5  # HF fractional epochs
    assert steps_per_epoch([1, 3, 3, 5, 7, 7, 11], [0, 0, 0, 1, 1, 1, 2]) == 4  # Lightning rows
    assert steps_per_epoch([0, 1, 2, 3, 4], [0, 1, 2, 3, 4]) == 1  # full batch: a step an epoch
    assert steps_per_epoch([49, 99, 149], [0, 0, 0]) is None  # one epoch seen: not enough
    assert steps_per_epoch([1, 2], [np.nan, np.nan]) is None
    assert steps_per_epoch([], []) is None


def _steps_per_epoch_by_np_median(steps: np.ndarray, epochs: np.ndarray) -> int | None:
    """steps_per_epoch as it was written with np.median (finite, non-negative pairs)."""
    if np.any(epochs != np.floor(epochs)):
        pos = epochs > 0
        spe = float(np.median(steps[pos] / epochs[pos]))
    else:
        order = np.argsort(epochs, kind="stable")
        e, s = epochs[order], steps[order]
        heads = np.concatenate(([0], np.flatnonzero(np.diff(e)) + 1))
        gaps = np.diff(np.maximum.reduceat(s, heads))[np.diff(e[heads]) == 1]
        if gaps.size == 0:
            return None
        spe = float(np.median(gaps))
    return round(spe) if spe >= 0.5 else None


def test_steps_per_epoch_is_np_medians_value() -> None:
    """The median steps_per_epoch takes (medians.median, which imports no numpy.ma) gives what
    np.median gives: fractional and whole epochs, even and odd counts, short and long logs."""
    rng = np.random.default_rng(5)
    for n in (2, 3, 7, 64, 65, 300):
        for per in (1, 3, 50, 333):
            steps = np.sort(rng.integers(0, per * 40, n)).astype(np.int64)
            fractional = steps / per + rng.uniform(0.001, 0.002, n)
            whole = np.floor(steps / per)
            for epochs in (fractional, whole):
                assert steps_per_epoch(steps, epochs) == _steps_per_epoch_by_np_median(
                    steps, epochs), (n, per)
                floats = steps.astype(np.float64) + 0.5
                assert steps_per_epoch(floats, epochs) == _steps_per_epoch_by_np_median(
                    floats, epochs), (n, per)


def test_reading_every_example_imports_no_numpy_ma() -> None:
    """np.median imports numpy.ma (~12 ms) on first use; reading a log of any format (as a
    sweep's worker does) needs none of it."""
    code = ("import sys; from pathlib import Path; from nndoctor.adapters.readers import "
            "read_path\nfor p in sorted(Path(sys.argv[1]).iterdir()):\n"
            "    if p.is_dir(): read_path(p)\nprint('numpy.ma' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, str(EXAMPLES)], capture_output=True,
                          text=True, timeout=120, check=True, cwd=EXAMPLES.parent)
    assert done.stdout.strip() == "False", done.stderr[-2000:]


def _run(context: dict, last: int) -> tuple[int | None, float | None]:
    s = Series.from_pairs([0, last], [1.0, 0.5])
    return Run("r", Path("r"), "x", {"train_loss": s}, context).extent(s)


def test_extent_in_both_units() -> None:
    assert _run({"step_unit": "step"}, 900) == (900, None)
    assert _run({"step_unit": "step", "steps_per_epoch": 300}, 900) == (900, 3.0)
    assert _run({"step_unit": "epoch"}, 9) == (None, 10.0)  # 0-based epochs 0 … 9
    assert _run({"step_unit": "epoch", "epoch_base": 1}, 10) == (None, 10.0)  # YOLO: 1 … 10
    assert _run({"step_unit": "epoch", "steps_per_epoch": 1}, 499) == (500, 500.0)
    assert _run({}, 50) == (50, None)  # unknown: steps


def test_keras_callback_batch_curves_stay_off_the_epoch_axis(tmp_path: Path) -> None:
    """Keras' TensorBoard callback with update_freq='batch' adds batch_* tags counted in batches
    beside the epoch_* ones counted in epochs; the canonical curves keep the epoch axis."""
    train = tmp_path / "logs" / "train" / "events.out.tfevents.1.host.1.0.v2"
    events = [ef.event(e, ef.simple("epoch_loss", 1.0 / (e + 1))) for e in range(5)]
    events += [ef.event(b, ef.simple("batch_loss", 1.0 / (b + 1))) for b in range(0, 100, 10)]
    ef.write(train, events)
    ef.write(tmp_path / "logs" / "validation" / "events.out.tfevents.1.host.1.0.v2",
             [ef.event(e, ef.simple("epoch_loss", 1.2 / (e + 1))) for e in range(5)])
    (run,) = read_path(tmp_path / "logs")
    assert run.context["step_unit"] == "epoch"
    assert run.series["train_loss"].source_tag == "train/epoch_loss"
    assert "train/batch_loss" in run.series


def test_jsonl_epoch_key_and_epoch_field(tmp_path: Path) -> None:
    per_epoch = tmp_path / "a.jsonl"
    per_epoch.write_text("".join(json.dumps({"epoch": e, "loss": 1 / (e + 1)}) + "\n"
                                 for e in range(4)))
    (run,) = read_path(per_epoch)
    assert run.context["step_unit"] == "epoch"
    per_step = tmp_path / "b.jsonl"
    per_step.write_text("".join(json.dumps({"step": s, "epoch": s / 10, "loss": 1 / (s + 1)})
                                + "\n" for s in range(1, 30)))
    (run,) = read_path(per_step)
    assert run.context["step_unit"] == "step" and run.context["steps_per_epoch"] == 10


def test_generic_csv_step_and_epoch_columns(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    rows = [f"{s},{s // 25},{1 / (s + 1)}" for s in range(0, 100, 5)]
    path.write_text("step,epoch,loss\n" + "\n".join(rows) + "\n")
    (run,) = read_path(path)
    assert run.context["step_unit"] == "step" and run.context["steps_per_epoch"] == 25


def test_ultralytics_tensorboard_counts_epochs(tmp_path: Path) -> None:
    folder = tmp_path / "detect" / "train"
    ef.write(folder / "events.out.tfevents.1.host.1.0",
             [ef.event(e, ef.simple(tag, 1.0 / e)) for e in range(1, 6)
              for tag in ("train/box_loss", "train/cls_loss", "metrics/mAP50(B)")])
    (run,) = read_path(folder)
    assert run.context["step_unit"] == "epoch"


def _short(context: dict, steps: list[int]) -> bool:
    from nndoctor.pipeline import diagnose_run

    s = Series.from_pairs(steps, np.linspace(2.0, 0.5, len(steps)), "loss")
    run = Run("r", Path("r"), "x", {"train_loss": s}, context)
    return bool(diagnose_run(run).diagnosis.facts["training_short"].value)


def test_run_length_uses_the_unit_the_log_tells() -> None:
    assert _short({"step_unit": "step"}, list(range(500)))  # 500 steps, epochs unknown
    assert not _short({"step_unit": "step", "steps_per_epoch": 1}, list(range(500)))  # full batch
    assert not _short({"step_unit": "epoch"}, list(range(10)))
    assert _short({"step_unit": "epoch"}, list(range(3)))
    assert not _short({"step_unit": "epoch", "epoch_base": 1}, [1, 2, 3, 4, 5])  # YOLO: 5 epochs
    assert not _short({"step_unit": "epoch", "steps_per_epoch": 5000}, [0, 1, 2])  # 15k steps
