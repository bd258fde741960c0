"""Delimited text (CSV/TSV) → numeric columns, with errors that name the line and column."""

from __future__ import annotations

import csv
import os
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np

from nndoctor.adapters.readers import _limits
from nndoctor.adapters.readers._io import cannot_read, open_log
from nndoctor.adapters.run import LogError

MISSING = frozenset({"", "na", "n/a", "none", "null", "nil", "-"})
#: Smaller files go through the streaming parser alone: numpy's per-call cost (~0.3 ms a file)
#: would outweigh the gain (both give the same table; at 12 KB the fast path takes half the time).
FAST_MIN_BYTES = 4 * 1024
#: Whether a big file may be read by polars when it is installed (_polarscsv.py); the tests
#: turn it off to check the numpy path against the streaming parser too.
POLARS = True


class Column(NamedTuple):
    """One numeric column: float values (NaN/Inf kept) and which rows actually had a value."""

    values: np.ndarray
    present: np.ndarray  # bool


class Cells(NamedTuple):
    """One column as read: float values (NaN where absent), which rows had a value, the first
    non-numeric cell (row, text) and how many cells were numbers."""

    values: np.ndarray
    present: np.ndarray  # bool
    bad: tuple[int, str] | None = None
    numeric: int = 0


class _ColumnBuilder:
    """Collects one column while the file streams by: 8 bytes a cell, no row kept."""

    __slots__ = ("bad", "numeric", "present", "values")

    def __init__(self) -> None:
        self.values = array("d")
        self.present = bytearray()
        self.bad: tuple[int, str] | None = None  # (row, cell) of the first non-numeric cell
        self.numeric = 0

    def add(self, cell: str, row: int) -> None:
        try:
            self.values.append(float(cell))  # float() accepts padding, nan, inf
        except ValueError:
            self.values.append(np.nan)
            self.present.append(0)
            if self.bad is None and cell.strip().lower() not in MISSING:
                self.bad = (row, cell.strip())
            return
        self.present.append(1)
        self.numeric += 1

    def cells(self) -> Cells:
        """The column collected (views of the buffers: no copy of a 10-million-row column)."""
        values = np.frombuffer(self.values, dtype=np.float64) if self.values else np.zeros(0)
        present = (np.frombuffer(self.present, dtype=np.uint8).view(bool) if self.present
                   else np.zeros(0, dtype=bool))
        return Cells(values, present, self.bad, self.numeric)


class Table:
    """A parsed delimited file: stripped header, per-column numbers, where each row came from
    (not a dataclass: making one costs every start ~3 M instructions)."""

    __slots__ = ("breaks", "cells", "header", "lines", "notes", "path")

    def __init__(self, path: Path, header: list[str], cells: list[Cells],
                 lines: np.ndarray | range, breaks: list[int] | None = None,
                 notes: list[str] | None = None) -> None:
        self.path = path
        self.header = header
        self.cells = cells
        self.lines = lines  # 1-based file line of each row (a range: no blank line)
        self.breaks = [] if breaks is None else breaks  # rows where a repeated header stood
        self.notes = [] if notes is None else notes  # warnings: limits crossed (_limits.py)

    def __repr__(self) -> str:
        return (f"Table(path={self.path!r}, header={self.header!r}, cells={self.cells!r}, "
                f"lines={self.lines!r}, breaks={self.breaks!r}, notes={self.notes!r})")

    @property
    def n_rows(self) -> int:
        return len(self.lines)

    def columns(self) -> tuple[dict[str, Column], list[str]]:
        """Numeric columns by name, and the names of all-text columns (skipped).

        A column mixing numbers and text raises LogError at its first non-numeric cell.
        """
        out: dict[str, Column] = {}
        text_cols: list[str] = []
        for name, cells in zip(self.header, self.cells, strict=True):
            if not name or name in out:
                continue
            if cells.bad is not None:
                if cells.numeric == 0:
                    text_cols.append(name)
                    continue
                row, cell = cells.bad
                raise LogError(self.path, f"line {self.lines[row]}, column {name!r}: "
                                          f"non-numeric value {cell!r}")
            out[name] = Column(cells.values, cells.present)
        return out, text_cols


