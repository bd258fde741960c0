"""The numpy fast path of the CSV reader (_fastcsv.py) gives exactly what the streaming parser
gives: the same table, or the same one-line error, on real logs, on hostile files and on every
way of writing a number."""

from __future__ import annotations

import math
import random
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nndoctor.adapters.readers import _fastcsv, _limits, _table
from nndoctor.adapters.readers._table import read_table
from nndoctor.adapters.run import LogError
from tests.reliability._measure import measure

ROOT = Path(__file__).resolve().parents[2]
REAL = sorted([*(ROOT / "tests" / "fixtures" / "logs").rglob("*.csv"),
               *(ROOT / "tests" / "fixtures" / "logs").rglob("*.tsv"),
               *(ROOT / "tests" / "fixtures" / "logs" / "keras_csv").glob("*.log"),
               ROOT / "examples" / "healthy" / "training.log",
               ROOT / "examples" / "overfitting" / "metrics.csv"])


def _outcome(path: Path, fast: bool) -> object:
    """Everything a reader sees of the table, or the error message."""
    delimiter = "\t" if path.suffix == ".tsv" else None
    try:
        table = read_table(path, delimiter, fast=fast)
        columns, text = table.columns()
    except LogError as exc:
        return str(exc)
    return (table.header, table.notes, table.breaks, table.lines.tolist(), text,
            {name: (col.values.tobytes(), col.present.tolist()) for name, col in columns.items()})


def _took_fast_path(path: Path) -> bool:
    with open(path, "rb") as fh:
        return _table._parse_fast(path, fh, "\t" if path.suffix == ".tsv" else None) is not None


@pytest.mark.parametrize("path", REAL, ids=lambda p: str(p.relative_to(ROOT)))
def test_real_lightning_keras_and_generic_csvs_read_the_same(path: Path) -> None:
    assert _outcome(path, fast=True) == _outcome(path, fast=False)


def test_real_lightning_and_keras_csvs_take_the_fast_path() -> None:
    logs = ROOT / "tests" / "fixtures" / "logs"
    for path in [logs / "lightning" / "version_0" / "metrics.csv",
                 logs / "keras_csv" / "training.log", logs / "keras_csv" / "old_keras.csv"]:
        assert _took_fast_path(path), path


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
    assert _outcome(path, fast=True) == _outcome(path, fast=False)


def test_an_over_long_line_is_left_to_the_streaming_parser(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(_limits, "MAX_LINE_CHARS", 64)
    monkeypatch.setattr(_fastcsv, "BLOCK_BYTES", 16)
    path = _write(tmp_path, "step,loss\n1,0.5\n2," + "1" * 100 + "\n3,0.3\n")
    assert _outcome(path, fast=True) == _outcome(path, fast=False)
    assert "longer than" in " ".join(_outcome(path, fast=False)[1])


@pytest.mark.parametrize("block", [7, 16, 64, 4096])
@pytest.mark.parametrize("limit", [10, 12, 14, 40])
def test_the_row_limit_cuts_at_the_same_row_with_the_same_note(tmp_path, monkeypatch,
                                                              block, limit) -> None:
    """The limit falls inside a block, at a block's end, and before blank lines."""
    monkeypatch.setattr(_limits, "MAX_POINTS", limit)
    monkeypatch.setattr(_fastcsv, "BLOCK_BYTES", block)
    text = "step,loss\n" + "".join(f"{i},{i / 7!r}\n" for i in range(5)) + ",\n\n"
    text += "".join(f"{i},{i / 3!r}\n" for i in range(5, 30))
    path = _write(tmp_path, text)
    assert _outcome(path, fast=True) == _outcome(path, fast=False)
    path = _write(tmp_path, "step,loss\n" + "".join(f"{i},0.5\n" for i in range(limit // 2))
                  + ",\n\n" + "7,0.1\n")
    fast = _outcome(path, fast=True)
    assert fast == _outcome(path, fast=False)


def test_blocks_split_anywhere_give_the_same_table(tmp_path, monkeypatch) -> None:
    rng = random.Random(3)
    lines = [f"{i},{rng.random()!r},{rng.choice(['', '1e-05', '-3', '2.5E+3'])}"
             for i in range(300)]
    path = _write(tmp_path, "step,loss,lr\n" + "\n".join(lines) + "\n")
    expected = _outcome(path, fast=False)
    for block in (1, 5, 33, 100, 1 << 20):
        monkeypatch.setattr(_fastcsv, "BLOCK_BYTES", block)
        assert _outcome(path, fast=True) == expected, block
        assert _took_fast_path(path)


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
    assert _outcome(path, fast=True) == _outcome(path, fast=False)


# ------------------------------------------------------------------- memory and size

def test_a_big_csv_takes_about_its_columns_in_memory(tmp_path: Path) -> None:
    """600k rows × 4 columns: 21 MB of columns (9 bytes a cell) from 28 MB of text. The fast
    path reads it in blocks: peak RSS grows by the columns and a constant, never by the text."""
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
        from nndoctor.adapters.readers._table import read_table
        import numpy as np
        np.zeros(1)
        hwm = [line for line in open('/proc/self/status') if line.startswith('VmHWM')]
        before = int(hwm[0].split()[1]) / 1024
        table = read_table(Path({str(path)!r}), fast=True)
        result = [before, table.n_rows]
        """, timeout=60)
    before, n = got.result
    assert n == rows
    grown = got.rss_mb - before
    # measured: 54 MB (the columns, one more column while joining, two blocks' temporaries)
    assert grown < 1.25 * columns_mb + 40, (grown, columns_mb, path.stat().st_size / 2**20)
