"""Keras ``History.history`` dumped as JSON (``{"loss": [...], "val_loss": [...]}``) → Run.

One value per epoch; ``NaN``/``Infinity`` as Python's ``json`` writes them; ``null`` is a missing
value. A ``{"history": {...}}`` wrapper and an ``epoch`` list are accepted (log-formats.md §2.2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nndoctor.adapters.names import classify
from nndoctor.adapters.readers._io import json_document_of, load_json_cached, to_float
from nndoctor.adapters.readers._runs import axis, build_run
from nndoctor.adapters.run import LogError, Run, Series
from nndoctor.lazy_re import regex

_SHAPE = regex(r'^\s*\{\s*"[^"]+"\s*:\s*[\[{]')
MAX_BYTES = 64 * 1024 * 1024


def history_of(data: Any) -> dict[str, list[Any]] | None:
    """The ``{metric: [per-epoch values]}`` mapping, or None when ``data`` is not one."""
    if isinstance(data, dict) and isinstance(data.get("history"), dict):
        data = data["history"]
    if not isinstance(data, dict) or not data or "log_history" in data:
        return None
    if not all(isinstance(v, list) for v in data.values()):
        return None
    numeric = {k: v for k, v in data.items()
               if v and all(x is None or to_float(x) is not None for x in v)}
    if not numeric or not any(classify(k) is not None or "loss" in k.lower() for k in numeric):
        return None
    return numeric


class KerasHistoryReader:
    """JSON dump of ``model.fit(...).history``."""

    name = "keras_history"
    priority = 40

    def can_read(self, path: Path) -> bool:
        return json_document_of(path, _SHAPE, MAX_BYTES, history_of)

    def read(self, path: Path) -> list[Run]:
        history = history_of(load_json_cached(path))
        if history is None:
            raise LogError(path, 'not a Keras history (expected {"loss": [...], ...})')
        epochs = history.pop("epoch", None)
        raw: dict[str, Series] = {}
        for key, values in history.items():
            steps = [int(epochs[i]) if epochs and i < len(epochs) and to_float(epochs[i])
                     is not None else i for i in range(len(values))]
            pairs = [(s, to_float(v)) for s, v in zip(steps, values, strict=True)]
            pairs = [(s, v) for s, v in pairs if v is not None]
            if pairs:
                raw[key] = Series.from_pairs([p[0] for p in pairs], [p[1] for p in pairs], key)
        return [build_run(path.stem, path, self.name, raw, axis("epoch"), [])]


reader = KerasHistoryReader()
