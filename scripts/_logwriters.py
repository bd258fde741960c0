"""Write a training :class:`~_training.History` in the layouts real tools produce.

Layouts follow /work/shared/reference/log-formats.md:

* ``tensorboard`` — ``torch.utils.tensorboard.SummaryWriter`` event file (legacy
  ``simple_value`` scalars), tags ``train/loss``, ``train/acc``, ``val/loss``, ``val/acc``,
  ``lr``, ``grad_norm`` (§1.1, §1.4).
  Needs the ``tensorboard`` package, which is imported only here, lazily.
* ``lightning_csv`` — PyTorch Lightning ``CSVLogger``: ``metrics.csv`` with sparse rows and
  sorted columns ``epoch,step,train_loss_epoch,train_loss_step,val_acc,val_loss`` plus
  ``hparams.yaml`` (§2.1).
* ``keras_csv`` — Keras ``CSVLogger``: ``epoch,accuracy,loss,lr,val_accuracy,val_loss``, 0-based
  epochs (§2.2).
* ``hf_trainer_state`` — Hugging Face ``trainer_state.json`` with train-log, eval and final summary
  entries in ``log_history`` (§2.3).
* ``jsonl`` — one JSON object per logging event (train lines and val lines).
* ``mlflow`` — MLflow local file store ``mlruns/<exp>/<run_id>/{metrics,params,tags}`` (§2.4).

Everything that is not a training number (wall times, runtimes) is derived from the step count so
that a re-run writes byte-identical files.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from _training import History

Format = Literal["tensorboard", "lightning_csv", "keras_csv", "hf_trainer_state", "jsonl", "mlflow"]
FORMATS: tuple[Format, ...] = (
    "tensorboard", "lightning_csv", "keras_csv", "hf_trainer_state", "jsonl", "mlflow",
)

BASE_TIME = 1_700_000_000.0  # fixed origin of all wall-clock stamps (2023-11-14)
SECONDS_PER_STEP = 0.05  # nominal, so that time stamps are deterministic
EVAL_SAMPLES_PER_SECOND = 20_000.0
ARTIFACT_ROOT = "file:///home/user/project/mlruns"  # MLflow stores absolute URIs; any fixed one


def _f32(x: float) -> float:
    """The value as a float32 widened to float, as frameworks log tensors' ``.item()``."""
    return float(np.float32(x))


def _cell(x: float) -> str:
    return repr(_f32(x)) if math.isfinite(x) else ("nan" if math.isnan(x) else repr(x))


def _log_steps(h: History, every: int) -> list[int]:
    return [s for s in range(every, h.n_steps + 1, every)]


def _optimizer_name(h: History) -> str:
    return {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}[h.config.optimizer]


def hparams(h: History) -> dict[str, Any]:
    """The hyper-parameters a user would record (no fault labels)."""
    c = h.config
    hp: dict[str, Any] = {
        "num_classes": c.num_classes,
        "lr": c.lr,
        "batch_size": c.batch_size,
        "optimizer": _optimizer_name(h),
        "max_epochs": c.epochs,
        "weight_decay": c.weight_decay,
        "dropout": c.dropout,
        "hidden_sizes": list(c.hidden),
        "activation": c.activation,
        "lr_schedule": c.schedule,
    }
    if c.optimizer == "sgd":
        hp["momentum"] = c.momentum
    return hp


# ----------------------------------------------------------------------------- TensorBoard


def write_tensorboard(h: History, out: Path, log_every: int = 5) -> Path:
    """A ``SummaryWriter`` event file in ``out``; returns its path."""
    from torch.utils.tensorboard import SummaryWriter  # needs the `tensorboard` package

    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("events.out.tfevents.*"):
        old.unlink()
    writer = SummaryWriter(log_dir=str(out))

    def wall(step: int) -> float:
        return BASE_TIME + step * SECONDS_PER_STEP

    for s in _log_steps(h, log_every):
        writer.add_scalar("train/loss", h.window_mean(h.step_loss, s, log_every), s, wall(s))
        writer.add_scalar("train/acc", h.window_mean(h.step_acc, s, log_every), s, wall(s))
        writer.add_scalar("lr", h.step_lr[s - 1], s, wall(s))
        writer.add_scalar("grad_norm", h.step_grad_norm[s - 1], s, wall(s))
    for s, vl, va in zip(h.eval_step, h.val_loss, h.val_acc, strict=True):
        writer.add_scalar("val/loss", vl, int(s), wall(int(s)) + 0.01)
        writer.add_scalar("val/acc", va, int(s), wall(int(s)) + 0.01)
    writer.close()
    (produced,) = out.glob("events.out.tfevents.*")
    target = out / f"events.out.tfevents.{int(BASE_TIME)}.nndoctor-gen.4242.0"
    produced.rename(target)
    _pin_header_time(target)
    return target


