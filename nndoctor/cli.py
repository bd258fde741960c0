"""The `nndoctor` command line. Exit codes: 0 ran, 1 findings at/above --fail-on or lint errors,
2 bad input or usage (one line on stderr, never a traceback)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from nndoctor import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(Exception):
    """Bad input or usage; the message is the one line shown to the user."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nndoctor",
        description="Diagnose failing neural-network training runs.",
    )
    parser.add_argument("--version", action="version", version=f"nndoctor {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    diag = sub.add_parser("diagnose", help="diagnose training logs (files or directories)")
    diag.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    diag.add_argument("--answer", action="append", default=[], metavar="FACT=VALUE",
                      help="add a fact you know, e.g. --answer hidden_activation=relu")
    diag.add_argument("--metric", action="append", default=[], metavar="CANONICAL=TAG",
                      help="use log tag TAG as canonical series, e.g. --metric val_loss=eval/nll")
    diag.add_argument("--format", choices=["text", "json", "jsonl", "markdown", "html"],
                      default="text", help="jsonl: one run per line")
    diag.add_argument("--output", "-o", type=Path, help="write the report to this file")
    diag.add_argument("--plot", type=Path, help="also write an HTML report with plots here")
    diag.add_argument("--top", type=int, default=5, help="causes shown per run (default 5)")
    diag.add_argument("--fail-on", choices=["possible", "likely", "confirmed"],
                      help="exit 1 when a cause at or above this band is found")
    diag.add_argument("--jobs", type=int, default=None,
                      help="parallel workers, at most the number of cores (default: every core)")
    diag.add_argument("--no-progress", action="store_true", help="no progress bar")
    diag.add_argument("--scheduler", metavar="ADDRESS",
                      help="run on a Dask cluster, reading paths where its workers run "
                           "(e.g. tcp://host:8786; pip install 'nndoctor[cluster]')")
    diag.add_argument("--questions", type=int, default=None, metavar="N",
                      help="follow-up questions per run (default: 3 for one log shown as "
                           "text/markdown/html, else 0: sweeps and JSON skip them)")

    ask = sub.add_parser("ask", help="interactive troubleshooting interview (terminal UI)")
    ask.add_argument("path", nargs="?", type=Path, help="a log to pre-fill facts from")
    ask.add_argument("--resume", type=Path, help="a saved session to resume")

    watch = sub.add_parser("watch", help="follow logs while training runs and alert")
    watch.add_argument("path", type=Path)
    watch.add_argument("--alert-on", choices=["possible", "likely", "confirmed"],
                       default="likely")
    watch.add_argument("--interval", type=float, default=5.0, help="seconds between checks")
    watch.add_argument("--exec", dest="exec_command", metavar="COMMAND",
                       help="shell command to run on an alert (NNDOCTOR_CAUSE etc. are set)")
    watch.add_argument("--once", action="store_true", help="check once and exit")

    rules = sub.add_parser("rules", help="the rule base: list, show, lint, docs")
    rsub = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    rsub.add_parser("list", help="list every rule")
    show = rsub.add_parser("show", help="show one rule (or cause) with fixes and sources")
    show.add_argument("id")
    rsub.add_parser("lint", help="check the rule base; exit 1 on errors")
    docs = rsub.add_parser("docs", help="regenerate docs/rules and docs/schema")
    docs.add_argument("--out", type=Path, default=Path("docs"))
    docs.add_argument("--check", action="store_true", help="exit 1 if the docs are stale")
    rsub.add_parser("facts", help="list the fact vocabulary")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
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
