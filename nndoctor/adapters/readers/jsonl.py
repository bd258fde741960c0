"""JSON Lines metric logs (one object per line, e.g. ``{"step": 10, "loss": 0.5}``) → Run.

The step key is optional (``step``, ``global_step``, ``_step``, ``iteration``, ``epoch`` …; else the
line's position); nested objects are flattened with ``/``; non-numbers are ignored. A last line
cut short (a job still writing) is dropped with a warning. The x axis is in epochs when the step
key is ``epoch``, else in steps; an ``epoch`` field beside the step gives steps per epoch.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from nndoctor.adapters.readers._io import head_text, read_text, to_float
from nndoctor.adapters.readers._runs import axis, build_run
from nndoctor.adapters.run import LogError, Run, Series

STEP_KEYS = ("step", "global_step", "_step", "steps", "current_steps", "iteration", "iter", "it",
             "epoch")  # current_steps: LLaMA-Factory's trainer_log.jsonl
SUFFIXES = {".jsonl", ".ndjson"}
SNIFF_SUFFIXES = {".json", ".log", ".txt"}


def _flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "/"))
        else:
            out[name] = value
    return out


def _object_line(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


class JSONLinesReader:
    """``*.jsonl`` / ``*.ndjson``, or a .json/.log file whose lines are JSON objects."""

    name = "jsonl"
    priority = 50

    def can_read(self, path: Path) -> bool:
        suffix = path.suffix.lower()
        if suffix in SUFFIXES:
            return True
        if suffix not in SNIFF_SUFFIXES:
            return False
        lines = [x for x in head_text(path, 16384).splitlines() if x.strip()]
        return len(lines) >= 2 and _object_line(lines[0]) and lines[1].lstrip().startswith("{")

    def read(self, path: Path) -> list[Run]:
        text = read_text(path)
        lines = text.splitlines()
        last = max((i for i, x in enumerate(lines) if x.strip()), default=-1)
        warnings: list[str] = []
        records: list[dict[str, Any]] = []
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                if i == last and isinstance(exc, json.JSONDecodeError):  # not a 5,000-digit int
                    warnings.append(f"line {i + 1} is incomplete (still being written?): ignored")
                    continue
                raise LogError(path, f"line {i + 1}: invalid JSON: {str(exc).split(';')[0]}") \
                    from None
            if not isinstance(obj, dict):
                raise LogError(path, f"line {i + 1}: expected a JSON object")
            records.append(_flatten(obj))
        if not records:
            raise LogError(path, "no JSON object lines")
        step_key = next((k for k in STEP_KEYS if any(k in r for r in records)), None)
        points: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        step = 0
        for index, record in enumerate(records):
            given = to_float(record.get(step_key)) if step_key else None
            if given is not None and not (math.isfinite(given) and abs(given) < 2**62):
                raise LogError(path, f"line {index + 1}: step {record.get(step_key)!r} is not a "
                                     "usable step number")
            step = int(given) if given is not None else (index if step_key is None else step)
            for key, value in record.items():
                number = to_float(value)
                if key == step_key or number is None:
                    continue
                points[key][0].append(step)
                points[key][1].append(number)
        raw = {k: Series.from_pairs(s, v, k) for k, (s, v) in points.items()}
        context: dict[str, object] = {"index": step_key or "line"}
        if step_key == "epoch":
            context.update(axis("epoch"))
        else:
            epoch = points.get("epoch")
            context.update(axis("step", *(epoch if epoch else (None, None))))
        return [build_run(path.stem, path, self.name, raw, context, warnings)]


reader = JSONLinesReader()