def _pin_header_time(path: Path) -> None:
    """Give the writer's ``file_version`` record the fixed wall time (re-framed, CRCs redone)."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.summary.writer.record_writer import RecordWriter

    data = path.read_bytes()
    records: list[bytes] = []
    pos = 0
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        records.append(data[pos + 12 : pos + 12 + length])
        pos += 12 + length + 4
    first = Event.FromString(records[0])
    if first.file_version:
        first.wall_time = BASE_TIME
        records[0] = first.SerializeToString()
    with path.open("wb") as fh:
        rw = RecordWriter(fh)
        for record in records:
            rw.write(record)


# ------------------------------------------------------------------------------ Lightning


def write_lightning_csv(h: History, out: Path, log_every_n_steps: int = 10) -> Path:
    """``metrics.csv`` + ``hparams.yaml`` as Lightning's ``CSVLogger`` writes them."""
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, str]] = []
    step_rows = set(_log_steps(h, log_every_n_steps))
    evals = list(zip(h.eval_step, h.eval_epoch, h.eval_epoch_end, h.val_loss, h.val_acc,
                     strict=True))
    epoch_ends = dict(zip(h.epoch_step.tolist(), h.train_loss_epoch.tolist(), strict=True))
    ei = 0
    for s in range(1, h.n_steps + 1):
        epoch = (s - 1) // h.steps_per_epoch
        if s in step_rows:  # Lightning's `step` column is the 0-based index of the batch
            rows.append({"epoch": str(epoch), "step": str(s - 1),
                         "train_loss_step": _cell(h.step_loss[s - 1])})
        while ei < len(evals) and int(evals[ei][0]) == s:
            _, ep, _end, vl, va = evals[ei]
            rows.append({"epoch": str(int(ep)), "step": str(s - 1), "val_acc": _cell(va),
                         "val_loss": _cell(vl)})
            ei += 1
        if s in epoch_ends:
            rows.append({"epoch": str(epoch), "step": str(s - 1),
                         "train_loss_epoch": _cell(epoch_ends[s])})
    columns = sorted(["epoch", "step", "train_loss_epoch", "train_loss_step", "val_acc",
                      "val_loss"])
    path = out / "metrics.csv"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, restval="", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    (out / "hparams.yaml").write_text(yaml.safe_dump(hparams(h), sort_keys=False))
    return path


# ---------------------------------------------------------------------------------- Keras


def write_keras_csv(h: History, out: Path, filename: str = "training.log") -> Path:
    """Keras ``CSVLogger`` (Keras 2 key names, ``lr`` from a LR callback)."""
    out.mkdir(parents=True, exist_ok=True)
    end = h.eval_epoch_end
    path = out / filename
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["epoch", "accuracy", "loss", "lr", "val_accuracy", "val_loss"])
        for e, (s, tl, ta, vl, va) in enumerate(zip(
            h.epoch_step, h.train_loss_epoch, h.train_acc_epoch, h.val_loss[end], h.val_acc[end],
            strict=True,
        )):
            w.writerow([e, _cell(ta), _cell(tl), _cell(h.step_lr[int(s) - 1]), _cell(va),
                        _cell(vl)])
    return path


# ---------------------------------------------------------------------------- Hugging Face


