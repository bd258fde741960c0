"""MLflow SQLite tracking store (``mlflow.db``, any ``sqlite:///`` path) → one Run per MLflow run.

The default backend since MLflow 3.7 (log-formats.md §5). Tables read: ``experiments(experiment_id,
name)``, ``runs(run_uuid, name, experiment_id, status, lifecycle_stage)``, ``params(key, value,
run_uuid)``, ``tags(key, value, run_uuid)`` and ``metrics(key, value, timestamp, run_uuid, step,
is_nan)``. MLflow stores a NaN as ``value=0, is_nan=1`` and ±Inf as ±1.7976931348623157e308 (the
largest double); both are turned back into NaN and ±Inf. A run is named ``<experiment>/<run name>``.

Read with the standard library's ``sqlite3``, read-only (a ``file:…?mode=ro`` URI and
``PRAGMA query_only``), in short single-statement reads so a run that is still logging is never
held up: a rollback-journal database (MLflow's default) is only share-locked for the length of
one SELECT and no journal is created by reading. A WAL database with no ``-wal`` file beside it
(checkpointed, nobody writing) is opened ``immutable`` so SQLite does not create ``-wal``/``-shm``
files next to it; with a ``-wal`` file (a live writer) the existing files are used read-only.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np

from nndoctor.adapters.readers._io import head
from nndoctor.adapters.readers._runs import axis, build_run, context_from_params
from nndoctor.adapters.readers._sniff import SQLITE_MAGIC as MAGIC
from nndoctor.adapters.readers.mlflow import ENDED_STATUS, EPOCH_AUTOLOG
from nndoctor.adapters.run import LogError, Run, Series

if TYPE_CHECKING:
    import sqlite3

NEEDED = {"experiments", "runs", "metrics"}
BUSY_TIMEOUT_S = 2.0  # waits for a writer's commit at most this long per statement
_TABLES_CACHE: dict[tuple[str, int, int], bool] = {}


def connect(path: Path) -> sqlite3.Connection:
    """A read-only connection that writes nothing next to the database (module docstring)."""
    import sqlite3  # here, not at the top: only SQLite files need it (a dlopen every start)

    resolved = Path(path).resolve()
    uri = "file:" + quote(str(resolved)) + "?mode=ro"
    header = head(resolved, 100)
    wal = len(header) >= 20 and header[18] == 2 and header[19] == 2
    if wal and not Path(str(resolved) + "-wal").exists():
        uri += "&immutable=1"
    try:
        con = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                              check_same_thread=False)
        con.execute("PRAGMA query_only = ON")
    except sqlite3.Error as exc:
        raise LogError(path, f"cannot open the SQLite database: {exc}") from None
    return con


def is_mlflow_db(path: Path) -> bool:
    """An SQLite file holding MLflow's experiments, runs and metrics tables."""
    if head(path, len(MAGIC)) != MAGIC:
        return False
    import sqlite3

    try:
        st = path.stat()
    except OSError:
        return False
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _TABLES_CACHE:
        if len(_TABLES_CACHE) > 64:
            _TABLES_CACHE.clear()
        try:
            con = connect(path)
            try:
                names = {r[0] for r in con.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")}
            finally:
                con.close()
            _TABLES_CACHE[key] = names >= NEEDED
        except (LogError, sqlite3.Error):
            _TABLES_CACHE[key] = False
    return _TABLES_CACHE[key]


def _value(value: Any, is_nan: Any) -> float:
    if is_nan:
        return math.nan
    v = float(value)
    if v >= sys.float_info.max:
        return math.inf
    if v <= -sys.float_info.max:
        return -math.inf
    return v


Points = dict[Any, dict[str, tuple[Any, Any]]]  # run_uuid -> metric -> (steps, values)


def _points(rows: list[tuple[Any, ...]]) -> Points:
    """The metric rows (run_uuid, key, step, value, is_nan) as lists per run and metric."""
    points: Points = {}
    for run, key, step, value, is_nan in rows:
        s, v = points.setdefault(run, {}).setdefault(str(key), ([], []))
        s.append(int(step))
        v.append(_value(value, is_nan))
    return points


def _columns(rows: list[tuple[Any, ...]]) -> Points | None:
    """:func:`_points` as arrays, converted a column at a time, when the cells hold what
    MLflow writes (text ids and keys, integer steps and flags, numbers); None otherwise."""
    if not rows:
        return {}
    runs, keys, steps, values, nans = zip(*rows, strict=True)
    if not (set(map(type, runs)) == set(map(type, keys)) == {str}
            and set(map(type, steps)) == set(map(type, nans)) == {int}
            and set(map(type, values)) <= {float, int}):
        return None
    try:
        step = np.array(steps, dtype=np.int64)
        value = np.array(values, dtype=np.float64)
    except OverflowError:  # a step past int64, an integer past a double: as _points says
        return None
    value[value >= sys.float_info.max] = math.inf  # _value, for every row at once
    value[value <= -sys.float_info.max] = -math.inf
    value[np.array(nans, dtype=bool)] = math.nan
    run_ids, names = np.array(runs, dtype=object), np.array(keys, dtype=object)
    starts = np.flatnonzero((run_ids[1:] != run_ids[:-1]) | (names[1:] != names[:-1])) + 1
    points: Points = {}
    for a, b in zip([0, *starts.tolist()], [*starts.tolist(), len(rows)], strict=True):
        points.setdefault(runs[a], {})[keys[a]] = (step[a:b], value[a:b])
    return points


class MLflowSQLiteReader:
    """The runs of an MLflow SQLite tracking database."""

    name = "mlflow_sqlite"
    priority = 15

    def can_read(self, path: Path) -> bool:
        return is_mlflow_db(path)

    def read(self, path: Path) -> list[Run]:
        import sqlite3

        con = connect(path)
        try:
            return self._read(con, path)
        except sqlite3.DatabaseError as exc:
            raise LogError(path, f"cannot read the MLflow database: {exc}") from None
        finally:
            con.close()

    def _read(self, con: sqlite3.Connection, path: Path) -> list[Run]:
        experiments = {str(i): str(n) for i, n in con.execute(
            "SELECT experiment_id, name FROM experiments")}
        runs = con.execute("SELECT run_uuid, name, experiment_id, status, lifecycle_stage "
                           "FROM runs ORDER BY start_time, run_uuid").fetchall()
        params: dict[str, dict[str, str]] = {}
        for key, value, run in con.execute("SELECT key, value, run_uuid FROM params"):
            params.setdefault(run, {})[str(key)] = str(value)
        tags: dict[str, dict[str, str]] = {}
        for key, value, run in con.execute("SELECT key, value, run_uuid FROM tags"):
            tags.setdefault(run, {})[str(key)] = "" if value is None else str(value)
        rows = con.execute("SELECT run_uuid, key, step, value, is_nan FROM metrics "
                           "ORDER BY run_uuid, key, timestamp, step").fetchall()
        points = _columns(rows)
        if points is None:  # any cell of an unusual type: each converted as written
            points = _points(rows)
        del rows
        out: list[Run] = []
        for run_uuid, run_name, experiment_id, status, stage in runs:
            warnings: list[str] = []
            raw: dict[str, Series] = {}
            for key, (steps, values) in points.get(run_uuid, {}).items():
                step_arr = np.asarray(steps, dtype=np.int64)
                if step_arr.size > 1 and np.all(step_arr == step_arr[0]):
                    warnings.append(f"metric {key!r}: all {step_arr.size} values logged at step "
                                    f"{step_arr[0]}; their order is used as the step")
                    step_arr = np.arange(step_arr.size, dtype=np.int64)
                raw[key] = Series.from_pairs(step_arr, values, key)
            p = params.get(run_uuid, {})
            t = tags.get(run_uuid, {})
            context: dict[str, Any] = context_from_params(p)
            epoch = raw.get("epoch")
            if t.get("mlflow.autologging", "").lower() in EPOCH_AUTOLOG:
                context.update(axis("epoch"))
            else:
                context.update(axis("step", *((epoch.steps, epoch.values) if epoch is not None
                                              else (None, None))))
            if p:
                context["params"] = p
            context.update({"mlflow_run_id": run_uuid, "mlflow_experiment_id": experiment_id,
                            "mlflow_status": status, "mlflow_lifecycle_stage": stage})
            if stage == "deleted":
                warnings.append("this MLflow run is marked deleted")
            if str(status) in ENDED_STATUS:
                context["ended"] = f"MLflow run status {ENDED_STATUS[str(status)]}"
            experiment = experiments.get(str(experiment_id), str(experiment_id))
            name = f"{experiment}/{t.get('mlflow.runName') or run_name or run_uuid}"
            out.append(build_run(name, path, self.name, raw, context, warnings))
        if not out:
            raise LogError(path, "an MLflow database without runs")
        return out


def sqlite_uri_path(text: str) -> Path | None:
    """The file of a ``sqlite:///relative`` or ``sqlite:////absolute`` URI (also as a Path has
    collapsed it to ``sqlite:/…``), or None when ``text`` is not one."""
    if not text.startswith("sqlite:"):
        return None
    rest = text[len("sqlite:"):]
    if rest.startswith("///"):
        return Path(rest[3:])
    stripped = rest.lstrip("/")
    relative, absolute = Path(stripped), Path("/" + stripped)
    return relative if relative.exists() or not absolute.exists() else absolute


reader = MLflowSQLiteReader()
