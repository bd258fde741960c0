"""`nndoctor watch PATH`: follow logs while training runs; alert when a cause reaches a band.

Logs are re-read only when a file under PATH changed size or mtime; readers keep complete
records only, so a file being written is safe to read. Each (run, cause) alerts once.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from nndoctor.adapters.run import LogError
from nndoctor.pipeline import RunReport, diagnose_run, load_runs

Signature = dict[str, tuple[int, int]]


def signature(path: Path) -> Signature:
    """Size and mtime of every file under ``path`` (symlinked directories are not followed)."""
    files: Signature = {}
    if path.is_file():
        st = path.stat()
        return {str(path): (st.st_size, st.st_mtime_ns)}
    for root, _dirs, names in os.walk(path, followlinks=False):
        for name in names:
            full = os.path.join(root, name)
            try:
                st = os.stat(full)
            except OSError:
                continue
            files[full] = (st.st_size, st.st_mtime_ns)
    return files


def alerts(report: RunReport, floor: str) -> list[tuple[str, float, str]]:
    """(cause id, confidence, band) of causes at or above the alert band, as the verdict has it."""
    return [(c.id, c.confidence, c.band or "") for c in report.diagnosis.alarming(floor)]


class Watcher:
    """Re-diagnoses changed logs and reports new alerts through ``emit``."""

    def __init__(self, path: Path, alert_on: str, command: str | None,
                 emit: Callable[[str], None]) -> None:
        self.path, self.command, self.emit = path, command, emit
        self.floor = alert_on
        self.last: Signature = {}
        self.alerted: set[tuple[str, str]] = set()
        self.status: dict[str, str] = {}

    def check(self) -> int:
        """One pass; returns the number of new alerts."""
        if not self.path.exists():
            raise LogError(self.path, "no such file or directory")
        current = signature(self.path)
        if current == self.last:
            return 0
        self.last = current
        try:
            runs = load_runs([self.path])
        except LogError as exc:  # e.g. a file created but still empty: wait for data
            self.emit(f"waiting: {exc}")
            return 0
        new = 0
        for run in runs:
            report = diagnose_run(run, questions=0)
            verdict = report.diagnosis.verdict
            top = report.diagnosis.causes[0] if report.diagnosis.causes else None
            line = f"{run.name}: {verdict}"
            if top:
                line += f", top {top.id} {top.confidence:.2f}"
            if self.status.get(run.name) != line:
                self.status[run.name] = line
                self.emit(line)
            for cause, confidence, band in alerts(report, self.floor):
                if (run.name, cause) in self.alerted:
                    continue
                self.alerted.add((run.name, cause))
                new += 1
                self._alert(run.name, cause, confidence, band, report)
        return new

    def _alert(self, run: str, cause: str, confidence: float, band: str,
               report: RunReport) -> None:
        ranked = report.diagnosis.cause(cause)
        first_fix = ranked.fixes[0].action if ranked and ranked.fixes else ""
        evidence = ranked.evidence_lines()[0] if ranked and ranked.evidence_lines() else ""
        self.emit(f"ALERT {run}: {cause} ({band}, {confidence:.2f}) {evidence}")
        if first_fix:
            self.emit(f"      first fix: {first_fix}")
        if self.command:
            env = dict(os.environ, NNDOCTOR_RUN=run, NNDOCTOR_CAUSE=cause,
                       NNDOCTOR_BAND=band, NNDOCTOR_CONFIDENCE=f"{confidence:.3f}")
            subprocess.run(self.command, shell=True, env=env, check=False)


def run_watch(args: argparse.Namespace) -> int:
    if args.interval <= 0:
        raise ValueError("--interval must be positive")

    def emit(line: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"[{stamp}] {line}", flush=True)

    watcher = Watcher(args.path, args.alert_on, args.exec_command, emit)
    if args.once:
        return 1 if watcher.check() else 0
    emit(f"watching {args.path} (alert at {args.alert_on} or above; Ctrl-C to stop)")
    try:
        while True:
            watcher.check()
            time.sleep(args.interval)
    except KeyboardInterrupt:
        print(f"stopped; {len(watcher.alerted)} alert(s)", file=sys.stderr)
    return 0
