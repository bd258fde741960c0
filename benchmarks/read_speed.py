"""Reading speed and memory: nndoctor vs tbparse vs TensorBoard's EventAccumulator, side by side,
on a 1,000,000-point event file (10 tags × 100k steps); end-to-end `nndoctor diagnose` on it next
to the Rust ``tensorboard-data-server`` loading the same folder (start to "Finished load cycle",
every scalar kept); and a 1,000-run sweep directory diagnosed in parallel.

Run in the benchmark environment (tbparse and tensorboard are installed there only):
    pip install -e '.[bench,fast]' && python benchmarks/read_speed.py
Each measurement runs in a fresh subprocess so peak RSS is that tool's alone; the end-to-end
pair is repeated ``--repeats`` times, interleaved (min / median). ``--sweep 0`` skips the sweep.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
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


def data_server() -> Path | None:
    """The Rust server binary of the ``tensorboard-data-server`` package, if installed."""
    try:
        import tensorboard_data_server
    except ImportError:
        return None
    binary = Path(tensorboard_data_server.__file__).parent / "bin" / "server"
    return binary if binary.is_file() else None


def load_with_server(binary: Path, logdir: Path) -> tuple[float, str]:
    """Seconds from starting the server to the end of its first load cycle (all scalars)."""
    start = time.perf_counter()
    proc = subprocess.Popen([str(binary), "--logdir", str(logdir), "--port", "0", "--reload",
                             "once", "--samples-per-plugin", "scalars=all", "-v"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:
            if "Finished load cycle" in line:
                return time.perf_counter() - start, line.rsplit("(", 1)[-1].rstrip(")\n")
    finally:
        proc.kill()
        proc.wait()
    return float("nan"), "no load cycle reported"


def make_sweep(root: Path, runs: int) -> None:
    examples = Path(__file__).resolve().parents[1] / "examples"
    sources = [p for p in examples.iterdir() if p.is_dir()]
    for i in range(runs):
        shutil.copytree(sources[i % len(sources)], root / f"run_{i:04d}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--sweep", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
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
        server = data_server()
        ours, theirs, info = [], [], ""
        for _ in range(max(args.repeats, 3)):  # interleaved: both see the same machine load
            seconds, info = command(nndoctor)
            ours.append(seconds)
            if server is not None:
                theirs.append(load_with_server(server, run_dir)[0])
        print(f"{'nndoctor diagnose':<18} min {min(ours):5.2f} s / median "
              f"{statistics.median(ours):5.2f} s  end to end ({info})")
        if theirs:
            print(f"{'tensorboard-data-server':<18} min {min(theirs):5.2f} s / median "
                  f"{statistics.median(theirs):5.2f} s  start to first load cycle (Rust)")
        else:
            print("tensorboard-data-server not measured (pip install tensorboard-data-server)")

        if not args.sweep:
            return
        sweep = Path(tmp) / "sweep"
        make_sweep(sweep, args.sweep)
        for jobs in (1, 2):
            seconds, info = command([sys.executable, "-m", "nndoctor", "diagnose", str(sweep),
                                     "--format", "json", "--jobs", str(jobs), "--top", "1"])
            print(f"sweep of {args.sweep} runs, --jobs {jobs}: {seconds:6.1f} s ({info})")


if __name__ == "__main__":
    main()
