"""PyTorch Lightning ``CSVLogger`` ``metrics.csv`` (+ ``hparams.yaml``) → Run (log-formats.md §2.1).

Rows are sparse: step rows carry the ``*_step`` metrics, epoch-end rows the ``val_*`` and
``*_epoch`` ones; every metric becomes a series over the global ``step`` column (x axis: steps;
steps per epoch from the ``epoch`` column beside it, whose last value is the epoch training got
to).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nndoctor.adapters.readers._io import file_size, first_line
from nndoctor.adapters.readers._runs import axis, build_run, yaml_context
from nndoctor.adapters.readers._table import read_table, sniff_delimiter
from nndoctor.adapters.run import LogError, Run, Series


class LightningCSVReader:
    """``lightning_logs/version_N/metrics.csv``."""

    name = "lightning_csv"
    priority = 30

    def can_read(self, path: Path) -> bool:
        if path.suffix.lower() != ".csv":
            return False
        if path.name == "metrics.csv" and file_size(path) == 0:
            return True  # an empty metrics.csv: report it
        line = first_line(path)
        header = [h.strip() for h in line.split(sniff_delimiter(line))]
        if path.name == "metrics.csv":
            return "step" in header
        return ("step" in header and "epoch" in header
                and any(h.endswith(("_step", "_epoch")) or h.startswith("lr-") for h in header))

    def read(self, path: Path) -> list[Run]:
        table = read_table(path)
        columns, _text = table.columns()
        warnings: list[str] = list(table.notes)  # limits crossed (_limits.py)
        step_col = columns.get("step")
        if step_col is None:
            raise LogError(path, "no 'step' column (not a Lightning metrics.csv)")
        present_step = step_col.present & np.isfinite(step_col.values)
        steps = (step_col.values if present_step.all()
                 else np.where(present_step, step_col.values, -1)).astype(np.int64)
        if not present_step.all():
            warnings.append(f"{int((~present_step).sum())} row(s) without a step ignored")
        raw: dict[str, Series] = {}
        for name, col in columns.items():
            if name in ("step", "epoch"):
                continue
            mask = col.present & present_step
            if mask.size and mask.all():  # dense: the arrays themselves, no copy of 10M rows
                raw[name] = Series.from_pairs(steps, col.values, name)
            elif mask.any():
                raw[name] = Series.from_pairs(steps[mask], col.values[mask], name)
        epoch_col = columns.get("epoch")
        rows = slice(None) if present_step.all() else present_step  # no copy of 10M steps
        context: dict[str, object] = axis(
            "step", steps[rows], epoch_col.values[rows] if epoch_col is not None else None)
        if epoch_col is not None:
            epochs = epoch_col.values[epoch_col.present & np.isfinite(epoch_col.values)]
            if epochs.size and epochs.max() >= 0:  # 0-based: the epoch the last rows were in
                context["epochs_reached"] = float(epochs.max()) + 1
        hparams = path.parent / "hparams.yaml"
        if hparams.is_file():
            ctx, notes = yaml_context(hparams)
            context.update(ctx)
            warnings += notes
        return [build_run(path.parent.name, path, self.name, raw, context, warnings)]


reader = LightningCSVReader()
