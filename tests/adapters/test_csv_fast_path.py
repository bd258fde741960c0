"""The fast paths of the CSV reader, numpy (_fastcsv.py) and polars (_polarscsv.py, when it is
installed), give exactly what the streaming parser gives: the same table, or the same one-line
error, on real logs, on hostile files and on every way of writing a number."""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nndoctor.adapters.readers import _fastcsv, _limits, _polarscsv, _table
from nndoctor.adapters.readers._table import read_table
from nndoctor.adapters.run import LogError
from tests.reliability._measure import measure

ROOT = Path(__file__).resolve().parents[2]
REAL = sorted([*(ROOT / "tests" / "fixtures" / "logs").rglob("*.csv"),
               *(ROOT / "tests" / "fixtures" / "logs").rglob("*.tsv"),
               *(ROOT / "tests" / "fixtures" / "logs" / "keras_csv").glob("*.log"),
               ROOT / "examples" / "healthy" / "training.log",
               ROOT / "examples" / "overfitting" / "metrics.csv"])


POLARS = _polarscsv.available()
#: the fast paths checked against the streaming parser
FAST = ["numpy", *(["polars"] if POLARS else [])]


@contextmanager
def _using(how: str) -> Iterator[None]:
    """Read with the streaming parser, the numpy path or (for files of any size) polars."""
    saved = _table.POLARS, _polarscsv.MIN_BYTES
    _table.POLARS, _polarscsv.MIN_BYTES = how == "polars", 0
    try:
        yield
    finally:
        _table.POLARS, _polarscsv.MIN_BYTES = saved


def _outcome(path: Path, how: str) -> object:
    """Everything a reader sees of the table, or the error message."""
    delimiter = "\t" if path.suffix == ".tsv" else None
    try:
        with _using(how):
            table = read_table(path, delimiter, fast=how != "streaming")
        columns, text = table.columns()
    except LogError as exc:
        return str(exc)
    return (table.header, table.notes, table.breaks, [int(line) for line in table.lines], text,
            {name: (col.values.tobytes(), col.present.tolist()) for name, col in columns.items()})


def _same(path: Path) -> object:
    """The streaming parser's outcome, checked to be each fast path's."""
    expected = _outcome(path, "streaming")
    for how in FAST:
        assert _outcome(path, how) == expected, how
    return expected


def _took_fast_path(path: Path, how: str = "numpy") -> bool:
    with open(path, "rb") as fh, _using(how):
        return _table._parse_fast(path, fh, "\t" if path.suffix == ".tsv" else None) is not None


def _took_polars(path: Path) -> bool:
    with open(path, "rb") as fh:
        header = fh.readline().decode().strip().split(",")
        return _polarscsv.read_columns(fh, ord(","), header, 10**9, 2,
                                       _limits.MAX_LINE_CHARS) is not None


@pytest.mark.parametrize("path", REAL, ids=lambda p: str(p.relative_to(ROOT)))
def test_real_lightning_keras_and_generic_csvs_read_the_same(path: Path) -> None:
    _same(path)


def test_real_lightning_and_keras_csvs_take_the_fast_path() -> None:
    logs = ROOT / "tests" / "fixtures" / "logs"
    for path in [logs / "lightning" / "version_0" / "metrics.csv",
                 logs / "keras_csv" / "training.log", logs / "keras_csv" / "old_keras.csv"]:
        for how in FAST:
            assert _took_fast_path(path, how), (path, how)


def _write(tmp: Path, text: str | bytes, name: str = "metrics.csv") -> Path:
    path = tmp / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