def sniff_delimiter(line: str) -> str:
    """Tab, comma or semicolon: whichever the header line uses most (comma when none)."""
    counts = {d: line.count(d) for d in ("\t", ",", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_table(path: Path, delimiter: str | None = None, fast: bool | None = None) -> Table:
    """Read a delimited file with a header line into numeric columns (bounded memory: about 9
    bytes a cell, whatever the file size). A file of plain numbers is parsed with numpy
    (_fastcsv.py); anything else, or ``fast=False``, streams row by row through the csv module,
    which names the line and column of a bad cell. ``fast=None`` picks by size."""
    with open_log(path) as fh:
        try:
            if fast is None:
                fast = os.fstat(fh.fileno()).st_size >= FAST_MIN_BYTES
            table = _parse_fast(path, fh, delimiter) if fast else None
            if table is None:
                fh.seek(0)
                table = _parse(path, fh, delimiter)
            return table
        except OSError as exc:
            raise cannot_read(path, exc) from None


def _header(path: Path, first: str, line_no: int, delimiter: str | None
            ) -> tuple[str, list[str]]:
    """The delimiter and the stripped header cells of the first non-blank line."""
    delim = delimiter or sniff_delimiter(first)
    try:  # a header cell over csv.field_size_limit() (131,072 characters) raises csv.Error
        header = [h.strip() for h in next(csv.reader([first], delimiter=delim))]
    except csv.Error as exc:
        raise LogError(path, f"line {line_no}: {exc}") from None
    return delim, header


def _parse_fast(path: Path, fh: BinaryIO, delimiter: str | None) -> Table | None:
    """The numpy path (_fastcsv.py); None when the file needs the streaming parser."""
    # only for big files: not at start-up
    from nndoctor.adapters.readers import _fastcsv, _polarscsv

    line_no = 0
    while True:  # the header: the first non-blank line
        raw = fh.readline(_limits.MAX_LINE_CHARS)
        line_no += 1
        if (not raw or len(raw) >= _limits.MAX_LINE_CHARS
                or raw.count(b"\r") > raw.endswith(b"\r\n")):  # a lone \r ends a line
            return None
        try:
            first = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
        except UnicodeDecodeError:
            return None
        if first.strip():
            break
    delim, header = _header(path, first, line_no, delimiter)
    width = len(header)
    if delim not in (",", "\t", ";") or width > _limits.MAX_SERIES:
        return None
    max_rows = max(1, _limits.MAX_POINTS // max(width, 1))
    read = None
    if POLARS and _polarscsv.bytes_left(fh) >= _polarscsv.MIN_BYTES and _polarscsv.available():
        read = _polarscsv.read_columns(fh, ord(delim), header, max_rows, line_no + 1,
                                       _limits.MAX_LINE_CHARS)
    if read is None:
        read = _fastcsv.read_columns(fh, ord(delim), width, max_rows, line_no + 1,
                                     _limits.MAX_LINE_CHARS, MISSING)
    if read is None:
        return None
    notes = [] if read.left_out is None else [_row_limit(max_rows, read.left_out)]
    rows = len(read.values[0]) if width else 0
    cells = [Cells(values, present, None, int(present.sum()))
             for values, present in zip(read.values, read.present, strict=True)]
    lines = read.lines if read.lines is not None else range(line_no + 1, line_no + 1 + rows)
    return Table(path, header, cells, lines, [], notes)


def _row_limit(max_rows: int, line: int) -> str:
    return (f"only the first {max_rows:,} rows are read (limit: {_limits.MAX_POINTS:,} "
            f"values); the rest, from line {line} on, is ignored")


def _parse(path: Path, fh: BinaryIO, delimiter: str | None) -> Table:
    line_no = 0
    first: str | None = ""
    lines_in = _limits.text_lines(fh, path)
    for first in lines_in:
        line_no += 1
        if first is None:
            raise LogError(path, _limits.too_long(f"line {line_no}") + ": not a metrics table")
        if first.strip():
            break
    if first is None or not first.strip():
        raise LogError(path, "empty file")
    delim, header = _header(path, first, line_no, delimiter)
    width = len(header)
    notes: list[str] = []
    if width > _limits.MAX_SERIES:
        notes.append(f"{width:,} columns: only the first {_limits.MAX_SERIES:,} are read")
        header = header[:_limits.MAX_SERIES]
    kept = len(header)
    max_rows = max(1, _limits.MAX_POINTS // max(kept, 1))
    builders = [_ColumnBuilder() for _ in header]
    lines = array("q")
    breaks: list[int] = []
    long_lines: list[int] = []

    def physical() -> Iterator[str]:
        for number, text in enumerate(lines_in, line_no + 1):
            if text is None:
                long_lines.append(number)
                yield "\n"
            else:
                yield text

    reader = csv.reader(physical(), delimiter=delim)
    try:
        for cells in reader:
            row_line = line_no + reader.line_num
            if not "".join(cells).strip():
                continue
            if len(lines) >= max_rows:
                notes.append(_row_limit(max_rows, row_line))
                break
            if cells[0].strip() == header[0] and [c.strip() for c in cells] == header:
                breaks.append(len(lines))
                continue
            if len(cells) > width:
                if any(c.strip() for c in cells[width:]):
                    raise LogError(path, f"line {row_line}: {len(cells)} cells but the header "
                                         f"has {width} columns")
                cells = cells[:width]
            elif len(cells) < width:
                cells += [""] * (width - len(cells))
            row = len(lines)
            if kept < width:
                cells = cells[:kept]
            for builder, cell in zip(builders, cells, strict=True):
                builder.add(cell, row)
            lines.append(row_line)
    except csv.Error as exc:
        raise LogError(path, f"line {line_no + reader.line_num}: {exc}") from None
    if long_lines:
        notes.append(_limits.too_long(f"line {long_lines[0]}") + f": skipped ({len(long_lines)} "
                     "such line(s))")
    rows = np.frombuffer(lines, dtype=np.int64).copy() if lines else np.zeros(0, dtype=np.int64)
    return Table(path, header, [b.cells() for b in builders], rows, breaks, notes)


def index_steps(table: Table, col: Column, name: str) -> np.ndarray:
    """An index column (step/epoch) as int64; LogError when it has gaps or fractions."""
    if not col.present.all():
        i = int(np.argmin(col.present))
        raise LogError(table.path, f"line {table.lines[i]}, column {name!r}: missing value")
    finite = np.isfinite(col.values)
    if not finite.all() or not np.all(col.values == np.round(col.values)):
        i = int(np.argmax(~finite | (col.values != np.round(col.values))))
        raise LogError(table.path, f"line {table.lines[i]}, column {name!r}: "
                                   f"{col.values[i]:g} is not a whole number")
    return col.values.astype(np.int64)
