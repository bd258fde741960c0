"""How fast `nndoctor ask` starts: time from process start to the first screen, and to the first
question (knowledge base loaded, first diagnosis ranked).

Each sample is a fresh Python process that builds the app exactly as `nndoctor ask [PATH]` does
and runs it headless at 80×24; the parent times from spawning the process to each line the child
prints. Also reports the bare import time of the app modules.

    python benchmarks/tui_startup.py [--log examples/overfitting] [--runs 5] [--c-yaml]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import asyncio, sys
from pathlib import Path

if sys.argv[2] == "c-yaml":  # what the knowledge base would cost with libyaml's CSafeLoader
    import yaml
    yaml.safe_load = lambda text: yaml.load(text, Loader=yaml.CSafeLoader)

from nndoctor.commands.ask import build_app

path = Path(sys.argv[1]) if sys.argv[1] else None
app = build_app(path, None)

async def main():
    async with app.run_test(size=(80, 24)) as pilot:
        print("screen", flush=True)  # run_test yields once the first screen is mounted
        while not app.ready:
            await pilot.pause(0.005)
        await pilot.pause()
        print("question", flush=True)

asyncio.run(main())
"""

IMPORT = "import nndoctor.commands.ask, nndoctor.tui.app"


def sample(log: str, c_yaml: bool = False) -> dict[str, float]:
    """One process: seconds from spawn to each milestone it prints."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", CHILD, log, "c-yaml" if c_yaml else "-"],
                             stdout=subprocess.PIPE, text=True)
    times: dict[str, float] = {}
    assert child.stdout is not None
    for line in child.stdout:
        times[line.strip()] = time.perf_counter() - start
    if child.wait() != 0:
        raise SystemExit("the app failed to start")
    times["exit"] = time.perf_counter() - start
    return times


def import_time() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", IMPORT], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, help="a log to open, as in `nndoctor ask PATH`")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--c-yaml", action="store_true",
                        help="simulate loading the knowledge base with yaml.CSafeLoader")
    args = parser.parse_args()
    log = str(args.log) if args.log else ""
    sample(log)  # warm the file cache and .pyc files
    samples = [sample(log, args.c_yaml) for _ in range(args.runs)]
    baseline = statistics.median(_bare() for _ in range(3))
    variant = " (knowledge base read with CSafeLoader)" if args.c_yaml else ""
    print(f"nndoctor ask {log or '(no log)'}{variant} — median of {args.runs} runs, 80×24")
    print(f"  python -c pass                     {baseline * 1000:7.0f} ms")
    print(f"  import the app modules             {import_time() * 1000:7.0f} ms")
    for key, label in (("screen", "first screen shown"), ("question", "first question ready")):
        values = [s[key] for s in samples]
        print(f"  process start → {label:<19}{statistics.median(values) * 1000:7.0f} ms "
              f"(min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f})")


def _bare() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
