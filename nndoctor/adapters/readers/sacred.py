"""Sacred's ``FileStorageObserver`` run folders → one Run each (``<observer dir>/<run id>/``).

``metrics.json`` maps each metric logged with ``_run.log_scalar(name, value, step)`` to
``{"steps": [...], "timestamps": [...], "values": [...]}``; ``config.json`` is the experiment's
configuration (the context); ``run.json`` names the experiment and its ``status`` (COMPLETED,
FAILED, INTERRUPTED, or RUNNING while it lives); ``cout.txt`` is the captured console, claimed
here so it is not read again as a second run. Names like ``train.loss`` / ``val.accuracy`` go
through the name map. The step is whatever the experiment passed; it is in epochs when the
configuration's ``epochs`` (or ``num_epochs``, ``n_epochs``, ``max_epochs``) matches the number
of steps logged. Layout and writer: sacred 0.8.7 (tests/fixtures/logs/sacred/).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nndoctor.adapters.readers._io import load_json, to_float
from nndoctor.adapters.readers._runs import FolderReader, axis, build_run, context_from_params
from nndoctor.adapters.readers._sniff import SACRED_FILES
from nndoctor.adapters.run import LogError, Run, Series

EPOCH_KEYS = ("epochs", "num_epochs", "n_epochs", "max_epochs")
ENDED = {"COMPLETED": "Sacred's run.json has status COMPLETED",
         "FAILED": "Sacred's run.json has status FAILED (the run raised an exception)",
         "INTERRUPTED": "Sacred's run.json has status INTERRUPTED (stopped by the user)"}


def is_run_file(path: Path) -> bool:
    """A file of a Sacred run folder: one of its files beside metrics.json and run.json."""
    return path.name in SACRED_FILES and (path.parent / "metrics.json").is_file() \
        and (path.parent / "run.json").is_file()


def _series(path: Path) -> dict[str, Series]:
    data = load_json(path)
    if not isinstance(data, dict):
        raise LogError(path, "expected an object of metrics (Sacred's metrics.json)")
    raw: dict[str, Series] = {}
    for name, entry in data.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("values"), list) \
                or not isinstance(entry.get("steps"), list):
            raise LogError(path, f"metric {name!r}: expected steps and values lists")
        steps, values = entry["steps"], entry["values"]
        if len(steps) != len(values):
            raise LogError(path, f"metric {name!r}: {len(steps)} steps but {len(values)} values")
        pairs = [(int(s), v) for s, v in zip(steps, map(to_float, values), strict=True)
                 if isinstance(s, int) and not isinstance(s, bool) and v is not None]
        if pairs:
            raw[str(name)] = Series.from_pairs([s for s, _ in pairs], [v for _, v in pairs],
                                               str(name))
    return raw


class SacredReader(FolderReader):
    """One Sacred FileStorageObserver run folder."""

    name = "sacred"
    priority = 18

    def can_read(self, path: Path) -> bool:
        return is_run_file(path)

    def read_many(self, paths: list[Path]) -> list[Run]:
        folder = paths[0].parent
        raw = _series(folder / "metrics.json")
        if not raw:
            raise LogError(folder / "metrics.json", "no numeric metric logged")
        context: dict[str, Any] = {}
        config = load_json(folder / "config.json") if (folder / "config.json").is_file() \
            else None
        if isinstance(config, dict):
            context.update(context_from_params(config))
            context["params"] = config
        record = load_json(folder / "run.json")
        record = record if isinstance(record, dict) else {}
        status = record.get("status")
        status = status if isinstance(status, str) else None
        if status in ENDED:
            context["ended"] = ENDED[status]
        experiment = record.get("experiment")
        title = experiment.get("name") if isinstance(experiment, dict) else None
        name = f"{title}/{folder.name}" if isinstance(title, str) and title else folder.name
        logged = max(len(s) for s in raw.values())
        epochs = next((to_float(config.get(k)) for k in EPOCH_KEYS
                       if isinstance(config, dict) and to_float(config.get(k))), None)
        context.update(axis("epoch" if epochs == logged else "step"))
        warnings = [f"Sacred run status {status}"] if status == "FAILED" else []
        return [build_run(name, folder, self.name, raw, context, warnings)]


reader = SacredReader()
