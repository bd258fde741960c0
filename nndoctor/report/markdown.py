"""Markdown report (also the TUI's export)."""

from __future__ import annotations

from nndoctor.pipeline import RunReport
from nndoctor.report.common import causes_heading, curve_lines, summary, tie_lines, verdict_basis
from nndoctor.sanitize import clean, clean_report


def render_markdown(reports: list[RunReport], top: int = 5) -> str:
    out = ["# nndoctor report", ""]
    if len(reports) > 1:
        verdicts, tops = summary(reports)
        out += ["| verdict | runs |", "|---|---|"]
        out += [f"| {k} | {v} |" for k, v in verdicts.items()]
        out += ["", "| top cause | runs |", "|---|---|"]
        out += [f"| {k} | {v} |" for k, v in tops.items()]
        out.append("")
    for report in reports:
        out += render_run_markdown(report, top)
    return clean_report("\n".join(out).rstrip() + "\n")


def render_run_markdown(report: RunReport, top: int = 5) -> list[str]:
    d, run = report.diagnosis, report.run
    out = [f"## {clean(run.name)}", "", f"- path: `{clean(run.path)}` ({clean(run.format)})",
           f"- verdict: **{d.verdict}**"]
    out += [f"  - {clean(line.strip())}" for line in verdict_basis(report)]
    out += [f"- warning: {clean(w)}" for w in run.warnings]
    curves = curve_lines(run)
    if curves:
        out += ["", "```"] + [f"{n:<11} {s}  {r}" for n, s, r in curves] + ["```"]
    if d.causes:
        out += ["", f"**{causes_heading(report)}**"]
    ties = tie_lines(report)
    if ties:
        out += ["", *(f"> {line.strip()}" for line in ties)]
    for rank, cause in enumerate(d.causes[:top], 1):
        out += ["", f"### {rank}. {cause.title} (`{cause.id}`) — {cause.confidence:.2f} "
                    f"{cause.band}", "", cause.explanation, "", "**Evidence**", ""]
        out += [f"- {clean(line.strip())}" for line in cause.evidence_lines()]
        out += ["", "**Fixes, in order**", ""]
        for i, fix in enumerate(cause.fixes, 1):
            verify = f" *Verify:* {fix.verify}" if fix.verify else ""
            out.append(f"{i}. {fix.action}{verify}")
    if d.questions:
        out += ["", "**Questions that would sharpen the diagnosis**", ""]
        out += [f"- {q.text} (`{q.fact}`) — {q.why}" for q in d.questions]
    out.append("")
    return out
