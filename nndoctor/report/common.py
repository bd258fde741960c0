"""Pieces every renderer shares: sparklines, confidence bars, symptom marks, the JSON shape."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from nndoctor import __version__
from nndoctor.adapters.run import CANONICAL, Run
from nndoctor.engine.diagnosis import RankedCause, RuleTrace, describe_fact
from nndoctor.engine.facts import Fact
from nndoctor.pipeline import RunReport
from nndoctor.report.evidence import json_value, locate
from nndoctor.report.indented_json import Fragment, dumps, safe_string, scalar

if TYPE_CHECKING:  # the typed dicts need pydantic; a report does not
    from nndoctor.report.schema import EvidenceDoc, FixDoc, ReportDoc, RuleDoc, RunDoc

SCHEMA_VERSION = 1  # of the JSON report: nndoctor/report/schema.py describes it

TICKS = "▁▂▃▄▅▆▇█"


def sparkline(values: np.ndarray, width: int = 40) -> str:
    """Unicode sparkline; non-finite buckets show as '×'."""
    if values.size == 0:
        return ""
    buckets = np.array_split(values, min(width, values.size))
    means = []
    for b in buckets:
        finite = b[np.isfinite(b)]
        means.append(float(finite.mean()) if finite.size == b.size else None)
    known = [m for m in means if m is not None]
    if not known:
        return "×" * len(means)
    lo, hi = min(known), max(known)
    span = (hi - lo) or 1.0
    return "".join("×" if m is None else TICKS[int((m - lo) / span * (len(TICKS) - 1))]
                   for m in means)


def bar(confidence: float, width: int = 20) -> str:
    filled = round(max(confidence, 0.0) * width)
    return "█" * filled + "░" * (width - filled)


def curve_lines(run: Run, width: int = 40) -> list[tuple[str, str, str]]:
    """(name, sparkline, range text) for the canonical curves the run has."""
    rows = []
    for name in CANONICAL:
        series = run.get(name)
        if series is None or len(series) == 0:
            continue
        finite = series.values[np.isfinite(series.values)]
        rng = f"{finite[0]:.4g} → {finite[-1]:.4g}" if finite.size else "no finite value"
        rows.append((name, sparkline(series.values, width), rng))
    return rows


def fix_dict(cause: RankedCause) -> list[FixDoc]:
    return [{"id": f.id, "action": f.action, "verify": f.verify, "effort": f.effort}
            for f in cause.fixes]


def evidence_dict(fact: Fact) -> EvidenceDoc:
    """A fact as a JSON evidence object: value, source, series, step or step range, words."""
    where = locate(fact)
    return {"fact": fact.name, "value": json_value(fact.value),
            "certainty": round(fact.certainty, 4), "source": where.source,
            "series": list(where.series), "step": where.step,
            "range": where.range, "text": fact.evidence}


def evidence_fragment(fact: Fact, newline: str = "\n") -> Fragment:
    """:func:`evidence_dict` as the JSON text ``indented_json.dumps(..., newline, safe=True)``
    writes for it, made without the dict (a sweep's JSON part holds ~75 of them a run)."""
    where = locate(fact)
    value = fact.value
    value = _name(value) if type(value) is str else scalar(json_value(value))
    certainty = _certainty(fact.certainty)
    step = "null" if where.step is None else scalar(where.step)
    if value is None or certainty is None or step is None:  # no plain scalar: the dict's way
        return Fragment(dumps(evidence_dict(fact), newline, safe=True), newline)
    i = newline + "  "
    source, span = _located(where.source, where.series, where.range, newline)
    return Fragment(f'{{{i}"fact": {_name(fact.name)},{i}"value": {value},{i}"certainty": '
                    f'{certainty}{source}{i}"step": {step},{i}"range": {span},{i}"text": '
                    f'{safe_string(fact.evidence)}{newline}}}', newline)


@functools.lru_cache(maxsize=4096)
def _located(source: str, series: tuple[str, ...], span: tuple[int, int] | None,
             newline: str) -> tuple[str, str]:
    """The JSON text of an evidence object's source and series (from the comma before them)
    and of its step range: the same few recur in every run of a sweep."""
    i = newline + "  "
    names = "[]" if not series else f"[{i}  " + f",{i}  ".join(map(safe_string, series)) + f"{i}]"
    text = "null" if span is None else \
        f"[{i}  {int.__repr__(span[0])},{i}  {int.__repr__(span[1])}{i}]"
    return f',{i}"source": {safe_string(source)},{i}"series": {names},', text


# the JSON text of the strings and certainties every run repeats (fact and series names,
# sources, enum values): made once per process, up to this many
_KEPT = 4096
_NAMES: dict[str, str] = {}
_CERTAINTIES: dict[float, str] = {}


def _name(text: str) -> str:
    found = _NAMES.get(text)
    if found is None:
        found = safe_string(text)
        if len(_NAMES) < _KEPT:
            _NAMES[text] = found
    return found


def _certainty(value: float) -> str | None:
    """``round(value, 4)`` as JSON text (round costs ~0.5 µs; a few values recur)."""
    if type(value) is not float or not value > 0.0:  # 1 and 1.0 (and 0.0 and -0.0) are one
        return scalar(round(value, 4))  # key of a dict, written differently
    found = _CERTAINTIES.get(value)
    if found is None:
        found = scalar(round(value, 4))
        if found is not None and len(_CERTAINTIES) < _KEPT:
            _CERTAINTIES[value] = found
    return found


def rule_dict(trace: RuleTrace) -> RuleDoc:
    return {"rule": trace.rule_id, "title": trace.title,
            "direction": "for" if trace.contribution > 0 else "against",
            "contribution": round(trace.contribution, 4), "because": trace.because,
            "facts": [f.name for f in trace.facts]}


def cause_evidence(cause: RankedCause, facts: dict[str, Fact] | None = None,
                   made: dict[str, Any] | None = None,
                   evidence: Callable[[Fact], Any] = evidence_dict) -> list[Any]:
    """Every fact the cause's rules used, once, in the order of the rules. ``made`` holds
    evidence objects already made for ``facts`` (the run's facts): one of the very same fact
    is taken from there."""
    seen: dict[str, Fact] = {}
    for trace in cause.support:
        for fact in trace.facts:
            seen.setdefault(fact.name, fact)
    if not made or facts is None:
        return [evidence(f) for f in seen.values()]
    return [made[n] if facts.get(n) is f else evidence(f) for n, f in seen.items()]


def tie_lines(report: RunReport) -> list[str]:
    """The leading tie in words, with the cheapest steps that would separate it (or nothing)."""
    d = report.diagnosis
    if not d.tied:
        return []
    titles = [c.title for c in d.causes if c.id in d.tied]
    names = ", ".join(titles[:-1]) + f" or {titles[-1]}"
    lines = [f"Tied: {names} - the logs alone cannot tell them apart."]
    sep = d.separation
    if sep is not None and sep.question is not None:
        lines.append(f"  To separate them, answer: {sep.question.text} "
                     f"(--answer {sep.question.fact}=...)")
    for step in sep.steps if sep is not None else ():
        lines.append(f"  Or measure: {step}")
    return lines


def verdict_basis(report: RunReport, facts: int = 3) -> list[str]:
    """Why a run is judged healthy (or too short to judge): the strongest rule behind that
    verdict and the facts it read - what was checked. Empty for a problem verdict."""
    basis = report.diagnosis.verdict_basis
    if not basis:
        return []
    trace = basis[0]
    return [f"why: {trace.because}", *(f"  {describe_fact(f)}" for f in trace.facts[:facts])]


def causes_heading(report: RunReport) -> str:
    """'Likely causes', or 'Worth a look' when the verdict stays healthy (weak candidates only)."""
    if report.diagnosis.verdict == "healthy":
        return "Worth a look (weak evidence; the run looks healthy overall):"
    return "Causes, most likely first:"


def run_id(report: RunReport) -> str:
    """The run's stable id (set by the sweep from the PATH it was found under), else its path."""
    return report.id or report.run.path.as_posix()


def run_dict(report: RunReport, top: int,
             evidence: Callable[[Fact], Any] = evidence_dict) -> RunDoc:
    """The run's part of the JSON report; ``evidence`` makes each fact's evidence object
    (:func:`evidence_fragment`: as JSON text for ``indented_json.dumps``)."""
    d = report.diagnosis
    sep = d.separation
    facts = {n: evidence(f) for n, f in sorted(d.facts.items())}
    return {
        "schema_version": SCHEMA_VERSION,
        "id": run_id(report),
        "path": str(report.run.path),
        "name": report.run.name,
        "format": report.run.format,
        "verdict": d.verdict,
        "causes": [
            {"id": c.id, "title": c.title, "confidence": round(c.confidence, 4),
             "band": c.band,
             "tied_with": list(c.tied_with),
             "evidence": cause_evidence(c, d.facts, facts, evidence),
             "rules": [rule_dict(t) for t in c.support], "fixes": fix_dict(c)}
            for c in d.causes[:top]
        ],
        "tie": None if not d.tied else {
            "causes": list(d.tied),
            "question": sep.question.fact if sep is not None and sep.question else None,
            "steps": list(sep.steps) if sep is not None else [],
        },
        "verdict_basis": [rule_dict(t) for t in d.verdict_basis],
        "patterns": list(d.patterns),
        "questions": [{"fact": q.fact, "text": q.text, "why": q.why} for q in d.questions],
        "facts": facts,
        "warnings": list(report.run.warnings),
    }


def document(reports: list[RunReport], top: int) -> ReportDoc:
    return {"nndoctor": __version__, "schema_version": SCHEMA_VERSION,
            "runs": [run_dict(r, top) for r in reports]}


def summary(reports: list[RunReport]) -> tuple[dict[str, int], dict[str, int]]:
    """Runs per verdict and per top cause (for sweeps)."""
    verdicts: dict[str, int] = {}
    tops: dict[str, int] = {}
    for r in reports:
        verdicts[r.diagnosis.verdict] = verdicts.get(r.diagnosis.verdict, 0) + 1
        if r.diagnosis.causes:
            top = r.diagnosis.causes[0].id
            tops[top] = tops.get(top, 0) + 1
    return verdicts, dict(sorted(tops.items(), key=lambda kv: -kv[1]))
