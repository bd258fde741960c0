"""What a reader needs first about a run, as plain data: verdict, leading cause (or tied group),
confidence, the first fix, the evidence in a sentence and the best next question.

The text report's short block, the sweep table and the GitHub annotations are all drawn from it;
a sweep's workers send it back instead of the whole diagnosis.
"""

from __future__ import annotations

from typing import NamedTuple

from nndoctor.engine.diagnosis import RuleTrace
from nndoctor.pipeline import RunReport


class Headline(NamedTuple):
    """The one-line summary of a run: verdict, leading cause, first fix, what to answer next."""

    verdict: str
    leading: tuple[str, ...]  # the leading cause's title, or every title of the tied group
    cause_id: str | None
    confidence: float | None
    band: str | None
    alarm: str | None  # the leading band when the verdict stands behind it (a problem)
    first_fix: str | None
    evidence: str | None  # what the strongest supporting rule saw, with the run's numbers
    next_fact: str | None  # the fact to answer next (separates a tie, else the best question)
    next_text: str | None  # that question in words, or a separating step when no question
    tied: bool = False
    patterns: tuple[str, ...] = ()  # what is wrong with the curves when no cause stands out


def _evidence(trace: RuleTrace) -> str:
    """The sentences of the facts that made the rule fire (the ones that hold first: a fact
    that must be absent says less), else the rule's general reason."""
    said = [f for f in trace.facts if f.evidence and f.source != "finding"]
    held = [f for f in said if f.value is not False] or said
    return "; ".join(f.evidence for f in held) or trace.because


def headline(report: RunReport) -> Headline:
    d = report.diagnosis
    if not d.causes:
        question = d.questions[0] if d.questions else None
        return Headline(d.verdict, (), None, None, None, None, None, None,
                        question.fact if question else None, question.text if question else None,
                        patterns=tuple(p.replace("_", " ") for p in d.patterns))
    top = d.causes[0]
    tied = [c for c in d.causes if c.id in d.tied] or [top]
    support = [t for t in top.support if t.contribution > 0]
    strongest = max(support, key=lambda t: t.contribution) if support else None
    next_fact = next_text = None
    sep = d.separation
    if d.tied and sep is not None and sep.question is not None:
        next_fact, next_text = sep.question.fact, sep.question.text
    elif d.tied and sep is not None and sep.steps:
        next_text = sep.steps[0]
    elif d.questions:
        next_fact, next_text = d.questions[0].fact, d.questions[0].text
    return Headline(
        verdict=d.verdict, leading=tuple(c.title for c in tied), cause_id=top.id,
        confidence=top.confidence, band=top.band,
        alarm=top.band if d.verdict == "problem" else None,
        first_fix=top.fixes[0].action if top.fixes else None,
        evidence=_evidence(strongest) if strongest else None,
        next_fact=next_fact, next_text=next_text, tied=len(tied) > 1,
    )
