"""Any CSV/TSV of metrics with a step/epoch/iteration column (or none: the row number) → Run.

Also covers fastai's ``history.csv`` (its unprefixed metrics are validation metrics), a CSV
downloaded from a W&B chart (``Step, <run> - <metric>, … __MIN, … __MAX``: one run per run
name, the envelopes left out) and the per-epoch logs of research artefacts that have no epoch
column at all (log-formats.md §2.7, §2.9).
All-text columns (fastai's ``time`` as mm:ss, dates) are skipped; a number column holding
text is an error naming the line and column. The x axis is in epochs when the index column is
an epoch column, or when there is no index column at all (per-epoch dumps such as
``pd.DataFrame(history.history).to_csv()`` and the research artefacts of §2.9: a per-step logger
writes its step), else in steps; an ``epoch`` column beside a step column gives steps per epoch.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from nndoctor.adapters.names import classify, is_rl_style
from nndoctor.adapters.readers._io import head_text
from nndoctor.adapters.readers._runs import axis, build_run
from nndoctor.adapters.readers._sniff import CSV_SUFFIXES as SUFFIXES
from nndoctor.adapters.readers._sniff import CSV_TEXT_SUFFIXES as TEXT_SUFFIXES
from nndoctor.adapters.readers._table import Column, Table, read_table, sniff_delimiter
from nndoctor.adapters.run import Run, Series
from nndoctor.lazy_re import LazyPattern

INDEX_NAMES = ("step", "global_step", "steps", "iteration", "iter", "it", "n_iter", "update",
               "updates", "batch", "epoch", "epochs")
_NAME = LazyPattern(r"^[A-Za-z_][\w/().\-\[\]@: ]*$")
_WANDB_COLUMN = LazyPattern(r"^(.+?) - (.+?)(__MIN|__MAX)?$")  # "run-name - train/loss__MIN"
_METRIC_WORDS = LazyPattern(r"(loss|acc|accuracy|lr|learning|rate|norm|error|perplexity|reward|"
                            r"f1|auc|map|precision|recall|score|metric)", re.IGNORECASE)


def _header_fields(path: Path) -> tuple[list[str], list[str]]:
    lines = [line for line in head_text(path, 16384).splitlines() if line.strip()]
    if not lines:
        return [], []
    delim = sniff_delimiter(lines[0])
    header = [h.strip() for h in lines[0].split(delim)]
    second = [c.strip() for c in lines[1].split(delim)] if len(lines) > 1 else []
    return header, second


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class GenericCSVReader:
    """A delimited table whose header names metrics (a fallback after the specific readers)."""

    name = "generic_csv"
    priority = 90

    def can_read(self, path: Path) -> bool:
        suffix = path.suffix.lower()
        if suffix not in SUFFIXES | TEXT_SUFFIXES:
            return False
        header, second = _header_fields(path)
        if not header or any(_is_number(h) for h in header if h):
            return False
        if suffix in TEXT_SUFFIXES and (
                len(header) < 2 or not all(_NAME.match(h) for h in header)
                or len(second) != len(header) or not any(_is_number(c) for c in second)):
            return False
        lowered = [h.lower() for h in header]
        return (any(h in INDEX_NAMES for h in lowered)
                or any(classify(h) is not None or _METRIC_WORDS.search(h) for h in header)
                or is_rl_style(header))

    def read(self, path: Path) -> list[Run]:
        table = read_table(path, "\t" if path.suffix.lower() == ".tsv" else None)
        columns, _text = table.columns()
        warnings: list[str] = list(table.notes)  # limits crossed (_limits.py)
        start = _last_segment(table, warnings)
        index_name, steps = _index(table, columns, start, warnings)
        fastai = {"train_loss", "valid_loss"} <= {h.lower() for h in table.header}
        raw: dict[str, Series] = {}
        for name, col in columns.items():
            if name == index_name:
                continue
            if start == 0 and col.present.size and col.present.all():  # dense: no copy of 10M rows
                raw[name] = Series.from_pairs(steps, col.values, name)
                continue
            mask = col.present.copy()
            mask[:start] = False
            if mask.any():
                raw[name] = Series.from_pairs(steps[mask], col.values[mask], name)
        context = self._context(columns, index_name, steps, start)
        exported = wandb_export(raw)
        if exported:
            return [build_run(run, path, self.name, series, dict(context), list(warnings))
                    for run, series in exported.items()]
        return [build_run(path.stem, path, self.name, raw, context, warnings,
                          default_role="val" if fastai else "train")]

    @staticmethod
    def _context(columns: dict[str, Column], index_name: str | None, steps: np.ndarray,
                 start: int) -> dict[str, object]:
        context: dict[str, object] = {"index": index_name or "row"}
        by_lower = {name.lower(): name for name in columns}
        epoch_name = by_lower.get("epoch") or by_lower.get("epochs")
        if index_name is None or index_name == epoch_name:
            context.update(axis("epoch"))
        else:
            epoch_col = columns[epoch_name] if epoch_name else None
            rows = slice(start, None)
            context.update(axis("step", steps[rows], epoch_col.values[rows]
                                if epoch_col is not None else None))
        return context


def wandb_export(raw: dict[str, Series]) -> dict[str, dict[str, Series]] | None:
    """A CSV downloaded from a W&B chart: every column but the step is ``<run> - <metric>``,
    with ``__MIN``/``__MAX`` envelopes of the sampled points beside each. The series of each
    run under the metric's own name (envelopes left out), or None for any other table."""
    runs: dict[str, dict[str, Series]] = {}
    for name, series in raw.items():
        m = _WANDB_COLUMN.match(name)
        if m is None:
            return None
        if not m.group(3):
            runs.setdefault(m.group(1), {})[m.group(2)] = series
    return runs or None


def _last_segment(table: Table, warnings: list[str]) -> int:
    """Row where the last of several appended runs starts (a repeated header line)."""
    breaks = [b for b in table.breaks if b < table.n_rows]
    if not breaks:
        return 0
    warnings.append(f"{len(breaks) + 1} runs appended in one file (header repeated at line "
                    f"{table.lines[breaks[-1]] - 1}); only the last one is used")
    return breaks[-1]


def _index(table: Table, columns: dict[str, Column], start: int,
           warnings: list[str]) -> tuple[str | None, np.ndarray]:
    """The step of each row: the first usable index column, else the row number."""
    by_lower = {name.lower(): name for name in columns}
    rows = np.arange(table.n_rows, dtype=np.int64)
    for candidate in INDEX_NAMES:
        name = by_lower.get(candidate)
        if name is None:
            continue
        col = columns[name]
        sel = slice(start, None)
        values, present = col.values[sel], col.present[sel]
        if not present.all() or not np.isfinite(values).all():
            warnings.append(f"column {name!r} has empty cells: not used as the step")
            continue
        if not np.all(values == np.round(values)):
            continue  # fractional epochs (HF-style): not an index
        steps = values.astype(np.int64)
        back = np.flatnonzero(np.diff(steps) < 0)
        cut = start + int(back[-1]) + 1 if back.size else start
        if np.any(np.diff(steps[cut - start:]) == 0):
            continue  # several rows per step/epoch: the row number is the better axis
        if cut > start:
            warnings.append(f"{name!r} goes back at line {table.lines[cut]} (runs appended?): "
                            "only the rows from there on are used")
            for column in columns.values():
                column.present[:cut] = False
        if start == 0:
            return name, steps
        full = np.zeros(table.n_rows, dtype=np.int64)
        full[start:] = steps
        return name, full
    return None, rows


reader = GenericCSVReader()