def write_hf_trainer_state(h: History, out: Path, logging_steps: int = 10) -> Path:
    """``trainer_state.json`` as ``Trainer.save_state()`` writes it (``eval_strategy="epoch"``
    or, with several evaluations per epoch, ``"steps"``)."""
    out.mkdir(parents=True, exist_ok=True)
    c = h.config
    history: list[dict[str, Any]] = []
    eval_runtime = round(c.n_val / EVAL_SAMPLES_PER_SECOND, 4)
    eval_steps_count = math.ceil(c.n_val / max(c.batch_size, 8))
    evals = list(zip(h.eval_step, h.val_loss, h.val_acc, strict=True))
    ei = 0
    best: tuple[float, int] | None = None
    for s in range(1, h.n_steps + 1):
        if s % logging_steps == 0:
            history.append({
                "epoch": h.epoch_at(s),
                "grad_norm": _f32(h.step_grad_norm[s - 1]),
                "learning_rate": h.step_lr[s - 1],
                "loss": round(h.window_mean(h.step_loss, s, logging_steps), 4),
                "step": s,
            })
        while ei < len(evals) and int(evals[ei][0]) == s:
            _, vl, va = evals[ei]
            history.append({
                "epoch": h.epoch_at(s),
                "eval_accuracy": _f32(va),
                "eval_loss": _f32(vl),
                "eval_runtime": eval_runtime,
                "eval_samples_per_second": round(c.n_val / eval_runtime, 3),
                "eval_steps_per_second": round(eval_steps_count / eval_runtime, 3),
                "step": s,
            })
            if math.isfinite(vl) and (best is None or vl < best[0]):
                best = (float(vl), s)
            ei += 1
    runtime = round(h.n_steps * SECONDS_PER_STEP, 4)
    samples = h.n_steps * c.batch_size
    total_flos = float(6 * h.n_params * samples)
    history.append({
        "epoch": h.epoch_at(h.n_steps),
        "step": h.n_steps,
        "total_flos": total_flos,
        "train_loss": float(np.mean(h.step_loss)),
        "train_runtime": runtime,
        "train_samples_per_second": round(samples / runtime, 3),
        "train_steps_per_second": round(h.n_steps / runtime, 3),
    })
    per_epoch = c.evals_per_epoch == 1
    state = {
        "best_global_step": best[1] if best else None,
        "best_metric": _f32(best[0]) if best else None,
        "best_model_checkpoint": f"output/checkpoint-{best[1]}" if best else None,
        "epoch": h.epoch_at(h.n_steps),
        "eval_steps": None if per_epoch else max(1, h.steps_per_epoch // c.evals_per_epoch),
        "global_step": h.n_steps,
        "is_hyper_param_search": False,
        "is_local_process_zero": True,
        "is_world_process_zero": True,
        "log_history": history,
        "logging_steps": logging_steps,
        "max_steps": h.n_steps,
        "num_input_tokens_seen": 0,
        "num_train_epochs": c.epochs,
        "save_steps": 500,
        "stateful_callbacks": {
            "TrainerControl": {
                "args": {
                    "should_epoch_stop": False,
                    "should_evaluate": False,
                    "should_log": False,
                    "should_save": True,
                    "should_training_stop": True,
                },
                "attributes": {},
            }
        },
        "total_flos": total_flos,
        "train_batch_size": c.batch_size,
        "trial_name": None,
        "trial_params": None,
    }
    path = out / "trainer_state.json"
    path.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    labels = {str(i): f"class_{i}" for i in range(c.num_classes)}
    model_config = {  # what `model.save_pretrained(output_dir)` leaves next to it
        "architectures": ["MLPForSequenceClassification" if c.arch == "mlp"
                          else "ConvNetForImageClassification"],
        "hidden_act": c.activation,
        "hidden_sizes": list(c.hidden),
        "id2label": labels,
        "label2id": {v: int(k) for k, v in labels.items()},
        "model_type": "nndoctor-toy",
        "torch_dtype": "float32",
    }
    (out / "config.json").write_text(json.dumps(model_config, indent=2, sort_keys=True) + "\n")
    return path


# ----------------------------------------------------------------------------------- JSONL


def write_jsonl(h: History, out: Path, log_every: int = 10,
                filename: str = "metrics.jsonl") -> Path:
    """One JSON object per line: train lines every ``log_every`` steps, a line per validation."""
    out.mkdir(parents=True, exist_ok=True)
    events: list[tuple[int, int, dict[str, Any]]] = []
    for s in _log_steps(h, log_every):
        events.append((s, 0, {
            "step": s,
            "epoch": round(h.epoch_at(s), 4),
            "train_loss": _f32(h.window_mean(h.step_loss, s, log_every)),
            "train_acc": _f32(h.window_mean(h.step_acc, s, log_every)),
            "lr": h.step_lr[s - 1],
            "grad_norm": _f32(h.step_grad_norm[s - 1]),
        }))
    for s, vl, va in zip(h.eval_step, h.val_loss, h.val_acc, strict=True):
        events.append((int(s), 1, {"step": int(s), "epoch": round(h.epoch_at(int(s)), 4),
                                   "val_loss": _f32(vl), "val_acc": _f32(va)}))
    events.sort(key=lambda e: (e[0], e[1]))
    path = out / filename
    path.write_text("".join(json.dumps(e[2]) + "\n" for e in events))
    return path


# ---------------------------------------------------------------------------------- MLflow


def write_mlflow(h: History, out: Path, run_name: str, log_every: int = 10) -> Path:
    """An MLflow local file store ``out/mlruns`` with one run in the Default experiment."""
    root = out / "mlruns"
    exp = root / "0"
    run_id = hashlib.md5(run_name.encode()).hexdigest()
    run = exp / run_id
    for sub in ("metrics", "params", "tags", "artifacts"):
        (run / sub).mkdir(parents=True, exist_ok=True)
    start_ms = int(BASE_TIME * 1000)
    end_ms = start_ms + int(h.n_steps * SECONDS_PER_STEP * 1000)

    def ts(step: int) -> int:
        return start_ms + int(step * SECONDS_PER_STEP * 1000)

    (exp / "meta.yaml").write_text(yaml.safe_dump({
        "artifact_location": f"{ARTIFACT_ROOT}/0",
        "creation_time": start_ms,
        "experiment_id": "0",
        "last_update_time": start_ms,
        "lifecycle_stage": "active",
        "name": "Default",
    }))
    (run / "meta.yaml").write_text(yaml.safe_dump({
        "artifact_uri": f"{ARTIFACT_ROOT}/0/{run_id}/artifacts",
        "end_time": end_ms,
        "entry_point_name": "",
        "experiment_id": "0",
        "lifecycle_stage": "active",
        "run_id": run_id,
        "run_name": run_name,
        "run_uuid": run_id,
        "source_name": "",
        "source_type": 4,
        "source_version": "",
        "start_time": start_ms,
        "status": 3,
        "tags": [],
        "user_id": "nndoctor",
    }))

    def metric(key: str, points: list[tuple[int, float]]) -> None:
        lines = [f"{ts(s)} {_cell(v)} {s}\n" for s, v in points]
        (run / "metrics" / key).write_text("".join(lines))

    steps = _log_steps(h, log_every)
    metric("train_loss", [(s, h.window_mean(h.step_loss, s, log_every)) for s in steps])
    metric("train_acc", [(s, h.window_mean(h.step_acc, s, log_every)) for s in steps])
    metric("lr", [(s, float(h.step_lr[s - 1])) for s in steps])
    metric("grad_norm", [(s, float(h.step_grad_norm[s - 1])) for s in steps])
    evs = [int(s) for s in h.eval_step]
    metric("val_loss", list(zip(evs, h.val_loss.tolist(), strict=True)))
    metric("val_acc", list(zip(evs, h.val_acc.tolist(), strict=True)))
    for key, value in hparams(h).items():
        (run / "params" / key).write_text(str(value))
    (run / "tags" / "mlflow.runName").write_text(run_name)
    (run / "tags" / "mlflow.source.type").write_text("LOCAL")
    (run / "tags" / "mlflow.user").write_text("nndoctor")
    return run


# --------------------------------------------------------------------------------- dispatch


def write(fmt: Format, h: History, out: Path, *, log_every: int, run_name: str) -> Path:
    """Write ``h`` into directory ``out`` in format ``fmt``; returns the main file/dir written."""
    writers: dict[str, Callable[[], Path]] = {
        "tensorboard": lambda: write_tensorboard(h, out, log_every),
        "lightning_csv": lambda: write_lightning_csv(h, out, log_every),
        "keras_csv": lambda: write_keras_csv(h, out),
        "hf_trainer_state": lambda: write_hf_trainer_state(h, out, log_every),
        "jsonl": lambda: write_jsonl(h, out, log_every),
        "mlflow": lambda: write_mlflow(h, out, run_name, log_every),
    }
    return writers[fmt]()
