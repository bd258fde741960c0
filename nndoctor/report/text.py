"""Plain-text report for the terminal."""

from __future__ import annotations

from nndoctor.pipeline import RunReport
from nndoctor.report.common import (
    bar,
    causes_heading,
    curve_lines,
    summary,
    tie_lines,
    verdict_basis,
)
from nndoctor.sanitize import clean, clean_report

VERDICT_LINE = {
    "problem": "PROBLEM",
    "healthy": "HEALTHY - the curves look like a run that is learning",
    "insufficient-data": "INSUFFICIENT DATA - too little to judge; answer the questions below",
}


def render_text(reports: list[RunReport], top: int = 5) -> str:
    out: list[str] = []
    if len(reports) > 1:
        verdicts, tops = summary(reports)
        out.append(f"{len(reports)} runs: " + ", ".join(f"{v} {k}" for k, v in verdicts.items()))
        for cause, count in list(tops.items())[:10]:
            out.append(f"  {count:>5}  {cause}")
        out.append("")
    for report in reports:
        out.extend(_run(report, top))
        out.append("")
    return clean_report("\n".join(out).rstrip() + "\n")


def _run(report: RunReport, top: int) -> list[str]:
    d, run = report.diagnosis, report.run
    lines = [f"== {clean(run.name)}  ({clean(run.format)}: {clean(run.path)})",
             f"Verdict: {VERDICT_LINE[d.verdict]}"]
    lines += [f"  {clean(line)}" for line in verdict_basis(report)]
    for warning in run.warnings:
        lines.append(f"  warning: {clean(warning)}")
    curves = curve_lines(run)
    if curves:
        lines.append("")
        for name, spark, rng in curves:
            lines.append(f"  {name:<11} {spark}  {rng}")
    if d.causes:
        lines += ["", causes_heading(report)]
    lines += tie_lines(report)
    for rank, cause in enumerate(d.causes[:top], 1):
        lines += ["", f"{rank}. {cause.title} [{cause.id}]  {bar(cause.confidence)} "
                      f"{cause.confidence:.2f} {cause.band}",
                  f"   {cause.explanation}", "   Evidence:"]
        lines += [f"     {clean(line)}" for line in cause.evidence_lines()]
        lines.append("   Fixes, in order:")
        for i, fix in enumerate(cause.fixes, 1):
            lines.append(f"     {i}. {fix.action}")
            if fix.verify:
                lines.append(f"        verify: {fix.verify}")
    if d.questions:
        lines += ["", "To sharpen the diagnosis, answer (nndoctor diagnose … --answer FACT=VALUE):"]
        for q in d.questions:
            choices = "|".join(v for v, _ in q.choices)
            lines.append(f"  - {q.text}  [{q.fact}={choices}]")
            lines.append(f"    why: {q.why}")
    return lines
