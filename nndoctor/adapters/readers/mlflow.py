"""MLflow local file store (``mlruns/<experiment>/<run>/``) → one Run per run directory (§2.4).

``metrics/<key>`` files hold one ``<timestamp_ms> <value> <step>`` line per logged value (keys
with ``/`` are sub-folders); ``params/<key>`` hold one value each and go into the context;
``meta.yaml`` and ``tags/mlflow.runName`` give the run's name. Steps are what the code logged;
Keras/TensorFlow autologging logs one point per epoch (tag ``mlflow.autologging``), and an
``epoch`` metric logged over steps gives steps per epoch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from nndoctor.adapters.readers._io import read_text
from nndoctor.adapters.readers._runs import axis, build_run, context_from_params
from nndoctor.adapters.run import LogError, Run, Series
from nndoctor.safe_yaml import load_yaml

MAX_DEPTH = 6  # metric keys with this many "/" at most
EPOCH_AUTOLOG = {"keras", "tensorflow", "tf.keras"}  # autologging flavours that log per epoch


def run_dir_of(path: Path) -> Path | None:
    """The MLflow run directory a file belongs to (its meta.yaml or a metrics/ file), or None."""
    if path.name == "meta.yaml":
        return path.parent if (path.parent / "metrics").is_dir() else None
    for depth, folder in enumerate(path.parents):
        if depth >= MAX_DEPTH:
            break
        if folder.name == "metrics":
            run = folder.parent
            if any((run / marker).exists() for marker in ("meta.yaml", "params", "tags")):
                return run
    return None


class MLflowReader:
    """A run of MLflow's file store."""

    name = "mlflow"
    priority = 20

    def can_read(self, path: Path) -> bool:
        return run_dir_of(path) is not None

    def group_key(self, path: Path) -> Path:
        run = run_dir_of(path)
        return run if run is not None else path

    def read(self, path: Path) -> list[Run]:
        return self.read_many([path])

    def read_many(self, paths: list[Path]) -> list[Run]:
        run = self.group_key(paths[0])
        warnings: list[str] = []
        raw: dict[str, Series] = {}
        metrics = run / "metrics"
        for file in sorted(p for p in metrics.rglob("*") if p.is_file()):
            key = file.relative_to(metrics).as_posix()
            series = _metric(file, key, warnings)
            if series is not None:
                raw[key] = series
        params = _values(run / "params")
        tags = _values(run / "tags")
        meta = _meta(run / "meta.yaml")
        context: dict[str, Any] = context_from_params(params)
        epoch = raw.get("epoch")
        if tags.get("mlflow.autologging", "").lower() in EPOCH_AUTOLOG:
            context.update(axis("epoch"))
        else:
            context.update(axis("step", *((epoch.steps, epoch.values) if epoch is not None
                                          else (None, None))))
        if params:
            context["params"] = params
        name = tags.get("mlflow.runName") or str(meta.get("run_name") or "") or run.name
        for key in ("run_id", "experiment_id", "status", "lifecycle_stage"):
            if key in meta:
                context[f"mlflow_{key}"] = meta[key]
        if meta.get("lifecycle_stage") == "deleted":
            warnings.append("this MLflow run is marked deleted")
        return [build_run(name, run, self.name, raw, context, warnings)]


def _metric(file: Path, key: str, warnings: list[str]) -> Series | None:
    try:
        text = read_text(file)
    except LogError as exc:
        if exc.message == "empty file":
            return None
        raise
    steps: list[int] = []
    values: list[float] = []
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) not in (2, 3):
            raise LogError(file, f"line {number}: expected '<timestamp> <value> <step>'")
        try:
            values.append(float(parts[1]))
            steps.append(int(parts[2]) if len(parts) == 3 else 0)
        except ValueError:
            raise LogError(file, f"line {number}: non-numeric value {line.strip()!r}") from None
    if not values:
        return None
    step_arr = np.asarray(steps, dtype=np.int64)
    if step_arr.size > 1 and np.all(step_arr == step_arr[0]):
        warnings.append(f"metric {key!r}: all {step_arr.size} values logged at step "
                        f"{step_arr[0]}; their order is used as the step")
        step_arr = np.arange(step_arr.size, dtype=np.int64)
    return Series.from_pairs(step_arr, values, key)


def _values(folder: Path) -> dict[str, str]:
    """``params/`` or ``tags/``: file name (with sub-folders) → its text."""
    out: dict[str, str] = {}
    if not folder.is_dir():
        return out
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            out[file.relative_to(folder).as_posix()] = file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            continue
    return out


def _meta(path: Path) -> dict[str, Any]:
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))  # alias bombs refused
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


reader = MLflowReader()
