"""Long fuzz run over every reader and the knowledge-base loader (hypothesis, large budget).

Run: python benchmarks/fuzz.py [--examples 5000]
The targets are the CI fuzz tests (tests/reliability/test_fuzz_*.py) with a bigger budget;
prints how many inputs were tried and whether any ended in something other than a result or
a clean one-line error.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=5000, help="per fuzz target")
    args = parser.parse_args()
    env = dict(os.environ, NNDOCTOR_FUZZ_EXAMPLES=str(args.examples))
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
    print(f"{'ok' if proc.returncode == 0 else 'FAILURES'}: inputs tried: {tried:,}, "
          f"failing: {failing}, "
          f"{time.perf_counter() - started:.0f} s")
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
