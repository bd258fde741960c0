"""A cause's fixes as they fit one run: those that do not apply are left out, those the evidence
points at come first, then the cheap ones; texts carry the run's own numbers when they are known.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from nndoctor.engine.conditions import Known, certainty, certainty_false, describe, holds
from nndoctor.knowledge.kb import Fix
from nndoctor.knowledge.templates import render

EFFORT_RANK = {"low": 0, "medium": 1, "high": 2}


class FittedFix(NamedTuple):
    """A fix to try on this run, in the order to try it."""

    id: str
    action: str  # with the run's numbers when every value it needs is known, else the generic text
    verify: str | None
    effort: str
    sources: tuple[str, ...]
    values: tuple[str, ...] = ()  # the facts whose values the texts show; empty: generic texts
    first_because: str = ""  # the condition that put it first, e.g. "loss_nonfinite = true"


class LeftOutFix(NamedTuple):
    """A fix of the cause that does not fit this run, and why."""

    id: str
    action: str
    because: str


def fit_fixes(fixes: Sequence[Fix], known: Known
              ) -> tuple[tuple[FittedFix, ...], tuple[LeftOutFix, ...]]:
    """Order and fill in ``fixes`` for a run whose usable facts (and findings) are ``known``.

    A fix is left out when its ``not_when`` holds or the facts show its ``applies_when`` false.
    The rest are ordered: those whose ``first_when`` holds first (the most certain first), then
    by effort (low first), then as listed.
    """
    values = {name: value for name, (value, _cf) in known.items()}
    kept: list[tuple[tuple[int, float, int, int], FittedFix]] = []
    left_out: list[LeftOutFix] = []
    for index, fix in enumerate(fixes):
        reason = _left_out_because(fix, known)
        if reason:
            left_out.append(LeftOutFix(fix.id, fix.action, reason))
            continue
        first = certainty(fix.first_when, known) if fix.first_when is not None else 0.0
        action = render(fix.action_with_values, values) if fix.action_with_values else None
        verify = render(fix.verify_with_values, values) if fix.verify_with_values else None
        fitted = FittedFix(
            fix.id, action or fix.action, verify or fix.verify, fix.effort, tuple(fix.sources),
            tuple(fix.needs) if action or verify else (),
            describe(fix.first_when) if first > 0 and fix.first_when is not None else "")
        kept.append(((0 if first > 0 else 1, -round(first, 6), EFFORT_RANK[fix.effort], index),
                     fitted))
    kept.sort(key=lambda pair: pair[0])
    return tuple(f for _key, f in kept), tuple(left_out)


def _left_out_because(fix: Fix, known: Known) -> str:
    if fix.not_when is not None and holds(fix.not_when, known):
        return f"not for this run: {describe(fix.not_when)}"
    if fix.applies_when is not None and certainty_false(fix.applies_when, known) > 0:
        return f"applies only when {describe(fix.applies_when)}"
    return ""
