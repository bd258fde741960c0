"""The fastest path of the CSV reader: polars parses the body of a big metrics CSV, when it is
installed (``pip install 'nndoctor[fast]'``); otherwise the numpy path (_fastcsv.py) does.

polars is used only where it gives exactly the streaming parser's table:

* the body must be plain ASCII of the number grammar (digits, ``.``, ``e``/``E``, signs, the
  delimiter, ``\\n``, and the letters of ``nan``/``inf``/``infinity``): no quotes, no ``\\r``, no
  spaces, no text, so each physical line is one row and each cell one float;
* polars must accept every cell as a Float64. Where it does, its value is the one ``float()``
  gives, bit for bit, NaN signs included (tests/adapters/test_csv_fast_path.py checks random
  doubles in every spelling); what it refuses (``1_000``, ``-``, ``NA``, ``1e``, a text cell, a
  row with more cells than the header) makes it fail, and the numpy path reads the file;
* blank lines and rows of empty cells (which polars reads as rows of nulls) are dropped and the
  line numbers of the rows kept are the physical ones, as the streaming parser's are; a short row
  is padded with empty cells by both;
* no line may come near the line limit (every block of ``MAX_LINE_CHARS / 4`` bytes holds a
  newline), since the streaming parser skips an over-long line;
* a header whose cells are all numbers is left to the others (a repeated header would be read
  as a row here).

Memory: the body is read in pieces of :data:`PIECE_BYTES` of whole lines; polars parses one
(letting go of the GIL) while the next is read and checked, and each piece's columns are copied
into the result (filled in place, as the numpy path fills it) and freed: the file is never held
at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO

import numpy as np

from nndoctor.adapters.readers._fastcsv import Columns

#: Smaller bodies go to the numpy path: importing polars (~0.15 s) would eat the gain.
MIN_BYTES = 8 << 20
#: Bytes handed to polars at a time (whole lines): its columns for them are copied into the
#: result and freed before the next piece, so the file is never in memory at once.
PIECE_BYTES = 16 << 20
_NUMBER_BYTES = b"0123456789.eE+-\nnaNAifIFtTyY"


def available() -> bool:
    try:
        import polars  # noqa: F401
    except ImportError:
        return False
    return True


class _Out:
    """The columns being filled: (width, capacity) arrays of values and presence, the capacity
    estimated from the first piece's bytes per row (pages never written are never resident)."""

    def __init__(self, width: int, max_rows: int) -> None:
        self.width, self.max_rows = width, max_rows
        self.rows = 0
        self.values = np.empty((width, 0))
        self.present = np.empty((width, 0), dtype=bool)
        self.lines: list[np.ndarray] | None = None  # per piece, once a blank row was dropped

    def reserve(self, rows: int, per_row: float, remaining: int) -> None:
        """Room for ``rows`` more rows, and for the ``remaining`` bytes at ``per_row``."""
        if self.rows + rows <= self.values.shape[1]:
            return
        guess = self.rows + rows + int(remaining / max(per_row, 1.0) * 1.1) + 16
        capacity = min(self.max_rows, max(guess, self.values.shape[1] * 3 // 2))
        values = np.empty((self.width, capacity))
        present = np.empty((self.width, capacity), dtype=bool)
        values[:, :self.rows] = self.values[:, :self.rows]
        present[:, :self.rows] = self.present[:, :self.rows]
        self.values, self.present = values, present


def read_columns(fh: BinaryIO, delimiter: int, header: list[str], max_rows: int,
                 first_line: int, max_line: int) -> Columns | None:
    """The rest of ``fh`` (after the header; row r of the file body on line ``first_line + r``)
    read by polars, at most ``max_rows`` rows; None when the numpy path must read it (``fh`` is
    then back where it was)."""
    start = fh.tell()
    try:
        got = _read(fh, delimiter, header, max_rows, first_line, max_line)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # polars refused a cell (not a float, a long row …) or panicked
        got = None  # (pyo3's PanicException is no Exception): not ours to read
    if got is None:
        fh.seek(start)
    return got


def _read(fh: BinaryIO, delimiter: int, header: list[str], max_rows: int, first_line: int,
          max_line: int) -> Columns | None:
    width = len(header)
    if not width or all(_is_float(h) for h in header):
        return None
    import polars as pl

    schema = {f"c{j}": pl.Float64 for j in range(width)}
    sep = chr(delimiter)

    def parse(data: bytes) -> pl.DataFrame:  # polars lets go of the GIL while it parses
        return pl.read_csv(data, has_header=False, schema=schema, separator=sep,
                           quote_char=None, raise_if_empty=False)

    out = _Out(width, max_rows)
    body = bytes_left(fh)
    handled = 0  # bytes of the pieces copied out
    row = 0  # physical rows (lines) of the body copied out
    left_out: int | None = None
    # one piece parsed by polars while the next is read and checked here
    with ThreadPoolExecutor(1) as pool:
        pending: tuple[Future[pl.DataFrame], int, int] | None = None
        pieces = _pieces(fh, delimiter, max_line)
        while True:
            data, lines = next(pieces, (b"", 0))
            if data is None:
                return None
            ahead = (pool.submit(parse, data), lines, len(data)) if data else None
            del data
            if pending is not None:
                future, count, size = pending
                frame = future.result()
                if frame.height != count or frame.width != width:
                    return None
                handled += size
                left_out = _copy(pl, frame, out, first_line, row, handled / (row + count),
                                 body - handled)
                row += count
                del frame
                if left_out is not None:
                    break
            if ahead is None:
                break
            pending = ahead
    if out.rows == 0 and left_out is None:
        return None  # no rows: nothing to gain, and the numpy path knows the empty cases
    rows = out.rows
    lines_kept = np.concatenate(out.lines) if out.lines is not None else None
    return Columns([out.values[j, :rows] for j in range(width)],
                   [out.present[j, :rows] for j in range(width)], left_out, lines_kept)


def _copy(pl: Any, frame: Any, out: _Out, first_line: int, row: int, per_row: float,
          remaining: int) -> int | None:
    """Copy a piece's rows (blank ones dropped) into ``out`` up to the row limit; the line of
    the first row left out by the limit, if one is."""
    lines = frame.height
    kept = None
    if any(c.null_count() for c in frame.iter_columns()):  # rows of empty cells?
        blank = frame.select(pl.all_horizontal(pl.all().is_null())).to_series().to_numpy()
        if blank.any():
            kept = np.flatnonzero(~blank)
            if out.lines is None:
                out.lines = [np.arange(first_line, first_line + out.rows, dtype=np.int64)]
    n = lines if kept is None else kept.size
    take = min(n, out.max_rows - out.rows)
    left_out = None
    if take < n:
        left_out = first_line + row + (take if kept is None else int(kept[take]))
    if take:
        out.reserve(take, per_row, remaining)
        end = out.rows + take
        for j, column in enumerate(frame.iter_columns()):
            if kept is not None:
                column = column.gather(kept[:take])
            elif take < lines:
                column = column.head(take)
            out.values[j, out.rows:end] = column.to_numpy()
            out.present[j, out.rows:end] = column.is_not_null().to_numpy()
        if out.lines is not None:
            at = kept[:take] if kept is not None else np.arange(take)
            out.lines.append(at + (first_line + row))
        out.rows = end
    return left_out


def _pieces(fh: BinaryIO, delimiter: int, max_line: int
            ) -> Iterator[tuple[bytes, int] | tuple[None, int]]:
    """The body in pieces of whole lines (about :data:`PIECE_BYTES`) and the number of lines in
    each; (None, 0) as soon as a byte is not of the number grammar or a line may come near
    ``max_line`` (a stretch of ``max_line / 4`` bytes without a newline). A piece ends at its
    last newline and the file is read on from there (no copy of the bytes after it)."""
    allowed = _NUMBER_BYTES + bytes([delimiter])
    window = max(min(max_line // 4, PIECE_BYTES), 1)
    size = max(PIECE_BYTES, window)
    while True:
        data = fh.read(size)
        if not data:
            return
        if data.translate(None, allowed):
            yield None, 0
            return
        full = len(data) == size  # else the end of the file
        cut = data.rfind(b"\n") + 1 if full else len(data)
        if any(data.find(b"\n", at, at + window) < 0
               for at in range(0, len(data) - window + 1, window)):
            yield None, 0  # a line may be too long: the numpy path measures it
            return
        if cut < len(data):
            fh.seek(cut - len(data), os.SEEK_CUR)
            data = data[:cut]
        yield data, data.count(b"\n") + (not data.endswith(b"\n"))


def bytes_left(fh: BinaryIO) -> int:
    """Bytes left in ``fh`` from where it stands (0 when it cannot tell)."""
    try:
        return max(os.fstat(fh.fileno()).st_size - fh.tell(), 0)
    except (OSError, AttributeError, ValueError):
        return 0


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
