"""Long fuzz run over every reader and the knowledge-base loader (hypothesis, large budget).

Run: python benchmarks/fuzz.py [--examples 5000]
The targets are the CI fuzz tests (tests/reliability/test_fuzz_*.py) with a bigger budget;
prints how many inputs were tried and whether any ended in something other than a result or
a clean one-line error.
"""

from __future__ import annotations

import argparse
import os
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
    targets = ["tests/reliability/test_fuzz_readers.py", "tests/adapters"]
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--hypothesis-show-statistics", "-k", "fuzz or bytes or files", *targets],
        cwd=ROOT, env=env, capture_output=True, text=True)
    tried = sum(int(line.split("passing examples")[0].split()[-1])
                for line in proc.stdout.splitlines() if "passing examples" in line)
    failing = sum(int(line.split("failing examples")[0].split()[-1])
                  for line in proc.stdout.splitlines() if "failing examples" in line)
    lines = proc.stdout.strip().splitlines()
    print("\n".join(line for line in lines if "examples" in line or "::" in line))
    print(lines[-1] if lines else proc.stderr.strip()[-500:])
    print(f"inputs tried: {tried:,} passing, {failing} failing, "
          f"{time.perf_counter() - started:.0f} s")
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
