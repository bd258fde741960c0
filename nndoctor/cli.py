"""The `nndoctor` command line. Exit codes: 0 ran, 1 findings at/above --fail-on or lint errors,
2 bad input or usage (one line on stderr, never a traceback), 3 an internal error. A closed
standard output (``| head``) ends a command quietly with 0."""

from __future__ import annotations

import argparse
import gc
import os
import re
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from nndoctor import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(Exception):
    """Bad input or usage; the message is the one line shown to the user."""


PATH_HELP = (
    "a log file, a run folder or a folder of many runs (scanned recursively: each file goes to "
    "the reader that recognises it), '-' for standard input, or an s3:// / gs:// URL")
FORMATS_READ = (
    "logs read: TensorBoard event files, Lightning metrics.csv, Keras CSVLogger and history "
    "JSON, generic CSV/TSV, Hugging Face trainer_state.json, MLflow (file store and SQLite), "
    "W&B local runs, JSON Lines, Ultralytics results.csv, DVCLive, Ray Tune trials and console "
    "output (docs/formats.md)")
REPORT_FORMATS = {  # --format choice -> what it writes (every choice is described: a test checks)
    "text": "a short block per run for a terminal: verdict, leading cause, what to do first "
            "(--explain: evidence, every cause and fix, sparklines of the curves)",
    "json": "one document for every run, for CI and scripts "
            "(schema: docs/schema/report.schema.json)",
    "jsonl": "one JSON object per run per line, streamed (large sweeps)",
    "github": "workflow-command annotations (::error/::warning) for a GitHub Actions step",
    "markdown": "the text report as Markdown (issues, pull requests)",
    "html": "one self-contained page: a do-this-first table, plots of the curves, causes",
}
BANDS = ["possible", "likely", "confirmed"]  # confidence >= 0.2, >= 0.5, >= 0.8
BAND_HELP = "possible >= 0.2, likely >= 0.5, confirmed >= 0.8 confidence"
EXIT_CODES = """exit codes:
  0  ran{ok}
  1  {one}
  2  bad input or usage: one line on stderr naming the file and the problem{two}
  3  internal error (set NNDOCTOR_DEBUG=1 for the traceback)"""


def _exit_codes(ok: str = "", one: str = "a cause at or above --fail-on was found",
                two: str = "") -> str:
    return EXIT_CODES.format(ok=ok, one=one, two=two)


def _describe(options: dict[str, str]) -> str:
    return "\n".join(f"  {name:<10} {text}" for name, text in options.items())


def terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``, argparse's width for help, without importing
    shutil and the compression modules it loads (~7 M instructions of every start, when a
    parser is built: argparse makes a formatter to check each argument)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):  # no stdout, or not a terminal
            columns = 0
    return columns or 80


