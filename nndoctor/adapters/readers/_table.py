"""Delimited text (CSV/TSV) → numeric columns, with errors that name the line and column."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nndoctor.adapters.readers._io import read_text
from nndoctor.adapters.run import LogError

MISSING = {"", "na", "n/a", "none", "null", "nil", "-"}


@dataclass
class Column:
    """One numeric column: float values (NaN/Inf kept) and which rows actually had a value."""

    values: np.ndarray
    present: np.ndarray  # bool


@dataclass
class Table:
    """A parsed delimited file: stripped header and cells, and where each row came from."""

    path: Path
    header: list[str]
    rows: list[list[str]]
    lines: list[int]  # 1-based file line of each row
    breaks: list[int] = field(default_factory=list)  # row indices where a repeated header stood

    def columns(self) -> tuple[dict[str, Column], list[str]]:
        """Numeric columns by name, and the names of all-text columns (skipped).

        A column mixing numbers and text raises LogError at its first non-numeric cell.
        """
        out: dict[str, Column] = {}
        text_cols: list[str] = []
        for j, name in enumerate(self.header):
            if not name or name in out:
                continue
            col = _parse_column(self, j)
            if col is None:
                text_cols.append(name)
            else:
                out[name] = col
        return out, text_cols


def sniff_delimiter(line: str) -> str:
    """Tab, comma or semicolon: whichever the header line uses most (comma when none)."""
    counts = {d: line.count(d) for d in ("\t", ",", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_table(path: Path, delimiter: str | None = None) -> Table:
    """Read a delimited file with a header line; cells and header names are stripped."""
    text = read_text(path)
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip())
    delim = delimiter or sniff_delimiter(lines[start])
    reader = csv.reader(lines[start:], delimiter=delim)
    try:
        header = [h.strip() for h in next(reader)]
        rows: list[list[str]] = []
        where: list[int] = []
        breaks: list[int] = []
        width = len(header)
        for cells in reader:
            line_no = start + reader.line_num
            if not any(c.strip() for c in cells):
                continue
            cells = [c.strip() for c in cells]
            if cells == header:
                breaks.append(len(rows))
                continue
            if len(cells) > width:
                if any(cells[width:]):
                    raise LogError(path, f"line {line_no}: {len(cells)} cells but the header "
                                         f"has {width} columns")
                cells = cells[:width]
            elif len(cells) < width:
                cells += [""] * (width - len(cells))
            rows.append(cells)
            where.append(line_no)
    except csv.Error as exc:
        raise LogError(path, f"line {start + reader.line_num}: {exc}") from None
    return Table(path, header, rows, where, breaks)


def _parse_column(table: Table, j: int) -> Column | None:
    n = len(table.rows)
    values = np.full(n, np.nan)
    present = np.zeros(n, dtype=bool)
    bad: int | None = None
    numeric = 0
    for i, row in enumerate(table.rows):
        cell = row[j]
        if cell.lower() in MISSING:
            continue
        try:
            values[i] = float(cell)
        except ValueError:
            if bad is None:
                bad = i
            continue
        present[i] = True
        numeric += 1
    if bad is not None:
        if numeric == 0:
            return None
        raise LogError(table.path, f"line {table.lines[bad]}, column {table.header[j]!r}: "
                                   f"non-numeric value {table.rows[bad][j]!r}")
    return Column(values, present)


def index_steps(table: Table, col: Column, name: str) -> np.ndarray:
    """An index column (step/epoch) as int64; LogError when it has gaps or fractions."""
    if not col.present.all():
        i = int(np.argmin(col.present))
        raise LogError(table.path, f"line {table.lines[i]}, column {name!r}: missing value")
    finite = np.isfinite(col.values)
    if not finite.all() or not np.all(col.values == np.round(col.values)):
        i = int(np.argmax(~finite | (col.values != np.round(col.values))))
        raise LogError(table.path, f"line {table.lines[i]}, column {name!r}: "
                                   f"{table.rows[i][table.header.index(name)]!r} is not a whole "
                                   "number")
    return col.values.astype(np.int64)
