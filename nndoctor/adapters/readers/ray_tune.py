"""Ray Tune trial folders (``progress.csv``, ``result.json``, ``params.json``) → one Run each.

``result.json`` holds one JSON object per reported result (``tune.report`` / ``session.report``)
with Ray's bookkeeping (``training_iteration``, ``time_total_s``, ``done``, ``trial_id``, …) and
a nested ``config``; ``progress.csv`` holds the same rows flattened (``config/lr``). The step is
``training_iteration``; ``result.json`` is preferred, ``progress.csv`` read when it is missing.
``params.json`` (the trial's config) is the context; a last result with ``done`` true says the
trial ended. A restored trial appends results whose
iteration goes back: the newest segment is kept. Layout constructed from Ray's documented
trial output; Ray itself is too heavy to install for tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from nndoctor.adapters.readers._io import load_json, read_text, to_float
from nndoctor.adapters.readers._runs import FolderReader, axis, build_run, context_from_params
from nndoctor.adapters.readers._sniff import RAY_TUNE_FILES as FILES
from nndoctor.adapters.readers._table import read_table
from nndoctor.adapters.run import LogError, Run, Series

STEP = "training_iteration"
BOOKKEEPING = {"training_iteration", "timesteps_total", "done", "episodes_total", "trial_id",
               "experiment_id", "date", "timestamp", "time_this_iter_s", "time_total_s", "pid",
               "hostname", "node_ip", "time_since_restore", "timesteps_since_restore",
               "iterations_since_restore", "checkpoint_dir_name", "experiment_tag",
               "should_checkpoint", "warmup_time", "config"}


def is_trial_file(path: Path) -> bool:
    if path.name not in FILES:
        return False
    folder = path.parent
    return (folder / "params.json").is_file() and (
        (folder / "result.json").is_file() or (folder / "progress.csv").is_file())


def _newest(steps: list[int], values: list[float]) -> tuple[list[int], list[float], int]:
    """Points of the newest segment when the iteration went back; how many were dropped."""
    cut = 0
    for i in range(1, len(steps)):
        if steps[i] <= steps[i - 1]:
            cut = i
    if not cut:
        return steps, values, 0
    restart = steps[cut]
    keep = [i for i in range(len(steps)) if i >= cut or steps[i] < restart]
    return [steps[i] for i in keep], [values[i] for i in keep], len(steps) - len(keep)


class RayTuneReader(FolderReader):
    """One Ray Tune trial folder."""

    name = "ray_tune"
    priority = 18

    def can_read(self, path: Path) -> bool:
        return is_trial_file(path)

    def read_many(self, paths: list[Path]) -> list[Run]:
        folder = paths[0].parent
        rows = _result_rows(folder / "result.json") if (folder / "result.json").is_file() \
            else _progress_rows(folder / "progress.csv")
        warnings: list[str] = []
        points: dict[str, tuple[list[int], list[float]]] = {}
        for index, row in enumerate(rows):
            step = to_float(row.get(STEP))
            s = int(step) if step is not None and np.isfinite(step) else index + 1
            for key, value in row.items():
                number = to_float(value)
                if number is None or key in BOOKKEEPING or key.startswith("config/"):
                    continue
                p = points.setdefault(key, ([], []))
                p[0].append(s)
                p[1].append(number)
        raw: dict[str, Series] = {}
        dropped = 0
        for key, (s, v) in points.items():
            s, v, n = _newest(s, v)
            dropped += n
            raw[key] = Series.from_pairs(s, v, key)
        if dropped:
            warnings.append(f"the training_iteration went back (a restored trial?): {dropped} "
                            "older points dropped, the newest segment is used")
        params = load_json(folder / "params.json")
        context: dict[str, Any] = axis("step")
        if rows and rows[-1].get("done") in (True, 1.0):
            context["ended"] = "the trial's last result has done = true"
        if isinstance(params, dict):
            context.update(context_from_params(params))
            context["params"] = params
        return [build_run(folder.name, folder, self.name, raw, context, warnings)]


def _result_rows(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    lines = read_text(path).splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            if i == len(lines) - 1:
                continue  # a result still being written
            raise LogError(path, f"line {i + 1}: invalid JSON") from None
        if not isinstance(obj, dict):
            raise LogError(path, f"line {i + 1}: expected a JSON object")
        rows.append({k: v for k, v in obj.items() if not isinstance(v, dict)})
    return rows


def _progress_rows(path: Path) -> list[dict[str, Any]]:
    table = read_table(path)
    columns, _text = table.columns()
    rows: list[dict[str, Any]] = [{} for _ in range(table.n_rows)]
    for name, col in columns.items():
        for i in np.flatnonzero(col.present):
            rows[i][name] = float(col.values[i])
    return rows


reader = RayTuneReader()
