"""Sweep and start-up benchmark (issue #13): each figure next to its peer, min/median of repeats.

* 1k and 10k mixed-format run folders (copies of examples/: TensorBoard, Lightning CSV, Keras,
  MLflow, console logs...): runs/s and peak RSS for ``--jobs 1`` and ``--jobs 2``, side by side.
* start-up: a small ``nndoctor diagnose`` (one example, JSON) next to ``python -c "import numpy"``.

Run: python benchmarks/sweep_bench.py [--sizes 1000 10000] [--repeats 3]
Peak RSS is the largest single process (the parent or one worker: ru_maxrss of the children).
The knowledge-base cache is warm after the first repeat (it lives in the user cache dir).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
TIMED = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
         "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE); "
         "dt = time.perf_counter() - t; "
         "print(dt, p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)")


# as users run it: with bytecode caching (some sandboxes set PYTHONDONTWRITEBYTECODE, and then
# every start compiles nndoctor's ~70 modules again, ~60 ms)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(args: list[str]) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", TIMED, *args], capture_output=True, text=True,
                         env=ENV, cwd=ROOT)
    seconds, rc, peak = out.stdout.split()
    if rc != "0":
        raise SystemExit(f"{' '.join(args)}: exit {rc}")
    return float(seconds), float(peak)


def make_sweep(root: Path, runs: int) -> None:
    sources = sorted(p for p in EXAMPLES.iterdir() if p.is_dir())
    for i in range(runs):
        shutil.copytree(sources[i % len(sources)], root / f"run_{i:05d}")


def figure(values: list[float], unit: str, fmt: str = "{:.2f}") -> str:
    return f"min {fmt.format(min(values))} / median {fmt.format(statistics.median(values))} {unit}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    nnd = [sys.executable, "-m", "nndoctor", "diagnose"]

    small = str(EXAMPLES / "healthy")
    timed([*nnd, small, "--format", "json"])  # warm the KB cache
    starts: dict[str, list[float]] = {"nndoctor diagnose (1 run, json)": [],
                                      "nndoctor diagnose (1 run, text)": [],
                                      'python -c "import numpy"': []}
    for _ in range(max(args.repeats, 3)):  # interleaved: both see the same machine load
        json_run, text_run, numpy = starts.values()
        json_run.append(timed([*nnd, small, "--format", "json"])[0])
        text_run.append(timed([*nnd, small])[0])
        numpy.append(timed([sys.executable, "-c", "import numpy"])[0])
    print("start-up (wall):")
    for name, values in starts.items():
        print(f"  {name:<34} {figure([v * 1000 for v in values], 'ms', '{:.0f}')}")

    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            root = Path(tmp) / f"sweep{size}"
            make_sweep(root, size)
            print(f"{size} runs ({len({p.name for p in EXAMPLES.iterdir() if p.is_dir()})} "
                  "formats mixed), --format json --top 1:")
            rows: dict[int, tuple[list[float], list[float]]] = {1: ([], []), 2: ([], [])}
            for _ in range(args.repeats):
                for jobs in (1, 2):  # interleaved
                    seconds, peak = timed([*nnd, str(root), "--format", "json", "--top", "1",
                                           "--jobs", str(jobs), "--no-progress"])
                    rows[jobs][0].append(size / seconds)
                    rows[jobs][1].append(peak)
            for jobs, (rates, peaks) in rows.items():
                print(f"  --jobs {jobs}: {figure(rates, 'runs/s', '{:.0f}')}; peak RSS "
                      f"{figure(peaks, 'MB', '{:.0f}')}")
            shutil.rmtree(root)


if __name__ == "__main__":
    main()
