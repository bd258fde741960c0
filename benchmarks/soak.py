"""Soak: many full diagnoses in one process (log → facts → engine → report) and engine sessions
from several threads; prints RSS growth. Issue #7 target: no crash, RSS growth < 20 MB.

Run: python benchmarks/soak.py [--diagnoses 10000] [--threads 4 --sessions 2500]
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

import numpy as np

from nndoctor.adapters.run import Run, Series
from nndoctor.engine.facts import Fact
from nndoctor.engine.inference import default_engine
from nndoctor.engine.session import Session
from nndoctor.pipeline import diagnose_run
from nndoctor.report import render


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20


def synthetic_runs(count: int) -> list[Run]:
    rng = np.random.default_rng(0)
    steps = np.arange(0, 2000, 10)
    runs = []
    for i in range(count):
        kind = i % 4
        loss = 2.3 * np.exp(-steps / rng.uniform(200, 800)) + 0.1 + rng.normal(0, 0.03, steps.size)
        if kind == 1:
            loss[150:] = np.nan
        elif kind == 2:
            loss = np.full(steps.size, np.log(10)) + rng.normal(0, 0.01, steps.size)
        val = loss[::10] + (0.002 * np.arange(steps[::10].size) ** 1.5 if kind == 3 else 0.05)
        runs.append(Run(f"run{i}", Path(f"run{i}"), "synthetic",
                        {"train_loss": Series.from_pairs(steps, loss),
                         "val_loss": Series.from_pairs(steps[::10], val)}, {"num_classes": 10}))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--diagnoses", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--sessions", type=int, default=2_500, help="per thread")
    args = parser.parse_args()
    runs = synthetic_runs(64)
    for run in runs:  # warm-up: caches, allocator, durable rulesets
        render([diagnose_run(run)], "json")
    before, started = rss_mb(), time.perf_counter()
    verdicts: dict[str, int] = {}
    for i in range(args.diagnoses):
        report = diagnose_run(runs[i % len(runs)], questions=1)
        render([report], "json")
        verdicts[report.diagnosis.verdict] = verdicts.get(report.diagnosis.verdict, 0) + 1
    print(f"{args.diagnoses} diagnoses (read→facts→engine→question→JSON) in "
          f"{time.perf_counter() - started:.1f} s; RSS growth {rss_mb() - before:+.1f} MB; "
          f"verdicts {verdicts}")

    engine = default_engine()
    facts = [Fact("loss_nonfinite", True), Fact("nonfinite_early", True), Fact("lr", 0.5)]
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(args.sessions):
                Session(engine, facts).diagnose(questions=0)
        except BaseException as exc:  # reported below
            errors.append(exc)

    before, started = rss_mb(), time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"{args.threads} threads × {args.sessions} engine sessions in "
          f"{time.perf_counter() - started:.1f} s; {len(errors)} errors; "
          f"RSS growth {rss_mb() - before:+.1f} MB")


if __name__ == "__main__":
    main()
