"""Keras ``CSVLogger`` files (``training.log``, ``log.csv`` …) → Run (log-formats.md §2.2).

Header ``epoch,<sorted metric names>``; ``NA`` marks a missing value. With ``append=True`` a
resumed job appends rows whose epoch restarts (no second header): the last run is kept.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nndoctor.adapters.readers._io import first_line
from nndoctor.adapters.readers._runs import axis, build_run
from nndoctor.adapters.readers._sniff import KERAS_CSV_SUFFIXES as SUFFIXES
from nndoctor.adapters.readers._table import index_steps, read_table, sniff_delimiter
from nndoctor.adapters.run import Run, Series


class KerasCSVReader:
    """Per-epoch CSV written by ``keras.callbacks.CSVLogger``."""

    name = "keras_csv"
    priority = 40

    def can_read(self, path: Path) -> bool:
        if path.suffix.lower() not in SUFFIXES:
            return False
        line = first_line(path)
        header = [h.strip() for h in line.split(sniff_delimiter(line))]
        return (len(header) > 1 and header[0] == "epoch" and "loss" in header
                and "step" not in header and not any("/" in h for h in header))

    def read(self, path: Path) -> list[Run]:
        table = read_table(path)
        columns, _text = table.columns()
        epochs = index_steps(table, columns["epoch"], "epoch")
        warnings: list[str] = list(table.notes)  # limits crossed (_limits.py)
        starts = [0, *table.breaks]
        starts += [i + 1 for i in np.flatnonzero(np.diff(epochs) <= 0).tolist()]
        start = max(s for s in starts if s < max(table.n_rows, 1))
        if start > 0:
            segments = len(set(starts))
            warnings.append(f"{segments} runs appended in one file (epoch restarts at line "
                            f"{table.lines[start]}); only the last one is used")
        raw: dict[str, Series] = {}
        for name, col in columns.items():
            if name == "epoch":
                continue
            mask = col.present.copy()
            mask[:start] = False
            if mask.any():
                raw[name] = Series.from_pairs(epochs[mask], col.values[mask], name)
        return [build_run(path.stem, path, self.name, raw, axis("epoch"), warnings)]


reader = KerasCSVReader()
