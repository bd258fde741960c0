"""JSON Lines metric logs (one object per line, e.g. ``{"step": 10, "loss": 0.5}``) → Run.

The step key is optional (``step``, ``global_step``, ``_step``, ``iteration``, ``epoch`` …; else the
line's position); nested objects are flattened with ``/``; non-numbers are ignored. A last line
cut short (a job still writing) is dropped with a warning. The x axis is in epochs when the step
key is ``epoch``, else in steps; an ``epoch`` field beside the step gives steps per epoch.
"""

from __future__ import annotations

import itertools
import json
import json.scanner
from array import array
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import numpy as np

from nndoctor.adapters.readers import _limits
from nndoctor.adapters.readers._io import cannot_read, head_text, open_log
from nndoctor.adapters.readers._runs import axis, build_run
from nndoctor.adapters.readers._sniff import JSONL_SNIFF_SUFFIXES as SNIFF_SUFFIXES
from nndoctor.adapters.readers._sniff import JSONL_SUFFIXES as SUFFIXES
from nndoctor.adapters.run import LogError, Run, Series

STEP_KEYS = ("step", "global_step", "_step", "steps", "current_steps", "iteration", "iter", "it",
             "epoch")  # current_steps: LLaMA-Factory's trainer_log.jsonl
# logs a resumed run appends to (mmengine vis_data/scalars.json, detectron2 metrics.json): a step
# that goes back is a restart, and the newest segment wins
RESTARTING_LOGS = {"scalars.json", "metrics.json"}
TRAINING_KEYS = {"lr", "learning_rate", "loss", "total_loss"}


def _flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "/"))
        else:
            out[name] = value
    return out


_SCAN = json.scanner.make_scanner(json.JSONDecoder())  # json.loads' own C scanner, called directly
_JSON_SPACE = " \t\n\r"


def _object(line: str) -> dict[str, Any] | None:
    """``json.loads(line)`` of a line that starts with ``{`` and holds one JSON object and
    nothing but JSON whitespace after it, without ``loads``' checks and wrapping; None for any
    other line (``json.loads`` then parses it, or says what is wrong with it)."""
    try:
        obj, end = _SCAN(line, 0)
    except (StopIteration, ValueError, RecursionError):
        return None
    if end != len(line) and line[end:].strip(_JSON_SPACE):
        return None
    return obj if type(obj) is dict else None


