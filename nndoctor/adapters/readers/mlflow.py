"""MLflow local file store (``mlruns/<experiment>/<run>/``) → one Run per run directory (§2.4).

``metrics/<key>`` files hold one ``<timestamp_ms> <value> <step>`` line per logged value (keys
with ``/`` are sub-folders); ``params/<key>`` hold one value each and go into the context;
``meta.yaml`` and ``tags/mlflow.runName`` give the run's name, and its ``status`` (FINISHED,
FAILED or KILLED) says the run ended. Steps are what the code logged;
Keras/TensorFlow autologging logs one point per epoch (tag ``mlflow.autologging``), and an
``epoch`` metric logged over steps gives steps per epoch.
"""

from __future__ import annotations

from array import array
from pathlib import Path
from typing import Any

import numpy as np

from nndoctor.adapters.readers import _limits
from nndoctor.adapters.readers._io import cannot_read, open_log
from nndoctor.adapters.readers._runs import axis, build_run, context_from_params
from nndoctor.adapters.run import LogError, Run, Series

MAX_DEPTH = 6  # metric keys with this many "/" at most
EPOCH_AUTOLOG = {"keras", "tensorflow", "tf.keras"}  # autologging flavours that log per epoch
# statuses of a run that has stopped (mlflow.entities.RunStatus; the file store writes numbers)
ENDED_STATUS = {"3": "FINISHED", "4": "FAILED", "5": "KILLED",
                "FINISHED": "FINISHED", "FAILED": "FAILED", "KILLED": "KILLED"}


def run_dir_of(path: Path) -> Path | None:
    """The MLflow run directory a file belongs to (its meta.yaml or a metrics/ file), or None."""
    if path.name == "meta.yaml":
        return path.parent if (path.parent / "metrics").is_dir() else None
    names = path.parts[-2::-1]  # the names of path.parents, nearest first (cheaper to walk)
    for depth, name in enumerate(names[:MAX_DEPTH]):
        if name == "metrics":
            run = path.parents[depth].parent
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
        files = sorted(p for p in metrics.rglob("*") if p.is_file())
        if len(files) > _limits.MAX_SERIES:
            warnings.append(f"{len(files):,} metric files: only the first "
                            f"{_limits.MAX_SERIES:,} are read")
            files = files[:_limits.MAX_SERIES]
        for file in files:
            key = file.relative_to(metrics).as_posix()
            series = _metric(file, key, warnings)
            if series is not None:
                raw[key] = series
        params = _values(run / "params", warnings)
        tags = _values(run / "tags", warnings)
        meta = _meta(run / "meta.yaml", warnings)
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
        status = ENDED_STATUS.get(str(meta.get("status", "")))
        if status:
            context["ended"] = f"MLflow run status {status}"
        return [build_run(name, run, self.name, raw, context, warnings)]


WHOLE_BYTES = 1 << 20  # a metric file up to this size is split at once (_whole)


def _metric(file: Path, key: str, warnings: list[str]) -> Series | None:
    """One metric file, streamed line by line (bounded lines: :mod:`_limits`); a small one
    whose every line is ``<timestamp> <value> <step>`` converted at once (:func:`_whole`)."""
    steps = array("q")
    values = array("d")
    cap = _limits.MAX_POINTS
    with open_log(file) as fh:
        try:
            whole = _whole(fh.read(WHOLE_BYTES + 1), cap)
            if whole is not None:
                steps, values = whole
                return _series(steps, values, key, warnings)
            fh.seek(0)
            for number, line in enumerate(_limits.text_lines(fh, file), 1):
                if line is None:
                    raise LogError(file, _limits.too_long(f"line {number}"))
                parts = line.split()
                if not parts:
                    continue
                if len(parts) not in (2, 3):
                    raise LogError(file, f"line {number}: expected '<timestamp> <value> <step>'")
                try:
                    values.append(float(parts[1]))
                    steps.append(int(parts[2]) if len(parts) == 3 else 0)
                except (ValueError, OverflowError):
                    raise LogError(file, f"line {number}: non-numeric value "
                                         f"{line.strip()[:80]!r}") from None
                if len(values) >= cap:
                    warnings.append(f"metric {key!r}: only the first {cap:,} values are read")
                    break
        except OSError as exc:
            raise cannot_read(file, exc) from None
    return _series(steps, values, key, warnings)


def _whole(data: bytes, cap: int) -> tuple[array, array] | None:
    """The steps and values of a metric file's bytes when it is small and plain - UTF-8, lines
    ended by ``\n``, each of three fields with a number and an integer, fewer than ``cap``:
    what the line-by-line read gives, a list at a time. None for anything else (the line by
    line read says what is wrong, and where)."""
    if len(data) > WHOLE_BYTES or b"\r" in data:
        return None
    try:
        rows = [line.split() for line in data.decode("utf-8-sig").split("\n")]
        rows = [row for row in rows if row]
        if len(rows) >= cap or any(len(row) != 3 for row in rows):
            return None
        return array("q", [int(row[2]) for row in rows]), array("d", [float(row[1])
                                                                     for row in rows])
    except (UnicodeDecodeError, ValueError, OverflowError):
        return None


def _series(steps: array, values: array, key: str, warnings: list[str]) -> Series | None:
    """The metric's series from its steps and values as read (None when it has none)."""
    if not values:
        return None
    step_arr = np.frombuffer(steps, dtype=np.int64)
    if step_arr.size > 1 and np.all(step_arr == step_arr[0]):
        warnings.append(f"metric {key!r}: all {step_arr.size} values logged at step "
                        f"{step_arr[0]}; their order is used as the step")
        step_arr = np.arange(step_arr.size, dtype=np.int64)
    return Series.from_pairs(step_arr, np.frombuffer(values, dtype=np.float64), key)


def _values(folder: Path, warnings: list[str]) -> dict[str, str]:
    """``params/`` or ``tags/``: file name (with sub-folders) → its text (values over
    :data:`MAX_VALUE_BYTES <nndoctor.adapters.readers._limits.MAX_VALUE_BYTES>` ignored)."""
    out: dict[str, str] = {}
    if not folder.is_dir():
        return out
    limit = _limits.MAX_VALUE_BYTES
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = file.relative_to(folder).as_posix()
        try:
            data = _limits.read_capped(file, limit)
            if data is None:
                warnings.append(f"{folder.name[:-1]} {name!r}: over the {limit >> 20} MiB limit "
                                "for a value, ignored")
                continue
            out[name] = data.decode("utf-8").strip()
        except (OSError, UnicodeDecodeError):
            continue
    return out


def _meta(path: Path, warnings: list[str]) -> dict[str, Any]:
    import yaml  # only for an MLflow run

    from nndoctor.safe_yaml import load_yaml

    try:
        data = _limits.read_capped(path, _limits.MAX_YAML_BYTES)
        if data is None:
            warnings.append(f"meta.yaml: over the {_limits.MAX_YAML_BYTES >> 20} MiB limit for "
                            "a YAML file beside a log, ignored")
            return {}
        data = load_yaml(data.decode("utf-8"))  # alias bombs refused
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


reader = MLflowReader()