class _Help(argparse.HelpFormatter):
    """Wraps each paragraph of a description or epilog to the terminal, keeping indented lines
    (the lists of formats and exit codes) as written."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         terminal_columns() - 2 if width is None else width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for paragraph in text.split("\n\n"):
            lines = paragraph.splitlines()
            if any(line.startswith(" ") for line in lines):  # a list: "  NAME  text"
                paragraphs.append("\n".join(_hanging(indent + line, width) for line in lines))
            else:
                paragraphs.append(textwrap.fill(" ".join(lines), width, initial_indent=indent,
                                                subsequent_indent=indent))
        return "\n\n".join(paragraphs)


def _hanging(line: str, width: int) -> str:
    """One list entry wrapped with its text aligned after the name column."""
    label = re.match(r"^\s+\S+\s+", line)
    if label is None or label.end() > width // 2:
        return line
    return textwrap.fill(line[label.end():], width, initial_indent=label.group(0),
                         subsequent_indent=" " * label.end())


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line; with ``command`` (one of COMMANDS) only that command's parser is built,
    the others being needed only for the top-level help and its errors."""
    parser = argparse.ArgumentParser(
        prog="nndoctor", formatter_class=_Help,
        description="Diagnose failing neural-network training runs from their logs, from your "
                    "answers (nndoctor ask) or while they train (nndoctor watch).",
        epilog="Run 'nndoctor COMMAND --help' for a command's options.\n\n"
               + _exit_codes(one="a finding at or above --fail-on (diagnose, watch), an alert "
                                 "(watch --once), rule-base errors (rules lint) or stale docs "
                                 "(rules docs --check)"))
    parser.add_argument("--version", action="version", version=f"nndoctor {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, add in COMMANDS.items():
        if command in (None, name):
            add(sub)
    return parser


def _add_diagnose(sub: argparse._SubParsersAction) -> None:
    diag = sub.add_parser(
        "diagnose", help="diagnose training logs (files or directories)", formatter_class=_Help,
        description="Read training logs, derive symptoms from the curves and rank the likely "
                    "causes with their evidence and fixes.\n\n" + FORMATS_READ,
        epilog="report formats (--format):\n" + _describe(REPORT_FORMATS) + "\n\n"
               + _exit_codes(ok=" (with --fail-on: nothing at or above its band)",
                             two="; with --fail-on also a run without any loss series "
                                 "(nothing was judged)"))
    diag.add_argument("paths", nargs="+", type=Path, metavar="PATH", help=PATH_HELP)
    diag.add_argument("--answer", action="append", default=[], metavar="FACT=VALUE",
                      help="add a fact you know, e.g. --answer hidden_activation=relu "
                           "(repeatable; names: nndoctor rules facts)")
    diag.add_argument("--metric", action="append", default=[], metavar="CANONICAL=TAG",
                      help="use log tag TAG as canonical series, e.g. --metric val_loss=eval/nll "
                           "(repeatable)")
    diag.add_argument("--format", choices=list(REPORT_FORMATS), default="text",
                      metavar="FORMAT", help=f"report format: {', '.join(REPORT_FORMATS)}; see "
                                             "below (default: text)")
    diag.add_argument("--explain", "-v", action="store_true",
                      help="text: every cause with its evidence, every fix, the curves and "
                           "the questions (default: a short block per run)")
    diag.add_argument("--output", "-o", type=Path, metavar="FILE",
                      help="write the report to FILE (default: standard output)")
    diag.add_argument("--plot", type=Path, metavar="FILE",
                      help="also write an HTML report with plots to FILE")
    diag.add_argument("--top", type=int, default=5, metavar="N",
                      help="causes shown per run (default: 5)")
    diag.add_argument("--fail-on", choices=BANDS, metavar="BAND",
                      help=f"exit 1 when a cause at or above BAND is found ({BAND_HELP}; "
                           "default: never)")
    diag.add_argument("--jobs", type=int, default=None, metavar="N",
                      help="parallel workers, at most the number of cores (default: every core)")
    diag.add_argument("--no-progress", action="store_true",
                      help="no progress bar (default: shown on a terminal for many runs)")
    diag.add_argument("--scheduler", metavar="ADDRESS",
                      help="run on a Dask cluster, reading paths where its workers run "
                           "(e.g. tcp://host:8786; pip install 'nndoctor[cluster]')")
    diag.add_argument("--questions", type=int, default=None, metavar="N",
                      help="follow-up questions per run (default: 3 for one log shown as "
                           "text/markdown/html, else 0: sweeps and JSON skip them)")


def _add_ask(sub: argparse._SubParsersAction) -> None:
    ask = sub.add_parser(
        "ask", help="interactive troubleshooting interview (terminal UI)", formatter_class=_Help,
        description="The Textual interview: one question at a time, the causes re-ranked after "
                    "every answer; press ? in the app for its keys.",
        epilog=_exit_codes(one="(not used)"))
    ask.add_argument("path", nargs="?", type=Path, metavar="PATH",
                     help="a log to pre-fill facts from (" + PATH_HELP + "; default: none, "
                          "the interview starts with the symptom question)")
    ask.add_argument("--resume", type=Path, metavar="FILE",
                     help="a saved session (JSON written by the app's Save) to resume")


def _add_watch(sub: argparse._SubParsersAction) -> None:
    watch = sub.add_parser(
        "watch", help="follow logs while training runs and alert", formatter_class=_Help,
        description="Re-read the logs whenever they change and alert once per run and cause "
                    "when a cause reaches --alert-on. Causes judged at the end of a run (e.g. "
                    "'not trained long enough') wait until the run has ended. With --until-done "
                    "it stops when every run has ended - its log says so (Hugging Face "
                    "train_runtime summary or global_step = max_steps, MLflow run status, W&B "
                    "exit record, Ray Tune done, a printed end of training) or nothing was "
                    "written for --idle seconds - and prints the final report.\n\n"
                    + FORMATS_READ,
        epilog=_exit_codes(ok=" (stopped with Ctrl-C, or no cause at or above --fail-on)",
                           one="--once: an alert; --until-done with --fail-on: a cause at or "
                               "above it in the final diagnosis"))
    watch.add_argument("path", type=Path, metavar="PATH",
                       help="a log file or a folder of runs on this machine")
    watch.add_argument("--alert-on", choices=BANDS, default="likely", metavar="BAND",
                       help=f"alert when a cause reaches BAND ({BAND_HELP}; default: likely)")
    watch.add_argument("--interval", type=float, default=5.0, metavar="SECONDS",
                       help="seconds between checks (default: 5)")
    watch.add_argument("--exec", dest="exec_command", metavar="COMMAND",
                       help="shell command to run on each alert (NNDOCTOR_RUN, NNDOCTOR_CAUSE, "
                            "NNDOCTOR_BAND and NNDOCTOR_CONFIDENCE are set)")
    watch.add_argument("--once", action="store_true",
                       help="check once and exit (1 when there is an alert)")
    watch.add_argument("--until-done", action="store_true",
                       help="stop when every run has ended (see above) and print the final "
                            "report")
    watch.add_argument("--idle", type=float, default=None, metavar="SECONDS",
                       help="with --until-done: a run whose log has not changed for SECONDS "
                            "counts as ended (default: 600)")
    watch.add_argument("--fail-on", choices=BANDS, metavar="BAND",
                       help="with --until-done: exit 1 when the final diagnosis has a cause at "
                            "or above BAND (default: never)")
    watch.add_argument("--top", type=int, default=5, metavar="N",
                       help="with --until-done: causes shown per run in the final report "
                            "(default: 5)")


def _add_rules(sub: argparse._SubParsersAction) -> None:
    rules = sub.add_parser("rules", help="the rule base: list, show, lint, docs, facts",
                           formatter_class=_Help, epilog=_exit_codes(
                               one="rules lint: errors in the rule base; rules docs --check: "
                                   "the generated docs are stale"))
    rsub = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    rsub.add_parser("list", help="list every rule")
    show = rsub.add_parser("show", help="show one rule (or cause) with fixes and sources")
    show.add_argument("id", metavar="ID", help="a rule id (e.g. OPT017) or a cause id "
                                               "(e.g. lr_too_high)")
    rsub.add_parser("lint", help="check the rule base; exit 1 on errors")
    docs = rsub.add_parser("docs", help="regenerate docs/rules and docs/schema")
    docs.add_argument("--out", type=Path, default=None, metavar="DIR",
                      help="the docs folder to write (default: the docs/ folder of the nndoctor "
                           "source checkout; required when nndoctor is installed elsewhere)")
    docs.add_argument("--check", action="store_true", help="exit 1 if the docs are stale")
    rsub.add_parser("facts", help="list the fact vocabulary")


COMMANDS = {"diagnose": _add_diagnose, "ask": _add_ask, "watch": _add_watch, "rules": _add_rules}


def closed_pipe() -> int:
    """The reader of standard output went away (``nndoctor rules list | head``): stop quietly,
    as ``cat`` does. Output still buffered would raise again at exit, so stdout now points to
    the null device."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout replaced by an object without a file descriptor
        pass
    return EXIT_OK


BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")
STARTUP_GC_THRESHOLD = 100_000  # new container objects between two young collections (700)


def run() -> int:
    """The program (``nndoctor``, ``python -m nndoctor``): :func:`main`, then every object frozen
    out of the collector's reach (gc.freeze), so the interpreter's last collection at exit does
    not walk all that the run built (numpy, the knowledge base): ~8 % of a small diagnosis. Not
    in :func:`main`, which tests call in-process.

    Before numpy loads, its OpenBLAS is given one thread unless the user chose a number: it
    starts one per core otherwise (~10 ms of a small diagnosis on 2 cores), for arrays this
    small, and a sweep's parallelism is its processes. The young generation is collected after
    100,000 new objects instead of 700: start-up makes ~10^5 that all live to the end, and the
    collector walked them over and over (~3 % of a small diagnosis); the count is of objects
    alive, so a sweep's runs, freed as they go, rarely reach it."""
    if not any(os.environ.get(name) for name in BLAS_THREADS):
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
    gc.set_threshold(STARTUP_GC_THRESHOLD, *gc.get_threshold()[1:])
    code = main()
    gc.freeze()
    return code


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser(argv[0] if argv and argv[0] in COMMANDS else None).parse_args(argv)
    try:
        code = _dispatch(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        return closed_pipe()


def _dispatch(args: argparse.Namespace) -> int:
    try:
        if args.command == "rules":
            from nndoctor.commands.rules import run_rules

            return run_rules(args)
        if args.command == "diagnose":
            from nndoctor.commands.diagnose import run_diagnose

            return run_diagnose(args)
        if args.command == "ask":
            from nndoctor.commands.ask import run_ask

            return run_ask(args)
        if args.command == "watch":
            from nndoctor.commands.watch import run_watch

            return run_watch(args)
    except BrokenPipeError:
        raise
    except KeyboardInterrupt:
        print("nndoctor: interrupted", file=sys.stderr)
        return EXIT_BAD_INPUT
    except UsageError as exc:
        from nndoctor.sanitize import clean

        print(f"nndoctor: {clean(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:  # the promise: one line, never a traceback
        from nndoctor.commands.errors import USER_ERRORS, one_line
        from nndoctor.sanitize import clean

        if os.environ.get("NNDOCTOR_DEBUG"):
            raise
        print(f"nndoctor: {clean(one_line(exc))}", file=sys.stderr)  # file names are log text
        return EXIT_BAD_INPUT if isinstance(exc, USER_ERRORS) else EXIT_INTERNAL
    return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
