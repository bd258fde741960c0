"""Ultralytics YOLO ``results.csv`` (YOLOv5 and YOLOv8/11) → Run (log-formats.md §2.8).

Header and cells may be space-padded; one row per epoch. Loss components (``train/box_loss``,
``train/cls_loss`` …) are kept as they are and their sum becomes a derived ``train_loss`` /
``val_loss`` (names.py); ``lr/pg0`` (``x/lr0`` in YOLOv5) is the learning rate. ``args.yaml``
(v8) or ``opt.yaml`` (v5) beside the file gives the context.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nndoctor.adapters.readers._io import file_size, first_line
from nndoctor.adapters.readers._runs import axis, build_run, yaml_context
from nndoctor.adapters.readers._table import index_steps, read_table
from nndoctor.adapters.run import Run, Series
from nndoctor.lazy_re import regex

_LOSS = regex(r"^(train|val)/\w+_loss$")


def _header(path: Path) -> list[str]:
    return [h.strip() for h in first_line(path).split(",")]


class UltralyticsReader:
    """``runs/<task>/train<N>/results.csv`` and YOLOv5's ``runs/train/exp<N>/results.csv``."""

    name = "ultralytics"
    priority = 30

    def can_read(self, path: Path) -> bool:
        if path.suffix.lower() != ".csv":
            return False
        if path.name == "results.csv" and file_size(path) == 0:
            return True  # an empty results.csv: report it
        header = _header(path)
        return ("epoch" in header and any(_LOSS.match(h) for h in header)
                and any(h.startswith(("metrics/", "lr/", "x/lr")) for h in header))

    def read(self, path: Path) -> list[Run]:
        table = read_table(path, ",")
        columns, _text = table.columns()
        epochs = index_steps(table, columns["epoch"], "epoch")
        warnings: list[str] = list(table.notes)  # limits crossed (_limits.py)
        back = np.flatnonzero(np.diff(epochs) <= 0)
        start = int(back[-1]) + 1 if back.size else 0
        if start:
            warnings.append(f"epoch restarts at line {table.lines[start]} (resumed training?): "
                            "only the rows from there on are used")
        raw: dict[str, Series] = {}
        for name, col in columns.items():
            if name in ("epoch", "time"):
                continue
            mask = col.present.copy()
            mask[:start] = False
            if mask.any():
                raw[name] = Series.from_pairs(epochs[mask], col.values[mask], name)
        context: dict[str, object] = {**axis("epoch"),
                                      "epoch_base": int(epochs[0]) if epochs.size else 0}
        for name in ("args.yaml", "opt.yaml"):
            side = path.parent / name
            if side.is_file():
                ctx, notes = yaml_context(side)
                context.update(ctx)
                warnings += notes
                break
        return [build_run(path.parent.name, path, self.name, raw, context, warnings)]


reader = UltralyticsReader()
