"""The main job as a library call: logs (+ answers) → one Diagnosis per run."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from nndoctor.adapters.run import LogError, Run
from nndoctor.adapters.symptoms import derive_facts
from nndoctor.engine.diagnosis import Diagnosis
from nndoctor.engine.facts import Fact, FactError
from nndoctor.engine.inference import default_engine
from nndoctor.engine.session import Session

PARALLEL_FROM = 8  # runs; below this a process pool costs more than it saves
# answers the detectors also need as context (the chance level, the accumulation multiple)
CONTEXT_ANSWERS = {"num_classes", "batch_size", "grad_accumulation_steps"}


class RunReport(NamedTuple):
    """One run and its diagnosis."""

    run: Run
    diagnosis: Diagnosis
    id: str = ""  # stable id in a report: the path relative to the PATH given (report/ids.py)


def parse_answers(pairs: Iterable[str]) -> list[Fact]:
    """``FACT=VALUE`` strings → answer facts (validated when the session takes them)."""
    facts = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise FactError(f"--answer {pair!r}: write FACT=VALUE, e.g. hidden_activation=relu")
        facts.append(Fact(name.strip(), value.strip(), 1.0, "answer", "given with --answer"))
    return facts


def diagnose_run(run: Run, answers: Sequence[Fact] = (), questions: int = 3,
                 fixes_for: int | None = None) -> RunReport:
    """Derive facts from the run, add the user's answers (they win), diagnose. With
    ``fixes_for``, only the first that many causes get their fixes (a report showing no more)."""
    engine = default_engine()
    given = {f.name: f.value for f in answers if f.name in CONTEXT_ANSWERS}
    if given:  # e.g. the number of classes sets the chance level the detectors compare with
        run = replace(run, context={**run.context, **given})
    session = Session(engine, derive_facts(run, engine.kb), validated=True)
    session.tell(*answers)
    return RunReport(run, session.diagnose(questions=questions, fixes_for=fixes_for))


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def _diagnose_one(args: tuple[Run, Sequence[Fact], int]) -> RunReport:
    return diagnose_run(*args)


def load_runs(paths: Sequence[Path], overrides: Mapping[str, str] | None = None,
              skipped: list[LogError] | None = None) -> list[Run]:
    """Read every path. Inside a directory a broken file is appended to ``skipped`` (when given)
    and the scan goes on; a file named directly always raises."""
    from nndoctor.adapters.readers import read_path  # readers load only when logs are read

    on_error = skipped.append if skipped is not None else None
    runs: list[Run] = []
    for path in paths:
        runs.extend(read_path(path, metric_overrides=overrides, on_error=on_error))
    return runs


def diagnose_runs(
    runs: Sequence[Run],
    answers: Sequence[Fact] = (),
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    questions: int = 3,
) -> list[RunReport]:
    """Diagnose many runs, in parallel processes when there are enough to pay for it.

    ``jobs`` is the number of worker processes, at most the cores this process may use (None:
    all of them); below 1 it is an error."""
    if jobs is not None and jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    Session(default_engine(), answers)  # validate answers once, before any work
    jobs = min(jobs or usable_cores(), usable_cores(), max(len(runs), 1))
    reports: list[RunReport] = []
    if len(runs) < PARALLEL_FROM or jobs == 1:
        for i, run in enumerate(runs, 1):
            reports.append(diagnose_run(run, answers, questions))
            if progress:
                progress(i, len(runs))
        return reports
    from concurrent.futures import ProcessPoolExecutor  # multiprocessing: only for many runs

    with ProcessPoolExecutor(max_workers=jobs) as pool:
        chunk = max(1, len(runs) // (jobs * 8))
        for i, report in enumerate(pool.map(_diagnose_one, [(r, answers, questions) for r in runs],
                                            chunksize=chunk), 1):
            reports.append(report)
            if progress:
                progress(i, len(runs))
    return reports
