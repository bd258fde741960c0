"""`nndoctor rules list|show|lint|docs|facts`."""

from __future__ import annotations

import argparse
import sys

from nndoctor.engine.conditions import describe
from nndoctor.knowledge.docs import (
    REFRESH_COMMAND,
    project_docs,
    source_link,
    stale_files,
    write_docs,
)
from nndoctor.knowledge.kb import Cause
from nndoctor.knowledge.lint import lint
from nndoctor.knowledge.loader import KnowledgeBase, builtin_knowledge_base


def run_rules(args: argparse.Namespace) -> int:
    action = args.rules_command
    if action == "lint":
        return _lint()
    kb = builtin_knowledge_base()
    if action == "list":
        for rid, rule in kb.rules.items():
            targets = ", ".join(f"{c.target} {c.cf:+.1f}" for c in rule.then)
            print(f"{rid}  {rule.name:<44} {targets}")
        print(f"{len(kb.rules)} rules, {len(kb.causes)} causes, {len(kb.facts)} facts")
        return 0
    if action == "show":
        return _show(kb, args.id)
    if action == "facts":
        for name, fact in kb.facts.items():
            origin = "log/probe or question" if fact.derived_from_logs else (
                "question" if fact.askable else "concluded")
            print(f"{name:<36} {fact.type:<7} {origin:<22} {fact.question or ''}")
        return 0
    if action == "docs":
        out = args.out or project_docs()
        if out is None:
            raise ValueError("rules docs: nndoctor is not running from its source checkout, so "
                             "there is no project docs folder; name one with --out DIR")
        if args.check:
            stale = stale_files(kb, out)
            if stale:
                print(f"{len(stale)} generated file(s) are stale, e.g. {stale[0]}; "
                      f"run `{REFRESH_COMMAND}`", file=sys.stderr)
                return 1
            print("docs are up to date")
            return 0
        count = write_docs(kb, out)
        print(f"wrote {count} files under {out}/")
        return 0
    return 2


def _lint() -> int:
    report = lint()
    for problem in report.problems:
        print(problem, file=sys.stderr if problem.severity == "error" else sys.stdout)
    pct = 100.0 * report.seed_covered / report.seed_items if report.seed_items else 0.0
    print(f"{report.rules} rules, {report.causes} causes, {report.facts} facts, "
          f"{report.cases} embedded test cases run; seed coverage {pct:.0f} % "
          f"({report.seed_covered}/{report.seed_items} items); "
          f"{len(report.errors)} error(s), {len(report.problems) - len(report.errors)} warning(s)")
    return 1 if report.errors else 0


def _print_fixes(cause: Cause) -> None:
    for i, fix in enumerate(cause.fixes, 1):
        print(f"  {i}. {fix.action}")
        if fix.verify:
            print(f"     verify: {fix.verify}")


def _show(kb: KnowledgeBase, ident: str) -> int:
    rule = kb.rules.get(ident.upper())
    if rule is None:
        cause = kb.causes.get(ident)
        if cause is None:
            print(f"nndoctor: no rule or cause {ident!r} (see `nndoctor rules list`)",
                  file=sys.stderr)
            return 2
        print(f"{cause.id}: {cause.title}\n\n{cause.explanation}\n\nFixes, in order:")
        _print_fixes(cause)
        print("\nSources: " + ", ".join(source_link(kb, s) for s in cause.sources))
        rules = [r.id for r in kb.rules.values() if any(c.cause == cause.id for c in r.then)]
        print("Rules: " + ", ".join(rules))
        return 0
    print(f"{rule.id} {rule.name}: {rule.title}  [{rule.category}]\n")
    print(rule.because + "\n")
    print(f"When: {describe(rule.when)}")
    for c in rule.then:
        print(f"Then: {'cause' if c.cause else 'finding'} {c.target} (cf {c.cf:+.2f})")
    for c in rule.then:
        cause = kb.causes.get(c.cause or "")
        if cause and c.cf > 0:
            print(f"\nFixes for {cause.title}, in order:")
            _print_fixes(cause)
    print("\nSources:")
    for s in rule.sources:
        print(f"  - {source_link(kb, s)}")
    print(f"\nFile: {kb.files['rule:' + rule.id]}")
    return 0