def _items(obj: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    """The (key, value) pairs of :func:`_flatten` of ``obj``: its own when nothing in it nests."""
    for value in obj.values():
        if type(value) is dict:
            return _flatten(obj).items()
    return obj.items()


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
        """Stream the lines (bounded: :mod:`_limits`) into per-key columns of numbers."""
        with open_log(path) as fh:
            try:
                cols, keys, lines, warnings = _stream(path, fh)
            except OSError as exc:
                raise cannot_read(path, exc) from None
        if not lines:
            raise LogError(path, "no JSON object lines")
        step_key = next((k for k in STEP_KEYS if k in keys), None)
        steps = _steps(path, cols.get(step_key) if step_key else None, lines, step_key)
        keep, evaluations = None, set()
        if path.name in RESTARTING_LOGS and step_key is not None:
            training = _training_records(cols, len(lines))
            steps, evaluations = _evaluations_at_training_steps(cols, steps, training, step_key)
            keep, restarts = _newest_segments(steps, training)
            if restarts:
                warnings.append(f"{restarts} restart(s) (the step went back): points the resumed "
                                "run logged again are kept from the newest segment only")
        raw: dict[str, Series] = {}
        for key, (recs, values) in cols.items():
            if key != step_key:
                at = np.frombuffer(recs, dtype=np.int64)
                vals = np.frombuffer(values, dtype=np.float64)
                if keep is not None:
                    at, vals = at[keep[at]], vals[keep[at]]
                name = f"val/{key}" if key in evaluations else key
                raw[name] = Series.from_pairs(steps[at], vals, key)
        context: dict[str, object] = {"index": step_key or "line"}
        if step_key == "epoch":
            context.update(axis("epoch"))
        else:
            epoch = raw.get("epoch")
            context.update(axis("step", *((epoch.steps, epoch.values) if epoch is not None
                                          else (None, None))))
        return [build_run(path.stem, path, self.name, raw, context, warnings)]


_Columns = dict[str, tuple[array, array]]  # key → (record indices, values)


def _stream(path: Path, fh: IO[bytes]) -> tuple[_Columns, set[str], array, list[str]]:
    """Columns of numbers, the step keys seen, the line of each record, and warnings."""
    cols: _Columns = {}
    keys: set[str] = set()  # step-key candidates present (with any value)
    lines = array("q")
    warnings: list[str] = []
    pending: tuple[int, ValueError] | None = None  # a bad line: an error unless it is the last
    long_lines: list[int] = []
    dropped: set[str] = set()
    points = 0
    max_points, max_series = _limits.MAX_POINTS, _limits.MAX_SERIES
    step_keys = set(STEP_KEYS)
    for number, line in enumerate(_limits.text_lines(fh, path), 1):
        if line is None:
            long_lines.append(number)
            continue
        obj = _object(line) if line[:1] == "{" else None  # the usual line, parsed quickly
        if obj is None:
            if not line.strip():
                continue
            if pending is not None:
                _bad_line(path, *pending)
            try:
                obj = json.loads(line)
            except RecursionError:
                raise LogError(path, f"line {number}: invalid JSON: nested too deeply") from None
            except ValueError as exc:
                if not isinstance(exc, json.JSONDecodeError):  # e.g. a 5,000-digit integer
                    _bad_line(path, number, exc)
                pending = (number, exc)
                continue
            if not isinstance(obj, dict):
                raise LogError(path, f"line {number}: expected a JSON object")
        elif pending is not None:
            _bad_line(path, *pending)
        if points >= max_points:
            warnings.append(f"only the first {len(lines):,} records are read (limit: "
                            f"{max_points:,} values); the rest, from line {number} on, is ignored")
            break
        record = len(lines)
        lines.append(number)
        for key, value in _items(obj):
            if key in step_keys:
                keys.add(key)
            kind = type(value)  # to_float: a JSON number (not a bool) as a float
            if kind is not float and kind is not int:
                continue
            x = float(value)
            col = cols.get(key)
            if col is None:
                if len(cols) >= max_series:
                    dropped.add(key)
                    continue
                col = cols[key] = (array("q"), array("d"))
            col[0].append(record)
            col[1].append(x)
            points += 1
    if pending is not None:
        warnings.append(f"line {pending[0]} is incomplete (still being written?): ignored")
    if long_lines:
        warnings.append(_limits.too_long(f"line {long_lines[0]}") + f": skipped "
                        f"({len(long_lines)} such line(s))")
    if dropped:
        warnings.append(f"more than {max_series:,} keys: {len(dropped):,} more ignored")
    return cols, keys, lines, warnings


def _training_records(cols: _Columns, count: int) -> np.ndarray:
    """Which records are training rows (they carry a learning rate or a loss): those share one
    step axis; evaluation rows may count epochs instead (mmengine with by_epoch)."""
    mask = np.zeros(count, dtype=bool)
    for key, (recs, _values) in cols.items():
        leaf = key.rsplit(".", 1)[-1].lower()
        if leaf in TRAINING_KEYS or leaf.startswith(("loss", "total_loss")):
            mask[np.frombuffer(recs, dtype=np.int64)] = True
    return mask


def _evaluations_at_training_steps(cols: _Columns, steps: np.ndarray, training: np.ndarray,
                                   step_key: str) -> tuple[np.ndarray, set[str]]:
    """mmengine's by-epoch validation rows count epochs in ``step`` (``{"accuracy/top1": 45.2,
    "step": 3}`` after training rows at step 471): when an evaluation row's step is below the
    training step before it, every evaluation row is placed at the training step before it, and
    the keys only evaluation rows carry are validation metrics (returned to be read as such).
    Otherwise the steps are returned unchanged."""
    rows = np.arange(steps.size)
    last_train = np.where(training, rows, -1)
    last_train = np.maximum.accumulate(last_train)
    evaluation = ~training & (last_train >= 0)
    if not evaluation.any() or not (steps[evaluation] < steps[last_train[evaluation]]).any():
        return steps, set()
    placed = steps.copy()
    placed[evaluation] = steps[last_train[evaluation]]
    only_eval = set()
    for key, (recs, _values) in cols.items():
        at = np.frombuffer(recs, dtype=np.int64)
        if key != step_key and at.size and not training[at].any() and \
                not any(word in key.lower() for word in ("val", "eval", "test")):
            only_eval.add(key)
    return placed, only_eval


def _newest_segments(steps: np.ndarray, training: np.ndarray) -> tuple[np.ndarray, int]:
    """Records to keep when a resumed run appended to the same file: at a restart (a training
    row whose step is below the one before it) everything the old segment logged from the first
    training row at or past the restart step on is orphaned, like TensorBoard's purge."""
    keep = np.ones(steps.size, dtype=bool)
    rows = np.flatnonzero(training)
    restarts = 0
    start = 0  # first record of the current segment
    for prev, row in itertools.pairwise(rows):
        if steps[row] >= steps[prev]:
            continue
        restarts += 1
        seg = rows[(rows >= start) & (rows < row)]
        late = seg[steps[seg] >= steps[row]]
        if late.size:
            keep[int(late[0]):int(row)] = False
        start = int(row)
    return keep, restarts


def _bad_line(path: Path, number: int, exc: ValueError) -> None:
    raise LogError(path, f"line {number}: invalid JSON: {str(exc).split(';')[0]}") from None


def _steps(path: Path, col: tuple[array, array] | None, lines: array,
           step_key: str | None) -> np.ndarray:
    """The step of every record: its step key's value, else the last one given (0 before the
    first); the record's position when the log has no step key at all."""
    count = len(lines)
    if step_key is None:
        return np.arange(count, dtype=np.int64)
    steps = np.zeros(count, dtype=np.int64)
    if col is None or not len(col[0]):
        return steps
    at = np.frombuffer(col[0], dtype=np.int64)
    given = np.frombuffer(col[1], dtype=np.float64)
    bad = ~(np.isfinite(given) & (np.abs(given) < 2.0**62))
    if bad.any():
        i = int(np.argmax(bad))
        raise LogError(path, f"line {lines[int(at[i])]}: step {given[i]!r} is not a usable step "
                             "number")
    last = np.full(count, -1, dtype=np.int64)
    last[at] = np.arange(at.size)
    last = np.maximum.accumulate(last)
    known = last >= 0
    steps[known] = given.astype(np.int64)[last[known]]
    return steps


reader = JSONLinesReader()
