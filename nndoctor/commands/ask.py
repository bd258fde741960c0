"""`nndoctor ask [PATH] [--resume FILE]`: the interactive interview (Textual, imported lazily).

Bad input (a PATH that holds no log, a file that is not a saved session) is found before the
terminal UI starts and raised as a one-line error (exit 2).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nndoctor.adapters.run import Run

if TYPE_CHECKING:
    from nndoctor.engine.session import Session
    from nndoctor.tui.app import NNDoctorApp


def _first_run(path: Path) -> tuple[Run, list[str]]:
    from nndoctor.pipeline import load_runs

    runs = load_runs([path])
    if not runs:
        raise ValueError(f"{path}: no training log found")
    notices = [f"{path}: {len(runs)} runs found; showing {runs[0].name} "
               "(give a run's own path to pick another)"] if len(runs) > 1 else []
    return runs[0], notices


def session_factory(run: Run | None, saved: dict[str, Any] | None) -> Callable[[], Session]:
    """Build the Session later (in the app's worker): saved answers, then the log's facts."""

    def build() -> Session:
        from nndoctor.adapters.symptoms import derive_facts
        from nndoctor.engine.inference import default_engine
        from nndoctor.engine.session import Session
        from nndoctor.tui.state import merge_log_facts

        engine = default_engine()
        session = Session.from_dict(saved, engine) if saved is not None else Session(engine)
        if run is not None:
            merge_log_facts(session, derive_facts(run, engine.kb))
        return session

    return build


def build_app(path: Path | None, resume: Path | None) -> NNDoctorApp:
    """Read the inputs (errors raise before any UI) and make the app."""
    from nndoctor.sanitize import clean
    from nndoctor.tui.files import read_saved, saved_log

    saved = read_saved(resume) if resume is not None else None
    run, notices = _first_run(path) if path is not None else (None, [])
    fresh = run is not None  # a log given now replaces the saved session's log facts
    if run is None and saved is not None and saved.get("log"):
        try:
            log = saved_log(saved)
            run = _first_run(log)[0] if log is not None else None
        except ValueError as exc:  # a system folder: never scanned on the saved file's word
            notices.append(f"{clean(exc)}; no curves")
        except Exception:  # the saved facts stand on their own; only the curves are lost
            notices.append(f"{clean(saved['log'])}: the saved session's log is gone; no curves")

    from nndoctor.tui.app import NNDoctorApp

    # The session (knowledge base: most of the start-up time) is built in a worker once the
    # first screen is up; starting it earlier only makes both wait on the GIL.
    return NNDoctorApp(session_factory(run if fresh else None, saved), run, notices=notices)


def run_ask(args: argparse.Namespace) -> int:
    app = build_app(args.path, args.resume)
    app.run()
    if app.error:
        raise ValueError(app.error)
    return 0
