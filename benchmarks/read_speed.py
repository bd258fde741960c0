"""Reading speed and memory: nndoctor vs tbparse vs TensorBoard's EventAccumulator, side by side,
on a 1,000,000-point event file (10 tags × 100k steps); end-to-end `nndoctor diagnose` on it;
and a 1,000-run sweep directory diagnosed in parallel.

Run in the benchmark environment (tbparse and tensorboard are installed there only):
    pip install -e '.[bench,fast]' && python benchmarks/read_speed.py
Each measurement runs in a fresh subprocess so peak RSS is that tool's alone.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _eventfile import write_event_file

READERS = {  # (imports, timed work); imports are not timed
    "nndoctor": ("from nndoctor.adapters.readers import read_path", """
runs = read_path(PATH)
n = sum(len(s) for r in runs for s in r.series.values())
"""),
    "tbparse": ("from tbparse import SummaryReader", """
df = SummaryReader(PATH).scalars
n = len(df)
"""),
    "EventAccumulator": (
        "from tensorboard.backend.event_processing.event_accumulator import EventAccumulator", """
acc = EventAccumulator(PATH, size_guidance={'scalars': 0})
acc.Reload()
n = sum(len(acc.Scalars(t)) for t in acc.Tags()['scalars'])
"""),
}
TIMED = """
import resource, sys, time
{imports}
PATH = sys.argv[1]
t = time.perf_counter()
{body}
dt = time.perf_counter() - t
print(f"{{dt:.3f}} {{n}} {{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}}")
"""


def measure(name: str, path: Path) -> str:
    imports, body = READERS[name]
    code = TIMED.format(imports=imports, body=body)
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        return f"{name:<18} not measured ({last[:80]})"
    seconds, points, peak = proc.stdout.split()
    return f"{name:<18} {float(seconds):7.2f} s  {int(points):>9} points  peak RSS {peak:>5} MB"


def command(args: list[str]) -> tuple[float, str]:
    code = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
            "p = subprocess.run(sys.argv[1:], capture_output=True); dt = time.perf_counter() - t; "
            "print(f'{dt:.3f} {p.returncode} "
            "{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f}')")
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    seconds, rc, peak = out.stdout.split()
    return float(seconds), f"exit {rc}, peak RSS {peak} MB"


def make_sweep(root: Path, runs: int) -> None:
    examples = Path(__file__).resolve().parents[1] / "examples"
    sources = [p for p in examples.iterdir() if p.is_dir()]
    for i in range(runs):
        shutil.copytree(sources[i % len(sources)], root / f"run_{i:04d}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--sweep", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "big"
        run_dir.mkdir()
        path = run_dir / "events.out.tfevents.1700000000.bench"
        points = write_event_file(path, steps=args.steps)
        print(f"event file: {points:,} points, {path.stat().st_size / 2**20:.1f} MB")
        for name in READERS:
            print(measure(name, run_dir))
        nndoctor = [sys.executable, "-m", "nndoctor", "diagnose", str(run_dir), "--format", "json"]
        seconds, info = command(nndoctor)
        print(f"{'nndoctor diagnose':<18} {seconds:7.2f} s  end to end ({info})")

        sweep = Path(tmp) / "sweep"
        make_sweep(sweep, args.sweep)
        for jobs in (1, 2):
            seconds, info = command([sys.executable, "-m", "nndoctor", "diagnose", str(sweep),
                                     "--format", "json", "--jobs", str(jobs), "--top", "1"])
            print(f"sweep of {args.sweep} runs, --jobs {jobs}: {seconds:6.1f} s ({info})")


if __name__ == "__main__":
    main()
