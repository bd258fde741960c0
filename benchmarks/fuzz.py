"""Long fuzz run over every reader and the knowledge-base loader (hypothesis, large budget).

Run: python benchmarks/fuzz.py [--examples 5000]
The targets are the CI fuzz tests (tests/reliability/test_fuzz_*.py) with a bigger budget;
prints how many inputs were tried, whether any ended in something other than a result or a
clean one-line error, the peak RSS of the run and the slowest reader input.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=5000, help="per fuzz target")
    args = parser.parse_args()
    timings = Path(tempfile.mkdtemp()) / "timings.tsv"  # one line per reader input
    env = dict(os.environ, NNDOCTOR_FUZZ_EXAMPLES=str(args.examples),
               NNDOCTOR_FUZZ_TIMINGS=str(timings))
    targets = ["tests/reliability/test_fuzz_readers.py", "tests/reliability/test_fuzz_knowledge.py",
               "tests/adapters"]
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--hypothesis-show-statistics", "-k", "fuzz or bytes or files", *targets],
        cwd=ROOT, env=env, capture_output=True, text=True)
    counts = [re.search(r"(\d+) passing, (\d+) failing", line)
              for line in proc.stdout.splitlines()]
    tried = sum(int(m.group(1)) + int(m.group(2)) for m in counts if m)
    failing = sum(int(m.group(2)) for m in counts if m)
    for line in proc.stdout.splitlines():
        if line.startswith("FAILED") or " passed" in line or " failed" in line:
            print(line)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    slowest = "none"
    if timings.exists():
        rows = [line.split("\t") for line in timings.read_text().splitlines()]
        took, size, name = max(rows, key=lambda r: float(r[0]))
        slowest = f"{float(took) * 1000:.0f} ms ({name}, {int(size):,} bytes)"
        shutil.rmtree(timings.parent, ignore_errors=True)
    print(f"{'ok' if proc.returncode == 0 else 'FAILURES'}: inputs tried: {tried:,}, "
          f"failing: {failing}, peak RSS {peak_mb:.0f} MB, slowest reader input {slowest}, "
          f"{time.perf_counter() - started:.0f} s")
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
