"""Many runs with a symlink loop; files still being written; watch alerts on a growing log."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from nndoctor.adapters.readers import read_path
from nndoctor.commands.watch import Watcher
from nndoctor.pipeline import diagnose_runs


def _jsonl(path: Path, steps: range, loss) -> None:
    with path.open("a") as fh:
        for step in steps:
            fh.write(json.dumps({"step": step, "train_loss": loss(step)}) + "\n")


def test_many_runs_and_a_symlink_loop_are_walked_once(tmp_path):
    for i in range(300):
        run = tmp_path / f"sweep/run_{i:03d}"
        run.mkdir(parents=True)
        _jsonl(run / "metrics.jsonl", range(0, 200, 10), lambda s, i=i: 2.3 * math.exp(-s / 50))
    os.symlink(tmp_path / "sweep", tmp_path / "sweep" / "run_000" / "loop")
    runs = read_path(tmp_path / "sweep")
    assert len(runs) == 300
    reports = diagnose_runs(runs, jobs=2)
    assert {r.diagnosis.verdict for r in reports} <= {"healthy", "problem", "insufficient-data"}


def test_a_half_written_jsonl_line_is_ignored_with_a_warning(tmp_path):
    log = tmp_path / "metrics.jsonl"
    _jsonl(log, range(0, 100, 10), lambda s: 2.0 - s / 100)
    with log.open("a") as fh:
        fh.write('{"step": 100, "train_lo')  # the writer is mid-line
    [run] = read_path(log)
    assert len(run.series["train_loss"]) == 10
    assert any("incomplete" in w for w in run.warnings)


def test_watch_alerts_once_when_a_live_run_blows_up(tmp_path):
    log = tmp_path / "run" / "metrics.jsonl"
    log.parent.mkdir()
    _jsonl(log, range(0, 300, 10), lambda s: 2.3 * math.exp(-s / 100) + 0.1)
    lines: list[str] = []
    watcher = Watcher(log.parent, "possible", None, lines.append)
    assert watcher.check() == 0
    assert watcher.check() == 0  # nothing changed: nothing re-read
    _jsonl(log, range(300, 330, 10), lambda s: float("nan"))
    assert watcher.check() >= 1
    assert any(line.startswith("ALERT") for line in lines)
    count = len([line for line in lines if line.startswith("ALERT")])
    _jsonl(log, range(340, 360, 10), lambda s: float("nan"))
    watcher.check()
    assert len([line for line in lines if line.startswith("ALERT")]) == count  # no repeats
