"""CSV reading speed and memory (issue #15 item 3): nndoctor next to pandas, pyarrow and polars.

Two 10-million-row metrics files, written the way real loggers write them:

* ``lightning``: a Lightning ``CSVLogger`` ``metrics.csv`` (epoch, step, train_loss, val_loss;
  sparse rows: a validation row every 1,000 steps; values as Python's ``repr`` of float32
  losses, i.e. up to 17 significant digits);
* ``generic``: a dense per-step CSV (step, loss, lr, grad_norm; ``%.6g`` values, lr as
  ``1e-05``-style exponents).

Each tool runs in a fresh subprocess (so its peak RSS is its own), interleaved with the
others, ``--repeats`` times (at least 3); the figure is min / median wall time of the read
alone (imports not timed) and the peak RSS. nndoctor is measured three ways: its table
(``read_table``), the reader (``read_path``: the Run with its series) and, once per repeat,
the streaming parser alone (``read_table(fast=False)``) with ``--streaming``.

Run in the benchmark environment: ``pip install -e '.[bench]' && python benchmarks/csv_speed.py``
(pandas, pyarrow and polars are in the ``bench`` extra; a tool that is missing is reported as
not measured). ``--rows`` changes the size; ``--dir`` keeps the generated files between runs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TOOLS = {  # name -> (imports, timed statement producing n = rows read)
    # polars' own import is not timed for polars.read_csv, so it is not for nndoctor either
    # (the polars path imports it lazily, on the first big file)
    "nndoctor table": ("from pathlib import Path\n"
                       "from nndoctor.adapters.readers._table import read_table\n"
                       "from nndoctor.adapters.readers import _polarscsv\n"
                       "_polarscsv.available()",
                       "tb = read_table(Path(PATH)); cols, _ = tb.columns(); n = tb.n_rows"),
    "nndoctor numpy path": ("from pathlib import Path\n"
                            "from nndoctor.adapters.readers import _table\n"
                            "_table.POLARS = False",
                            "tb = _table.read_table(Path(PATH)); cols, _ = tb.columns(); "
                            "n = tb.n_rows"),
    "nndoctor read_path": ("from nndoctor.adapters.readers import read_path",
                           "runs = read_path(PATH)\n"
                           "n = max(len(s) for s in runs[0].series.values())"),
    "nndoctor streaming": ("from pathlib import Path\n"
                           "from nndoctor.adapters.readers._table import read_table",
                           "tb = read_table(Path(PATH), fast=False); n = tb.n_rows"),
    "nndoctor diagnose": ("import os\nfrom nndoctor.cli import main",
                          "rc = main(['diagnose', PATH, '--format', 'json', '-o', os.devnull])\n"
                          "n = 0 if rc in (0, 1) else -1"),
    "pandas.read_csv": ("import pandas", "n = len(pandas.read_csv(PATH))"),
    "pyarrow.csv": ("import pyarrow.csv", "n = pyarrow.csv.read_csv(PATH).num_rows"),
    "polars.read_csv": ("import polars", "n = polars.read_csv(PATH).height"),
}
TIMED = """
import resource, sys, time
sys.path.insert(0, {root!r})
{imports}
PATH = sys.argv[1]
t = time.perf_counter()
{body}
dt = time.perf_counter() - t
print(dt, n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def write_lightning(path: Path, rows: int, every: int = 1000) -> None:
    """A CSVLogger metrics.csv: step rows with train_loss, a val row after every ``every``."""
    rng = np.random.default_rng(0)
    with path.open("w") as fh:
        fh.write("epoch,step,train_loss,val_loss\n")
        written, step = 0, 0
        while written < rows:
            n = min(200_000, rows - written)
            steps = np.arange(step, step + n)
            loss = (2.3 * np.exp(-steps / 1e6) + rng.normal(0, 0.05, n)).astype(np.float32)
            out = []
            for s, v in zip(steps.tolist(), loss.tolist(), strict=True):
                out.append(f"{s // every},{s},{v!r},")
                if s % every == every - 1:
                    out.append(f"{s // every},{s},,{v + 0.1!r}")
            out = out[:rows - written]
            fh.write("\n".join(out) + "\n")
            written += len(out)
            step += n


def write_generic(path: Path, rows: int) -> None:
    """A dense per-step CSV: step, loss, lr (exponent notation), grad_norm."""
    rng = np.random.default_rng(1)
    with path.open("w") as fh:
        fh.write("step,loss,lr,grad_norm\n")
        for start in range(0, rows, 200_000):
            steps = np.arange(start, min(rows, start + 200_000))
            loss = 2.3 * np.exp(-steps / 1e6) + rng.normal(0, 0.05, steps.size)
            lr = 3e-4 * np.exp(-steps / 2e6)
            grad = np.abs(rng.normal(1, 0.3, steps.size))
            fh.write("\n".join(f"{s},{a:.6g},{b:.6g},{c:.6g}" for s, a, b, c in zip(
                steps.tolist(), loss.tolist(), lr.tolist(), grad.tolist(), strict=True)) + "\n")


def measure(tool: str, path: Path) -> tuple[float, int, float] | str:
    imports, body = TOOLS[tool]
    code = TIMED.format(root=str(ROOT), imports=imports, body=body)
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                          text=True, cwd=ROOT)
    if proc.returncode != 0:
        return (proc.stderr.strip().splitlines() or ["failed"])[-1][:90]
    seconds, rows, peak = proc.stdout.split()
    return float(seconds), int(rows), float(peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", type=Path, help="keep the generated files here")
    parser.add_argument("--files", nargs="+", default=["lightning", "generic"])
    parser.add_argument("--streaming", action="store_true",
                        help="also time the streaming parser (slow: ~1 µs a cell)")
    parser.add_argument("--tools", nargs="+", help="only these (names as printed, quoted)")
    args = parser.parse_args()
    tools = [t for t in TOOLS if (t != "nndoctor streaming" or args.streaming)
             and (not args.tools or t in args.tools)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for kind in args.files:
            path = folder / f"{kind}_{args.rows}" / "metrics.csv"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                (write_lightning if kind == "lightning" else write_generic)(path, args.rows)
            size = path.stat().st_size / 1e6
            print(f"{kind}: {args.rows:,} rows, {size:.0f} MB ({path.name})")
            results: dict[str, list[tuple[float, int, float]]] = {t: [] for t in tools}
            failed: dict[str, str] = {}
            for _ in range(max(args.repeats, 3)):
                for tool in tools:  # interleaved: every tool sees the same machine load
                    if tool in failed:
                        continue
                    out = measure(tool, path)
                    if isinstance(out, str):
                        failed[tool] = out
                    else:
                        results[tool].append(out)
            polars = [r[0] for r in results.get("polars.read_csv", [])]
            for tool in tools:
                if tool in failed:
                    print(f"  {tool:<20} not measured ({failed[tool]})")
                    continue
                times = [r[0] for r in results[tool]]
                peaks = [r[2] for r in results[tool]]
                ratio = (f"  {min(times) / min(polars):4.1f}× polars" if polars else "")
                print(f"  {tool:<20} min {min(times):6.2f} s / median "
                      f"{statistics.median(times):6.2f} s  peak RSS {max(peaks):5.0f} MB  "
                      f"{results[tool][0][1]:>10,} rows{ratio}")


if __name__ == "__main__":
    main()
