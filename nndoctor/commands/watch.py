"""`nndoctor watch PATH`: follow logs while training runs; alert when a cause reaches a band.

Logs are re-read only when a file under PATH changed size or mtime; readers keep complete
records only, so a file being written is safe to read. Each (run, cause) alerts once.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from nndoctor.adapters.run import LogError
from nndoctor.pipeline import RunReport, diagnose_run, load_runs
from nndoctor.sanitize import clean

Signature = dict[str, tuple[int, int]]
MAX_INTERVAL = 86_400.0  # seconds; --interval above a day is refused (sleep overflows near 1e10)
EXEC_VALUE_LIMIT = 1000  # characters of a log string passed to --exec (a variable may hold 128 KiB)
EXEC_TIMEOUT = 300.0  # seconds an --exec command may run before watch stops waiting for it


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
        self.path, self.command = path, command
        self.emit: Callable[[str], None] = lambda line: emit(clean(line))  # log text is hostile
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
        skipped: list[LogError] = []
        try:
            runs = load_runs([self.path], skipped=skipped)
        except LogError as exc:  # e.g. a file created but still empty: wait for data
            self.emit(f"waiting: {exc}")
            return 0
        for error in skipped:  # a broken file inside the folder: say so once, watch the rest
            if self.status.get(f"skipped:{error.path}") != str(error):
                self.status[f"skipped:{error.path}"] = str(error)
                self.emit(f"skipped {error}")
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
            self._exec(run=run, cause=cause, band=band, confidence=f"{confidence:.3f}")

    def _exec(self, **values: str) -> None:
        """Run --exec with NNDOCTOR_<NAME> variables: values cleaned (no NUL, no control
        character) and bounded; a command that cannot start, fails or hangs is reported and the
        watch goes on."""
        env = dict(os.environ)
        env.update({f"NNDOCTOR_{k.upper()}": clean(v, EXEC_VALUE_LIMIT) for k, v in values.items()})
        try:
            done = subprocess.run(self.command or "", shell=True, env=env, check=False,
                                  stdin=subprocess.DEVNULL, timeout=EXEC_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.emit(f"      --exec command still running after {EXEC_TIMEOUT:g} s; "
                      "no longer waiting for it")
        except (OSError, ValueError) as exc:
            self.emit(f"      --exec command could not run: {exc}")
        else:
            if done.returncode != 0:
                self.emit(f"      --exec command failed (exit {done.returncode})")


def run_watch(args: argparse.Namespace) -> int:
    if not (math.isfinite(args.interval) and 0 < args.interval <= MAX_INTERVAL):
        raise ValueError(f"--interval must be a number of seconds above 0 and at most "
                         f"{MAX_INTERVAL:g}; got {args.interval:g}")

    def emit(line: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"[{stamp}] {clean(line)}", flush=True)

    watcher = Watcher(args.path, args.alert_on, args.exec_command, emit)
    if args.once:
        return 1 if watcher.check() else 0
    emit(f"watching {args.path} (alert at {args.alert_on} or above; Ctrl-C to stop)")
    last_error = ""
    try:
        watcher.check()  # a path that cannot be watched at all is an error (exit 2)
        while True:
            time.sleep(args.interval)
            try:
                watcher.check()
                last_error = ""
            except Exception as exc:  # the path went away, a file nobody can read, ...:
                from nndoctor.commands.errors import one_line  # say so once, keep watching

                if one_line(exc) != last_error:
                    last_error = one_line(exc)
                    emit(f"waiting: {last_error}")
    except KeyboardInterrupt:
        print(f"stopped; {len(watcher.alerted)} alert(s)", file=sys.stderr)
    return 0
