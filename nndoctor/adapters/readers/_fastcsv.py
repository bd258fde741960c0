"""The fast path of the CSV reader: the numeric block of a delimited file parsed with numpy.

A metrics CSV is mostly plain decimal numbers (``12,0.6931471805599453,1e-05``). This module
parses those without a Python call per cell and gives exactly what ``float()`` gives:

* bytes are split into *parts* at the delimiter, newlines, ``.`` and ``e``/``E``: a cell is an
  integer part, an optional fraction and an optional exponent;
* each part's digits are read eight at a time from one unaligned 64-bit load (the SWAR method
  of simdjson / Lemire's "Number parsing at a gigabyte per second");
* the significand M (≤ 18 digits) and the power p (|p| ≤ 27) give M·10^p with one rounding in
  x87 extended precision (64-bit significand: M and 10^p are both exact there), then one
  rounding to float64. That double rounding can only go wrong when the extended result sits
  exactly halfway between two floats; those cells, and every cell outside the grammar (``nan``,
  ``1_000``, padding, ``NA``, over 18 digits), go through ``float()`` one by one.

Anything the streaming parser treats specially (quotes, lone ``\\r``, blank or ragged rows,
repeated headers, text cells, non-ASCII bytes, over-long lines, too many columns) makes
:func:`read_columns` return None and the caller uses the streaming parser, so errors still
name the line and column. Memory: the file is read in blocks; the result is the columns (8
bytes per cell and one byte for "present") and nothing else of the file.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import BinaryIO

import numpy as np

BLOCK_BYTES = 1 << 19  # 512 KiB a block: numpy's temporaries stay in cache, and small
_U64 = np.uint64
_PAD = 24  # bytes of b"0" before a block, so every part can be loaded as three 8-byte words

# byte classes
_DIGIT, _END, _DOT, _EXP, _SIGN, _OTHER = 0, 1, 2, 3, 4, 5
_GRAMMAR = b"0123456789.eE+-\n"


@cache
def _classes(delimiter: int) -> np.ndarray:
    table = np.full(256, _OTHER, dtype=np.uint8)
    table[np.frombuffer(b"0123456789", np.uint8)] = _DIGIT
    table[[delimiter, 10]] = _END
    table[46] = _DOT
    table[[101, 69]] = _EXP
    table[[43, 45]] = _SIGN
    return table


def _ten_powers() -> tuple[np.ndarray, np.ndarray, bool]:
    """10^0..10^18 as uint64; 10^0..10^27 in extended precision (built by exact products);
    whether long double has the 64-bit significand the exact path needs."""
    ints = np.array([10**k for k in range(19)], dtype=_U64)
    wide = np.ones(28, dtype=np.longdouble)
    for k in range(1, 28):
        wide[k] = wide[k - 1] * np.longdouble(10)
    return ints, wide, np.finfo(np.longdouble).nmant >= 63


_P10, _P10L, _EXTENDED = _ten_powers()
_P10F = np.array([10.0**k for k in range(23)])  # exact in float64
# x87 80-bit long double (Linux/x86-64): the significand is the first 8 bytes, little-endian
_X87 = (_EXTENDED and np.finfo(np.longdouble).nmant == 63 and sys.byteorder == "little"
        and np.dtype(np.longdouble).itemsize in (12, 16))
# masks keeping the last k bytes of an 8-byte word (its k most significant bytes), k = 0..8,
# and b"0" in the bytes dropped
_KEEP = np.array([0 if k == 0 else (0xFFFFFFFFFFFFFFFF << (8 * (8 - k))) & 0xFFFFFFFFFFFFFFFF
                  for k in range(9)], dtype=_U64)
_ZEROS = np.array([0x3030303030303030 & ~int(m) & 0xFFFFFFFFFFFFFFFF for m in _KEEP],
                  dtype=_U64)


def _eight_digits(words: np.ndarray) -> np.ndarray:
    """Eight ASCII digits per uint64 (first byte most significant) → their value."""
    w = words - _U64(0x3030303030303030)
    w = w * _U64(10) + (w >> _U64(8))
    mask = _U64(0x000000FF000000FF)
    w = ((w & mask) * _U64(0x000F424000000064)
         + ((w >> _U64(16)) & mask) * _U64(0x0000271000000001)) >> _U64(32)
    return w & _U64(0xFFFFFFFF)


@dataclass
class Block:
    """The cells of some complete lines: values (NaN where absent) and presence, row-major."""

    values: np.ndarray  # float64, shape (rows, width)
    present: np.ndarray  # bool, shape (rows, width)


def parse_block(data: bytes, delimiter: int, width: int,
                missing: frozenset[str] = frozenset()) -> Block | None:
    """Complete lines (ending in ``\\n``) of ``width`` cells → a Block, or None when they need
    the streaming parser (a line with another number of cells, a blank row, a non-numeric
    cell that is not a missing-value marker, quotes, non-ASCII or lone ``\\r``)."""
    if b"\r" in data:
        if data.count(b"\r") != data.count(b"\r\n"):
            return None
        data = data.replace(b"\r\n", b"\n")  # the csv module drops the \r of \r\n as well
    if b'"' in data or not data.isascii():
        return None
    buf = bytearray(b"0" * _PAD)
    buf += data
    raw = np.frombuffer(buf, dtype=np.uint8)
    b = raw[_PAD:]
    ends = np.flatnonzero((b == delimiter) | (b == 10) | (b == 46) | ((b | 32) == 101))
    n = ends.size
    if n == 0:
        return None
    kind = _classes(delimiter)[b[ends]]  # _END, _DOT or _EXP: what ends each part
    starts = np.empty(n, dtype=np.int64)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    prev = np.empty(n, dtype=np.uint8)
    prev[0] = _END
    prev[1:] = kind[:-1]
    length = ends - starts

    # cells and lines
    first = np.flatnonzero(prev == _END)  # the integer part of each cell
    cell_end = ends[kind == _END]
    ncells = first.size
    rows, rest = divmod(ncells, width)
    if rest or data.count(b"\n") != rows or not np.all(b[cell_end[width - 1::width]] == 10):
        return None

    odd = np.zeros(ncells, dtype=bool)  # cells left to float()
    # a sign may only be the first byte of the integer part or of the exponent
    signed = np.zeros(n, dtype=bool)
    n_signs = data.count(b"-") + data.count(b"+")
    if n_signs:
        signed = (_classes(delimiter)[b[starts]] == _SIGN) & (length > 0)
        if int(signed.sum()) != n_signs or np.any(signed & (prev == _DOT)):
            odd[np.searchsorted(cell_end, np.flatnonzero((b == 45) | (b == 43)))] = True
    if data.translate(None, _GRAMMAR + bytes([delimiter])):  # letters, spaces, "_", "/" …
        other = _classes(delimiter)[b] == _OTHER
        odd[np.searchsorted(cell_end, np.flatnonzero(other))] = True
    digits = length - signed
    # two dots, a dot after the exponent, two exponents, over 18 digits: float() decides
    bad_part = ((prev == _DOT) & (kind == _DOT)) | ((prev == _EXP) & (kind != _END))
    bad_part |= digits > 18
    if bad_part.any():
        odd[np.searchsorted(cell_end, ends[bad_part])] = True
    value = _part_values(raw, ends, digits)

    # assemble cells: integer part [. fraction] [e exponent]
    k1 = kind[first]
    nxt = np.minimum(first + 1, n - 1)
    has_frac = k1 == _DOT
    frac_digits = np.where(has_frac, digits[nxt], 0)
    empty = (k1 == _END) & (length[first] == 0)
    odd |= ~empty & (digits[first] + frac_digits == 0)  # ".", "-", "e5"
    power = -frac_digits
    if (kind == _EXP).any():
        has_exp = (k1 == _EXP) | (has_frac & (kind[nxt] == _EXP))
        at = np.minimum(first + 1 + has_frac, n - 1)
        odd |= has_exp & ((digits[at] == 0) | (digits[at] > 8))
        exponent = np.where(has_exp, value[at].astype(np.int64), 0)
        if n_signs:
            exponent = np.where(has_exp & (b[starts[at]] == 45), -exponent, exponent)
        power = power + exponent
    whole = value[first]
    frac_digits = np.minimum(frac_digits, 18)
    odd |= (whole >= _P10[18 - frac_digits]) | (power > 27) | (power < -27)  # M ≥ 10^18
    odd &= ~empty
    significand = whole * _P10[frac_digits]
    significand += np.where(has_frac, value[nxt], _U64(0))
    values = _scale(significand, np.where(odd, 0, power))
    odd |= np.isnan(values)  # halfway cases of the double rounding
    if n_signs:
        values = np.where(b[starts[first]] == 45, -values, values)
    values[empty] = np.nan
    present = ~empty
    for i in np.flatnonzero(odd).tolist():
        cell = data[int(starts[first[i]]):int(cell_end[i])].decode("ascii")
        try:
            values[i] = float(cell)  # what the streaming parser does, cell by cell
        except ValueError:
            if cell.strip().lower() not in missing:
                return None  # text: the streaming parser names the line and column
            values[i] = np.nan
            present[i] = False
        else:
            present[i] = True
    shaped = present.reshape(rows, width)
    if not shaped.any(axis=1).all():
        return None  # a row of empty cells: the streaming parser skips it
    return Block(values.reshape(rows, width), shaped)


def _part_values(raw: np.ndarray, ends: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """The integer value of each part's last ``digits`` bytes (at most 24), as uint64."""
    words = np.ndarray((raw.size - 7,), dtype="<u8", buffer=raw, strides=(1,))
    at = ends + (_PAD - 8)  # the 8 bytes before each part's end
    count = np.clip(digits, 0, 8)
    value = _eight_digits((words[at] & _KEEP[count]) | _ZEROS[count])
    for shift, scale in ((8, 10**8), (16, 10**16)):
        long = np.flatnonzero(digits > shift)
        if not long.size:
            break
        count = np.clip(digits[long] - shift, 0, 8)
        word = (words[at[long] - shift] & _KEEP[count]) | _ZEROS[count]
        value[long] += _eight_digits(word) * _U64(scale)
    return value


