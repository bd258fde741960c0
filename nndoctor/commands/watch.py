"""`nndoctor watch PATH`: follow logs while training runs; alert when a cause reaches a band.

Logs are re-read only when a file under PATH changed size or mtime; readers keep complete
records only, so a file being written is safe to read. Each (run, cause) alerts once. Causes
that rest on the shape of the curves come from detectors that need their minimum number of
points (``min_points`` in detectors.yaml), so a run with a handful of points raises none of them;
a cause that judges where training stopped (``judged_at_end`` in its YAML: "not trained long
enough") is held back until its run has ended.

With ``--until-done`` the watch stops once every run has ended - its log says so
(``Run.context["ended"]``: the Hugging Face summary, an MLflow status, …) or no file under PATH
changed for ``--idle`` seconds - alerts what it held back, prints the final report (the one
``nndoctor diagnose`` prints) and exits per ``--fail-on``.
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

from nndoctor.adapters.run import LogError, Run
from nndoctor.engine.diagnosis import RankedCause
from nndoctor.pipeline import RunReport, diagnose_run, load_runs
from nndoctor.sanitize import clean

Signature = dict[str, tuple[int, int]]
MAX_INTERVAL = 86_400.0  # seconds; --interval above a day is refused (sleep overflows near 1e10)
DEFAULT_IDLE = 600.0  # seconds without a change after which --until-done counts a run as ended
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


def judged_at_end() -> frozenset[str]:
    """Causes whose YAML marks them as a judgement about where training stopped."""
    from nndoctor.engine.inference import default_engine

    return frozenset(c.id for c in default_engine().kb.causes.values() if c.judged_at_end)


class Watcher:
    """Re-diagnoses changed logs and reports new alerts through ``emit``."""

    def __init__(self, path: Path, alert_on: str, command: str | None,
                 emit: Callable[[str], None], *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path, self.command = path, command
        self.emit: Callable[[str], None] = lambda line: emit(clean(line))  # log text is hostile
        self.floor = alert_on
        self.clock = clock
        self.last: Signature = {}
        self.last_change = clock()  # when a file under PATH last changed (or the watch began)
        self.alerted: set[tuple[str, str]] = set()
        self.status: dict[str, str] = {}
        self.reports: dict[str, RunReport] = {}  # the latest diagnosis of every run seen
        self.ended: dict[str, str] = {}  # run -> how its log says training ended
        self.at_end = judged_at_end()

    def check(self) -> int:
        """One pass; returns the number of new alerts."""
        if not self.path.exists():
            raise LogError(self.path, "no such file or directory")
        current = signature(self.path)
        if current == self.last:
            return 0
        self.last = current
        self.last_change = self.clock()
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
            self.reports[run.name] = report
            self._note_end(run)
            new += self._judge(run.name, report)
        return new

    def _note_end(self, run: Run) -> None:
        how = run.context.get("ended")
        if isinstance(how, str) and how and run.name not in self.ended:
            self.ended[run.name] = how
            self.emit(f"{run.name}: training ended ({how})")

    def _judge(self, name: str, report: RunReport) -> int:
        """Status line and alerts of one run; causes judged at the end wait for it."""
        running = name not in self.ended
        causes = report.diagnosis.causes
        held = [c.id for c in report.diagnosis.alarming(self.floor)
                if running and c.id in self.at_end]
        top = next((c for c in causes if not (running and c.id in self.at_end)), None)
        line = f"{name}: {report.diagnosis.verdict}"
        if top:
            line += f", top {top.id} {top.confidence:.2f}"
        if held:
            line += f"; judged once training ends: {', '.join(held)}"
        if self.status.get(name) != line:
            self.status[name] = line
            self.emit(line)
        new = 0
        for cause in report.diagnosis.alarming(self.floor):
            if (name, cause.id) in self.alerted or cause.id in held:
                continue
            self.alerted.add((name, cause.id))
            new += 1
            self._alert(name, cause)
        return new

    def done(self, idle: float) -> str | None:
        """Why the watch may stop (every run ended, or PATH idle for ``idle`` seconds), or None."""
        if self.reports and all(name in self.ended for name in self.reports):
            return "every run's log says training ended"
        quiet = self.clock() - self.last_change
        if quiet >= idle:
            return f"no file under {self.path} changed for {quiet:.0f} s (--idle {idle:g})"
        return None

    def conclude(self) -> int:
        """Training is over: every run counts as ended; alert what was held back."""
        new = 0
        for name, report in self.reports.items():
            self.ended.setdefault(name, "idle")
            new += self._judge(name, report)
        return new

    def _alert(self, run: str, ranked: RankedCause) -> None:
        first_fix = ranked.fixes[0].action if ranked.fixes else ""
        lines = ranked.evidence_lines()
        evidence = lines[0] if lines else ""
        band = ranked.band or ""
        self.emit(f"ALERT {run}: {ranked.id} ({band}, {ranked.confidence:.2f}) {evidence}")
        if first_fix:
            self.emit(f"      first fix: {first_fix}")
        if self.command:
            self._exec(run=run, cause=ranked.id, band=band,
                       confidence=f"{ranked.confidence:.3f}")

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


def _seconds(value: float, option: str) -> float:
    if not (math.isfinite(value) and 0 < value <= MAX_INTERVAL):
        raise ValueError(f"{option} must be a number of seconds above 0 and at most "
                         f"{MAX_INTERVAL:g}; got {value:g}")
    return value


def _check_options(args: argparse.Namespace) -> float:
    """Validate the options; returns the --idle seconds."""
    _seconds(args.interval, "--interval")
    until_done = getattr(args, "until_done", False)
    if until_done and args.once:
        raise ValueError("--once and --until-done exclude each other: --once checks once, "
                         "--until-done follows the run to its end")
    given = [flag for flag, value in (("--idle", getattr(args, "idle", None)),
                                      ("--fail-on", getattr(args, "fail_on", None)))
             if value is not None]
    if given and not until_done:
        verb = "are" if len(given) > 1 else "is"
        raise ValueError(f"{' and '.join(given)} {verb} only used with --until-done")
    if getattr(args, "top", 5) < 1:
        raise ValueError("--top must be at least 1")
    idle = getattr(args, "idle", None)
    return DEFAULT_IDLE if idle is None else _seconds(idle, "--idle")


def final_report(args: argparse.Namespace) -> int:
    """The report `nndoctor diagnose PATH` prints, with its exit code for --fail-on."""
    from nndoctor.commands.diagnose import run_diagnose

    return run_diagnose(argparse.Namespace(
        paths=[args.path], answer=[], metric=[], format="text", output=None, plot=None,
        top=getattr(args, "top", 5), fail_on=getattr(args, "fail_on", None), jobs=1,
        no_progress=True, questions=None, explain=False))


def run_watch(args: argparse.Namespace) -> int:
    idle = _check_options(args)

    def emit(line: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"[{stamp}] {clean(line)}", flush=True)

    watcher = Watcher(args.path, args.alert_on, args.exec_command, emit)
    if args.once:
        return 1 if watcher.check() else 0
    until_done = getattr(args, "until_done", False)
    end = f"until every run has ended or {idle:g} s pass without a change" if until_done \
        else "Ctrl-C to stop"
    emit(f"watching {args.path} (alert at {args.alert_on} or above; {end})")
    last_error = ""
    try:
        watcher.check()  # a path that cannot be watched at all is an error (exit 2)
        while True:
            reason = watcher.done(idle) if until_done else None
            if reason is not None:
                return _finish(watcher, reason, args, emit)
            time.sleep(args.interval)
            try:
                watcher.check()
                last_error = ""
            except BrokenPipeError:
                raise
            except Exception as exc:  # the path went away, a file nobody can read, ...:
                from nndoctor.commands.errors import one_line  # say so once, keep watching

                if one_line(exc) != last_error:
                    last_error = one_line(exc)
                    emit(f"waiting: {last_error}")
    except KeyboardInterrupt:
        print(f"stopped; {len(watcher.alerted)} alert(s)", file=sys.stderr)
    return 0


def _finish(watcher: Watcher, reason: str, args: argparse.Namespace,
            emit: Callable[[str], None]) -> int:
    if not watcher.reports:
        raise LogError(args.path, f"no training log found ({reason})")
    emit(f"done: {reason}")
    watcher.conclude()
    emit(f"final diagnosis of {args.path}:")
    sys.stdout.write("\n")
    return final_report(args)