HOSTILE = {
    "quotes": 'step,loss\n1,"0.5"\n2,0.4\n',
    "text column": "step,loss,time\n1,0.5,00:12\n2,0.4,00:13\n",
    "bad cell": "step,loss\n1,0.5\n2,abc\n",
    "blank line": "step,loss\n1,0.5\n\n2,0.4\n",
    "blank row": "step,loss\n1,0.5\n,\n2,0.4\n",
    "ragged short": "step,loss,acc\n1,0.5\n2,0.4,0.9\n",
    "ragged long": "step,loss\n1,0.5,,\n2,0.4,7\n",
    "repeated header": "step,loss\n1,0.5\nstep,loss\n1,0.4\n",
    "lone cr": "step,loss\r1,0.5\r2,0.4\r",
    "lone cr in body": "step,loss\n1,0.5\r2,0.4\n",
    "crlf": "step,loss\r\n1,0.5\r\n2,0.4\r\n",
    "bom": "\ufeffstep,loss\n1,0.5\n",
    "blank lines first": "\n  \nstep,loss\n1,0.5\n",
    "trailing blank lines": "step,loss\n1,0.5\n2,0.4\n\n\n",
    "no final newline": "step,loss\n1,0.5\n2,0.4",
    "header only": "step,loss\n",
    "nul": "step,loss\n1,0.\x005\n",
    "missing markers": "epoch,loss\n0,NA\n1,none\n2,-\n3, \n4,null\n",
    "padded": "epoch, loss\n 0, 0.5 \n 1,\t0.4\n",
    "specials": "a,b,c\nnan,inf,-Infinity\n1_000,+.5,5.\n-0,1e400,1e-400\n",
    "not numbers": "a,b\n.,-\ne5,1e\n",
    "two dots": "a,b\n1.2.3,1\n",
    "semicolons": "epoch;loss\n0;0,5\n1;0.4\n",
    "tabs": "epoch\tloss\n0\t0.5\n1\t0.4\n",
    "non-utf8": b"step,loss\n1,0.5\n2,\xff\n",
    "utf8 header": "schritt,verlust\u00e4\n1,0.5\n",
    "utf8 cell": "step,loss\n1,0.5\u00e4\n",
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_csvs_read_the_same(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path, HOSTILE[name], "log.tsv" if name == "tabs" else "metrics.csv")
    _same(path)


def test_an_over_long_line_is_left_to_the_streaming_parser(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(_limits, "MAX_LINE_CHARS", 64)
    monkeypatch.setattr(_fastcsv, "BLOCK_BYTES", 16)
    monkeypatch.setattr(_polarscsv, "PIECE_BYTES", 16)
    path = _write(tmp_path, "step,loss\n1,0.5\n2," + "1" * 100 + "\n3,0.3\n")
    assert "longer than" in " ".join(_same(path)[1])


@pytest.mark.parametrize("block", [7, 16, 64, 4096])
@pytest.mark.parametrize("limit", [10, 12, 14, 40])
def test_the_row_limit_cuts_at_the_same_row_with_the_same_note(tmp_path, monkeypatch,
                                                              block, limit) -> None:
    """The limit falls inside a block, at a block's end, and before blank lines."""
    monkeypatch.setattr(_limits, "MAX_POINTS", limit)
    monkeypatch.setattr(_fastcsv, "BLOCK_BYTES", block)
    monkeypatch.setattr(_polarscsv, "PIECE_BYTES", block)
    text = "step,loss\n" + "".join(f"{i},{i / 7!r}\n" for i in range(5)) + ",\n\n"
    text += "".join(f"{i},{i / 3!r}\n" for i in range(5, 30))
    _same(_write(tmp_path, text))
    _same(_write(tmp_path, "step,loss\n" + "".join(f"{i},0.5\n" for i in range(limit // 2))
                 + ",\n\n" + "7,0.1\n"))
    _same(_write(tmp_path, "step,loss\n" + "".join(f"{i},0.5\n" for i in range(limit))))


def test_blocks_split_anywhere_give_the_same_table(tmp_path, monkeypatch) -> None:
    rng = random.Random(3)
    lines = [f"{i},{rng.random()!r},{rng.choice(['', '1e-05', '-3', '2.5E+3'])}"
             for i in range(300)]
    path = _write(tmp_path, "step,loss,lr\n" + "\n".join(lines) + "\n")
    for block in (1, 5, 33, 100, 1 << 20):
        monkeypatch.setattr(_fastcsv, "BLOCK_BYTES", block)
        monkeypatch.setattr(_polarscsv, "PIECE_BYTES", block)
        _same(path)
        assert _took_fast_path(path)
        if POLARS and block >= 100:
            assert _took_fast_path(path, "polars") and _took_polars(path)


# ------------------------------------------------------------------ numbers, exactly

def _random_double(rng: random.Random) -> float:
    while True:
        x = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if math.isfinite(x):
            return x


def _spellings(rng: random.Random, count: int) -> list[str]:
    out = []
    for _ in range(count):
        kind = rng.randrange(9)
        x = _random_double(rng) if kind < 3 else rng.uniform(-1e6, 1e6) * 10 ** rng.randint(-9, 9)
        if kind in (0, 3):
            out.append(repr(x))
        elif kind in (1, 4):
            out.append(f"{x:.{rng.randint(1, 18)}g}")
        elif kind in (2, 5):
            out.append(f"{x:.{rng.randint(0, 17)}e}".replace("e", rng.choice("eE")))
        elif kind == 6:
            out.append(f"{x:.{rng.randint(0, 12)}f}"[:24])
        elif kind == 7:
            out.append(repr(float(np.float32(x))))
        else:
            out.append(str(rng.randint(-10**19, 10**19)))
    return out


def _parse_cells(cells: list[str]) -> np.ndarray:
    data = ("\n".join(cells) + "\n").encode()
    block = _fastcsv.parse_block(data, ord(","), 1, _table.MISSING)
    assert block is not None
    return block.values[:, 0]


@pytest.mark.parametrize("x87", [True, False])
def test_every_spelling_of_a_number_is_what_float_gives(monkeypatch, x87: bool) -> None:
    """Random doubles written as Python, C printf and float32 reprs, bit for bit."""
    if x87 and not _fastcsv._X87:
        pytest.skip("long double is not the x87 80-bit format here")
    monkeypatch.setattr(_fastcsv, "_X87", x87)
    rng = random.Random(15)
    cells = _spellings(rng, 20_000)
    got = _parse_cells(cells)
    want = np.array([float(c) for c in cells])
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("x87", [True, False])
def test_halfway_cases_round_to_even_like_float(monkeypatch, x87: bool) -> None:
    """Integers exactly halfway between two doubles (2^53 + 1 …), and their neighbours: the
    extended-precision result is exact there, and the rounding to double must be float()'s."""
    if x87 and not _fastcsv._X87:
        pytest.skip("long double is not the x87 80-bit format here")
    monkeypatch.setattr(_fastcsv, "_X87", x87)
    rng = random.Random(8)
    cells = []
    for _ in range(3000):
        e = rng.randint(53, 59)
        middle = (((1 << 52) + rng.getrandbits(52)) << (e - 52)) + (1 << (e - 53))
        sign = rng.choice(["", "-"])
        cells += [f"{sign}{middle}", f"{sign}{middle - 1}", f"{sign}{middle + 1}"]
        cells.append(f"{middle}e-{rng.randint(1, 9)}")  # no longer a tie, same digits
    got = _parse_cells(cells)
    want = np.array([float(c) for c in cells])
    assert got.tobytes() == want.tobytes()
    assert _parse_cells(["9007199254740993"])[0] == 9007199254740992.0  # ties to even


needs_polars = pytest.mark.skipif(not POLARS, reason="polars is not installed")


def _polars_cells(tmp: Path, cells: list[str]) -> np.ndarray:
    path = _write(tmp, "x\n" + "\n".join(cells) + "\n")
    with open(path, "rb") as fh:
        fh.readline()
        read = _polarscsv.read_columns(fh, ord(","), ["x"], 10**9, 2, _limits.MAX_LINE_CHARS)
    assert read is not None
    return read.values[0]


@needs_polars
def test_every_spelling_of_a_number_is_what_float_gives_with_polars(tmp_path) -> None:
    rng = random.Random(15)
    cells = [*_spellings(rng, 20_000), "nan", "-nan", "NaN", "inf", "-Infinity", "1e999", "-0"]
    got = _polars_cells(tmp_path, cells)
    assert got.tobytes() == np.array([float(c) for c in cells]).tobytes()


@needs_polars
def test_halfway_cases_round_to_even_like_float_with_polars(tmp_path) -> None:
    rng = random.Random(8)
    cells = []
    for _ in range(3000):
        e = rng.randint(53, 1000)
        middle = (((1 << 52) + rng.getrandbits(52)) << (e - 52)) + (1 << (e - 53))
        cells += [f"{middle}", f"-{middle - 1}", f"{middle + 1}",
                  f"{middle}e-{rng.randint(1, 300)}"]
    got = _polars_cells(tmp_path, cells)
    assert got.tobytes() == np.array([float(c) for c in cells]).tobytes()


@needs_polars
@pytest.mark.parametrize("body", ["1,2\n1_000,3\n", "1,2\n-,3\n", "1,2\nNA,3\n", "1,2\n1e,3\n",
                                  "1,2\n3,4,5\n", '1,2\n"3",4\n', "1,2\r\n3,4\r\n", "1,2\n 3,4\n",
                                  "1,2\nnone,4\n"])
def test_polars_leaves_what_it_does_not_read_exactly_to_the_numpy_path(tmp_path, body) -> None:
    path = _write(tmp_path, "a,b\n" + body)
    assert not _took_polars(path)
    _same(path)


@needs_polars
def test_polars_drops_blank_rows_and_keeps_the_line_numbers(tmp_path) -> None:
    path = _write(tmp_path, "a,b\n1,2\n\n,\n3,\n,4\n\n\n")
    assert _took_polars(path)
    assert _same(path)[3] == [2, 5, 6]


CELLS = st.one_of(
    st.sampled_from(["", "nan", "-NaN", "inf", "-inf", "Infinity", "NA", "none", "-", "1e999",
                     "-0", "-0.0", "1e-310", ".5", "5.", "+.5e-3", "1_000", " 7 ", "0x10",
                     "1e", "e5", ".", "1.2.3", "--1", "1e5e5", "1e+05", "00012.5000",
                     "9007199254740993", "1" * 25, "0." + "3" * 20, "x"]),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(width=32).map(lambda x: repr(float(x))),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda x: f"{x:.6g}"),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda x: f"{x:.4E}"),
    st.integers(-10**20, 10**20).map(str),
)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(width=st.integers(1, 5), rows=st.lists(st.lists(CELLS, min_size=5, max_size=5),
                                               min_size=1, max_size=20),
       ragged=st.booleans(), crlf=st.booleans())
def test_random_tables_read_the_same(tmp_path_factory, width, rows, ragged, crlf) -> None:
    lines = [",".join(f"c{j}" for j in range(width))]
    for i, row in enumerate(rows):
        cut = width - 1 if ragged and i == len(rows) // 2 and width > 1 else width
        lines.append(",".join(row[:cut]))
    newline = "\r\n" if crlf else "\n"
    path = _write(tmp_path_factory.mktemp("fast"), newline.join(lines) + newline)
    _same(path)


# ------------------------------------------------------------------- memory and size

@pytest.mark.parametrize("how", FAST)
def test_a_big_csv_takes_about_its_columns_in_memory(tmp_path: Path, how: str) -> None:
    """600k rows × 4 columns: 21 MB of columns (9 bytes a cell) from 28 MB of text. The fast
    paths read it in blocks: peak RSS grows by the columns and a constant, never by the text
    (polars: its library, ~60 MB once loaded, and one piece of text with its columns)."""
    rows = 600_000
    path = tmp_path / "metrics.csv"
    steps = np.arange(rows)
    with path.open("w") as fh:
        fh.write("step,loss,lr,grad_norm\n")
        fh.writelines(f"{s},{1 / (s + 1)!r},{3e-4 * 0.999 ** (s % 5000):.6g},{s % 97 / 7:.5f}\n"
                      for s in steps.tolist())
    columns_mb = rows * 4 * 9 / 2**20
    got = measure(f"""
        from pathlib import Path
        from nndoctor.adapters.readers import _table
        from nndoctor.adapters.readers._table import read_table
        import numpy as np
        _table.POLARS = {how == "polars"}
        np.zeros(1)
        hwm = [line for line in open('/proc/self/status') if line.startswith('VmHWM')]
        before = int(hwm[0].split()[1]) / 1024
        table = read_table(Path({str(path)!r}), fast=True)
        result = [before, table.n_rows]
        """, timeout=60)
    before, n = got.result
    assert n == rows
    grown = got.rss_mb - before
    # measured: numpy 54 MB (the columns, one more column while joining, two blocks'
    # temporaries); polars 122 MB
    fixed = 40 if how == "numpy" else 40 + 60 + 3 * _polarscsv.PIECE_BYTES / 2**20
    assert grown < 1.25 * columns_mb + fixed, (grown, columns_mb, path.stat().st_size / 2**20)


def test_a_header_only_file_gives_no_series(tmp_path: Path) -> None:
    """An empty column is no dense column: a log with nothing in it yields no curve (a sweep
    drops such runs when others have something)."""
    from nndoctor.adapters.readers import read_path

    generic = tmp_path / "generic" / "metrics.csv"
    lightning = tmp_path / "lightning_logs" / "version_0" / "metrics.csv"
    for path, header in ((generic, "step,train_loss\n"), (lightning, "epoch,step,train_loss\n")):
        path.parent.mkdir(parents=True)
        path.write_text(header)
        assert all(not run.series for run in read_path(path)), path