def _scale(significand: np.ndarray, power: np.ndarray) -> np.ndarray:
    """M·10^p (M < 10^18, |p| ≤ 27) correctly rounded to float64; NaN where that cannot be
    told here (left to float()). M < 2^53 with |p| ≤ 22 is Clinger's exact case: one float64
    operation on exact operands. The rest takes one extended-precision operation (exact
    operands again) and a rounding to float64 that is right unless the extended result lies
    exactly halfway between two floats."""
    exact = significand < _U64(1 << 53)
    up = power > 0
    out = significand.astype(np.float64)
    out /= _P10F[np.minimum(-power, 22).clip(0)]
    if up.any():
        out[up] = significand[up].astype(np.float64) * _P10F[np.minimum(power[up], 22)]
    wide = np.flatnonzero(~exact | (power > 22) | (power < -22))
    if wide.size:
        out[wide] = _scale_wide(significand[wide], power[wide])
    return out


def _scale_wide(significand: np.ndarray, power: np.ndarray) -> np.ndarray:
    if not _EXTENDED:
        return np.full(significand.size, np.nan)
    wide = significand.astype(np.longdouble)
    up = power > 0
    result = wide / _P10L[np.clip(-power, 0, 27)]
    if up.any():
        result[up] = wide[up] * _P10L[power[up]]
    out = result.astype(np.float64)
    if _X87:  # halfway: the 11 bits below float64's 53 are 10000000000
        low = result.view(np.uint64).reshape(-1, result.itemsize // 8)[:, 0]
        tie = (low & _U64(0x7FF)) == _U64(0x400)
    else:
        gap = np.abs(result - out)  # exact in extended precision
        spacing = np.spacing(out)
        tie = (gap == spacing * 0.5) | (gap == spacing * 0.25)
    out[tie] = np.nan
    return out


@dataclass
class Columns:
    """The body of a file read by the fast path: one array of values (NaN where absent) and
    one of presence per column, and the line of the first row left out by the row limit."""

    values: list[np.ndarray]
    present: list[np.ndarray]
    left_out: int | None
    lines: np.ndarray | None = None  # the line of each row; None: consecutive from the first


def read_columns(fh: BinaryIO, delimiter: int, width: int, max_rows: int, first_line: int,
                 max_line: int, missing: frozenset[str]) -> Columns | None:
    """Parse the rest of ``fh`` (after the header) block by block, two blocks at a time on two
    cores (numpy releases the GIL in its loops), keeping at most ``max_rows`` rows; None when
    the streaming parser must read the file instead. Row r stood on line ``first_line + r``
    (the fast path takes no blank line). Peak memory: the columns and a few blocks'
    temporaries; the columns are filled in place (sized from the first block, grown if need
    be), never joined from pieces, which would leave the pieces' memory behind."""
    remaining = _remaining(fh)
    out = _Filled(width, max_rows, remaining)
    left_out: int | None = None
    workers = _workers() if remaining > BLOCK_BYTES else 1  # one block: no threads
    with ThreadPoolExecutor(workers) if workers > 1 else contextlib.nullcontext() as pool:
        parsed = _in_order(pool, workers, _pieces(fh, max_line),
                           lambda data: parse_block(data, delimiter, width, missing))
        for data, block in parsed:
            if data is None:
                return None  # an over-long line: the streaming parser skips it
            if out.rows >= max_rows:  # the limit was reached: where does the next row stand?
                if b'"' in data or b"\r" in data or not data.isascii():
                    return None
                filled = _first_filled(data, delimiter)
                if filled is not None:
                    left_out = first_line + out.rows + filled
                    break
                out.rows += data.count(b"\n")  # blank lines only: look further
                continue
            if block is None:
                return None
            if out.add(block, len(data)):
                left_out = first_line + out.rows
                break
    rows = min(out.rows, max_rows)
    return Columns([out.values[j, :rows] for j in range(width)],
                   [out.present[j, :rows] for j in range(width)], left_out)


def _remaining(fh: BinaryIO) -> int:
    try:
        return max(os.fstat(fh.fileno()).st_size - fh.tell(), 0)
    except (OSError, AttributeError, ValueError):
        return 0


class _Filled:
    """The columns being filled: one (width, capacity) array of values and one of presence.
    The capacity is estimated from the first block's bytes per row; pages never written are
    never resident, so a generous estimate costs nothing."""

    def __init__(self, width: int, max_rows: int, remaining: int) -> None:
        self.width, self.max_rows, self.remaining = width, max_rows, remaining
        self.rows = 0
        self.values = np.empty((width, 0))
        self.present = np.empty((width, 0), dtype=bool)

    def add(self, block: Block, size: int) -> bool:
        """Append the block's rows; True when the row limit cut it."""
        keep = min(len(block.values), self.max_rows - self.rows)
        if self.rows + keep > self.values.shape[1]:
            per_row = size / max(len(block.values), 1)
            guess = self.rows + keep + int(self.remaining / per_row * 1.1) + 16
            self._grow(min(self.max_rows, max(guess, self.values.shape[1] * 3 // 2)))
        end = self.rows + keep
        self.values[:, self.rows:end] = block.values[:keep].T
        self.present[:, self.rows:end] = block.present[:keep].T
        self.rows = end
        return keep < len(block.values)

    def _grow(self, capacity: int) -> None:
        values = np.empty((self.width, capacity))
        present = np.empty((self.width, capacity), dtype=bool)
        values[:, :self.rows] = self.values[:, :self.rows]
        present[:, :self.rows] = self.present[:, :self.rows]
        self.values, self.present = values, present


def _workers() -> int:
    try:
        return min(2, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return min(2, os.cpu_count() or 1)


def _pieces(fh: BinaryIO, max_line: int) -> Iterator[bytes | None]:
    """The file in blocks of whole lines (the last one ended with a newline, trailing blank
    lines dropped); None for a line over ``max_line`` bytes, then nothing more."""
    carry = b""
    while True:
        chunk = fh.read(BLOCK_BYTES)
        if not chunk:
            data = carry.rstrip(b"\r\n")
            if data:
                yield data + b"\n"
            return
        newline = chunk.find(b"\n")
        if (newline < 0 and len(carry) + len(chunk) >= max_line) or (
                newline >= 0 and len(carry) + newline + 1 > max_line):
            yield None
            return
        if newline < 0:
            carry += chunk
            continue
        data = carry + chunk
        cut = data.rfind(b"\n") + 1
        carry = data[cut:]
        yield data[:cut]


def _in_order(pool: ThreadPoolExecutor | None, workers: int, items: Iterator[bytes | None],
              work: Callable[[bytes], Block | None]
              ) -> Iterator[tuple[bytes | None, Block | None]]:
    """(item, work(item)) in the items' order, with at most one item per worker in flight
    (here, one at a time, without a pool)."""
    if pool is None:
        for item in items:
            yield item, work(item) if item is not None else None
        return
    pending: deque[tuple[bytes | None, Future[Block | None] | None]] = deque()
    for item in items:
        pending.append((item, pool.submit(work, item) if item is not None else None))
        if len(pending) > workers:
            done, future = pending.popleft()
            yield done, future.result() if future is not None else None
    while pending:
        done, future = pending.popleft()
        yield done, future.result() if future is not None else None


def _first_filled(data: bytes, delimiter: int) -> int | None:
    """Index of the first line of ``data`` with a cell that is not blank, None when none is."""
    sep = bytes([delimiter])
    for index, line in enumerate(data.split(b"\n")[:-1]):
        if line.replace(sep, b"").strip():
            return index
    return None
