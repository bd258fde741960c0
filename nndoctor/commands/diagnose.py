"""`nndoctor diagnose PATH…`: read logs, derive symptoms, rank causes, print a report."""

from __future__ import annotations

import argparse
import sys

from nndoctor.adapters.names import has_loss, parse_metric_overrides
from nndoctor.adapters.run import LogError
from nndoctor.pipeline import diagnose_runs, load_runs, parse_answers
from nndoctor.report import render
from nndoctor.report.html import render_html
from nndoctor.safe_write import check_output, protected_files, write_atomic
from nndoctor.sanitize import clean


def _progress(done: int, total: int) -> None:
    width = 30
    filled = int(width * done / total)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} runs")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def run_diagnose(args: argparse.Namespace) -> int:
    if args.top < 1:
        raise ValueError("--top must be at least 1")
    if args.jobs is not None and args.jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {args.jobs} "
                         "(leave it out to use every core)")
    answers = parse_answers(args.answer)
    overrides = parse_metric_overrides(args.metric)
    skipped: list[LogError] = []
    runs = load_runs(args.paths, overrides, skipped)
    for error in skipped:
        print(f"nndoctor: skipped {clean(error)}", file=sys.stderr)
    if not runs:
        raise skipped[0] if skipped else LogError(args.paths[0], "no training log found")
    show_progress = len(runs) > 1 and not args.no_progress and sys.stderr.isatty()
    reports = diagnose_runs(runs, answers, args.jobs, _progress if show_progress else None)
    outputs = [p for p in (args.output, args.plot) if p is not None]
    if outputs:  # checked before anything is written, against every file the runs came from
        protected = protected_files(args.paths, [r.path for r in runs])
        for path in outputs:
            check_output(path, args.paths, protected)
    text = render(reports, args.format, args.top)
    if args.output:
        write_atomic(args.output, text)
    else:
        sys.stdout.write(text)
    if args.plot:
        write_atomic(args.plot, render_html(reports, args.top))
    if args.fail_on and any(r.diagnosis.alarming(args.fail_on) for r in reports):
        return 1
    blind = [r.run.name for r in reports if not has_loss(r.run)]
    if args.fail_on and blind:  # a gate that judged nothing must not pass (docs/errors.md)
        shown = ", ".join(blind[:3]) + (f" and {len(blind) - 3} more" if len(blind) > 3 else "")
        print(f"nndoctor: --fail-on: no train or val loss in {shown}, so nothing was judged; "
              "name the loss with --metric train_loss=TAG (see the warning in the report)",
              file=sys.stderr)
        return 2
    return 0
