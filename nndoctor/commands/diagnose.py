"""`nndoctor diagnose PATH…`: read logs, derive symptoms, rank causes, print a report.

The work runs in nndoctor/sweep.py: the folders are planned here, read and diagnosed in worker
processes (one at a time when there are few), and the report is written from a spill file, so
memory stays flat in the number of runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nndoctor.adapters.run import LogError
from nndoctor.sanitize import clean

SHOWS_QUESTIONS = ("text", "markdown", "html")  # formats that print the follow-up questions


def _progress(done: int, total: int) -> None:
    width = 30
    filled = int(width * done / total)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} runs")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def run_diagnose(args: argparse.Namespace) -> int:
    from nndoctor.adapters.names import parse_metric_overrides
    from nndoctor.pipeline import parse_answers, usable_cores
    from nndoctor.sweep import STREAMED, Options, plan, run_sweep
    from nndoctor.workers import Workers

    if args.top < 1:
        raise ValueError("--top must be at least 1")
    if args.jobs is not None and args.jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {args.jobs} "
                         "(leave it out to use every core)")
    questions = getattr(args, "questions", None)
    if questions is not None and questions < 0:
        raise ValueError(f"--questions must be 0 or more, got {questions}")
    answers = parse_answers(args.answer)
    if answers:  # validated once, before any work
        from nndoctor.engine.facts import validate_fact
        from nndoctor.knowledge.loader import builtin_knowledge_base

        facts = builtin_knowledge_base().facts
        for fact in answers:
            validate_fact(fact, facts)
    overrides = parse_metric_overrides(args.metric)
    skipped: list[LogError] = []

    def skip(error: LogError) -> None:
        skipped.append(error)
        print(f"nndoctor: skipped {clean(error)}", file=sys.stderr)

    scheduler = getattr(args, "scheduler", None)
    # started by the planning of a large folder (they detect its readers) or by run_sweep
    workers = None if scheduler else Workers(min(args.jobs or usable_cores(), usable_cores()))
    try:
        tasks, ready = plan(args.paths, skip, where_run=bool(scheduler), workers=workers)
        if questions is None:  # shown only where read: one log (or run folder) as a report
            single = len(tasks) + len(ready) == 1
            questions = 3 if single and args.format in SHOWS_QUESTIONS else 0
        look = {}
        if args.format == "text":  # the width and colours of where the report goes
            from nndoctor.report.terminal import style_for

            style = style_for(None if args.output else sys.stdout, args.explain)
            look = {"width": style.width, "color": style.color, "explain": style.explain}
        options = Options(args.format, args.top, questions, tuple(answers),
                          tuple(sorted(overrides.items())) if overrides else (), args.fail_on,
                          keep_reports=args.format not in STREAMED or bool(args.plot), **look)
        if workers is not None and not workers.started:
            workers.jobs = min(workers.jobs, max(len(tasks), 1))
        show_progress = len(tasks) > 1 and not args.no_progress and sys.stderr.isatty()
        sweep = run_sweep(tasks, ready, options, workers, _progress if show_progress else None,
                          skip, scheduler)
    finally:
        if workers is not None:
            workers.close()
    try:
        return _report(args, sweep, options, skipped)
    finally:
        sweep.close()


def _report(args: argparse.Namespace, sweep, options, skipped: list[LogError]) -> int:
    from nndoctor.safe_write import atomic_output, check_output, protected_files, write_atomic
    from nndoctor.sweep import STREAMED, with_name, write

    results = sweep.finish()
    if not results:
        raise skipped[0] if skipped else LogError(args.paths[0], "no training log found")
    outputs = [p for p in (args.output, args.plot) if p is not None]
    if outputs:  # checked before anything is written, against every file the runs came from
        protected = protected_files(args.paths, [Path(r.path) for r in results])
        for path in outputs:
            check_output(path, args.paths, protected)
    reports = [with_name(r.report, r) for r in results] if options.keep_reports else []
    if args.format in STREAMED:
        if args.output:
            with atomic_output(args.output) as out:
                write(sweep, options, out)
        else:
            write(sweep, options, sys.stdout)
    else:
        from nndoctor.report import render

        text = render(reports, args.format, args.top)
        if args.output:
            write_atomic(args.output, text)
        else:
            sys.stdout.write(text)
    if args.plot:
        from nndoctor.report.html import render_html

        write_atomic(args.plot, render_html(reports, args.top))
    if args.fail_on and any(r.alarming for r in results):
        return 1
    blind = [r.renamed or r.name for r in results if not r.has_loss]
    if args.fail_on and blind:  # a gate that judged nothing must not pass (docs/errors.md)
        shown = ", ".join(blind[:3]) + (f" and {len(blind) - 3} more" if len(blind) > 3 else "")
        print(f"nndoctor: --fail-on: no train or val loss in {shown}, so nothing was judged; "
              "name the loss with --metric train_loss=TAG (see the warning in the report)",
              file=sys.stderr)
        return 2
    return 0
