"""skorch's ``History`` as JSON (``history.json``, what ``net.save_params(f_history=...)`` and the
``Checkpoint`` callback write) → Run.

The file is a list with one object per epoch: ``epoch`` (from 1), the epoch's metrics
(``train_loss``, ``valid_loss``, ``valid_acc``, a scoring callback's own names, ``event_lr``
from ``LRScheduler``), booleans ``*_best`` and ``dur``, and ``batches``: one object per batch
with ``train_loss`` / ``valid_loss`` and the batch size. The x axis is the training batch: each
training batch's loss is a point (``train_loss_step``), an epoch's metrics sit at its last
training batch (``train_loss_epoch``, ``valid_*``), and the batches of the first epoch give the
steps per epoch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nndoctor.adapters.readers._io import json_document_of, load_json_cached, to_float
from nndoctor.adapters.readers._runs import axis, build_run
from nndoctor.adapters.run import LogError, Run, Series
from nndoctor.lazy_re import regex

_SHAPE = regex(r'^\s*\[\s*\{\s*"')
MAX_BYTES = 64 * 1024 * 1024
_NOT_METRICS = {"epoch", "dur", "batches"}
_RENAMED = {"event_lr": "lr", "train_loss": "train_loss_epoch"}  # the batches' loss is the curve


def epochs_of(data: Any) -> list[dict[str, Any]] | None:
    """The per-epoch objects of a skorch history, or None when ``data`` is not one."""
    if not isinstance(data, list) or not data:
        return None
    if not all(isinstance(row, dict) and isinstance(row.get("batches"), list)
               and to_float(row.get("epoch")) is not None for row in data):
        return None
    return data


class SkorchHistoryReader:
    """A skorch ``history.json``."""

    name = "skorch_history"
    priority = 40

    def can_read(self, path: Path) -> bool:
        return json_document_of(path, _SHAPE, MAX_BYTES, epochs_of)

    def read(self, path: Path) -> list[Run]:
        epochs = epochs_of(load_json_cached(path))
        if epochs is None:
            raise LogError(path, 'not a skorch history (expected [{"epoch": 1, "batches": '
                                 '[...], ...}, ...])')
        points: dict[str, tuple[list[int], list[float]]] = {}

        def add(name: str, step: int, value: Any) -> None:
            number = to_float(value)
            if number is not None:
                steps, values = points.setdefault(name, ([], []))
                steps.append(step)
                values.append(number)

        step, first_epoch_batches, batch_size = 0, None, None
        for row in epochs:
            trained = [b for b in row["batches"] if isinstance(b, dict) and "train_loss" in b]
            for batch in trained:
                step += 1
                add("train_loss_step", step, batch["train_loss"])
            if first_epoch_batches is None:
                first_epoch_batches = len(trained)
                sizes = [to_float(b.get("train_batch_size")) for b in trained]
                batch_size = max((s for s in sizes if s is not None), default=None)
            for key, value in row.items():
                if key not in _NOT_METRICS and not key.endswith("_best"):
                    add(_RENAMED.get(key, key), step, value)
        raw = {name: Series.from_pairs(s, v, name) for name, (s, v) in points.items()}
        context: dict[str, Any] = axis("step", fallback=first_epoch_batches or None)
        if batch_size:
            context["batch_size"] = int(batch_size)
        return [build_run(path.stem, path, self.name, raw, context, [])]


reader = SkorchHistoryReader()
