"""The terminal report, drawn with rich: a short block per run, the rest under ``--explain``.

First come the verdict, the leading cause (or tied group) with its confidence, the first fix and
the evidence in one line; ``--explain`` adds the curves, every cause with its rules and facts,
every fix and the follow-up questions. A sweep starts with one line per run. Lines wrap at the
width given (the terminal's), only between words; colour only when writing to a terminal that
takes it (never with ``NO_COLOR``, into a pipe or a file).

Log text is untrusted: every string from a log goes through :func:`nndoctor.sanitize.clean` and is
drawn as rich Text, never parsed as markup (``report/terminal.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from rich.cells import cell_len
from rich.text import Text

from nndoctor.engine.diagnosis import describe_fact
from nndoctor.pipeline import RunReport
from nndoctor.report.common import (
    bar,
    causes_heading,
    curve_lines,
    run_id,
    tie_lines,
    verdict_basis,
)
from nndoctor.report.headline import Headline, headline
from nndoctor.report.terminal import (
    TextStyle,
    draw,
    hang,
    one_line,
    shorten,
    shorten_path,
    style_for,
    t,
)
from nndoctor.sanitize import clean

VERDICT_LINE = {
    "problem": "PROBLEM",
    "healthy": "HEALTHY - the curves look like a run that is learning",
    "insufficient-data": "INSUFFICIENT DATA - too little in the log to judge the run",
}
VERDICT_STYLE = {"problem": "bold red", "healthy": "bold green", "insufficient-data": "bold yellow"}
VERDICT_SHORT = {"problem": "problem", "healthy": "healthy", "insufficient-data": "too little"}
BAND_STYLE = {"confirmed": "bold red", "likely": "red", "possible": "yellow"}
BLOCKS_UP_TO = 10  # runs; a larger sweep prints only its table (or everything with --explain)
FIX_LINES = 4  # the first fix in the short block; longer ones are shortened (--explain: whole)
COUNTED = 5  # leading causes counted above a large sweep's table
FIX_COLUMN = 20  # characters: a narrower "do first" cell says only "Divide the…"


# ---------------------------------------------------------------------------------- a run
def header(style: TextStyle, run_ident: str, name: str, fmt: str) -> list[Text]:
    """``── id · name · format ────``: the name only when the id does not already say it."""
    title = t(run_ident, "bold")
    if clean(name) not in clean(run_ident):
        title += t(f" · {name}")
    title += t(f" · {fmt}", "dim")
    lines = hang(style, Text.styled("── ", "dim"), title, indent=3)
    if len(lines) == 1 and lines[0].cell_len + 2 <= style.width:
        lines[0].append(" " + "─" * (style.width - lines[0].cell_len - 1), style="dim")
    return lines


def _confidence(h: Headline) -> Text:
    band = h.band or ""
    return Text.assemble((f"{h.confidence:.2f} ", ""), (band, BAND_STYLE.get(band, "")))


def short_block(report: RunReport, style: TextStyle) -> list[Text]:
    """The verdict, leading cause, first fix, evidence and next step: ≤ ~8 lines."""
    h = headline(report)
    lines: list[Text] = []
    for warning in report.run.warnings:
        lines += hang(style, Text.styled("warning: ", "bold yellow"), t(warning))
    verdict = Text.styled(VERDICT_LINE[h.verdict].split(" - ")[0], VERDICT_STYLE[h.verdict])
    if h.verdict == "problem" and h.leading:
        causes = " · ".join(h.leading)
        label = verdict + Text("  tied: " if h.tied else "  ")
        lines += hang(style, label, Text.styled(causes, "bold") + " — " + _confidence(h),
                      indent=2)
        if h.first_fix:
            lines += hang(style, Text.styled("Do first: ", "bold"), t(h.first_fix),
                          max_lines=FIX_LINES)
        if h.evidence:
            lines.append(one_line(style, Text.styled("Evidence: ", "bold"), h.evidence))
    elif h.verdict == "problem":  # the curves show a pattern, no cause stands out
        lines += hang(style, verdict, t(f"  {h.patterns[0] if h.patterns else 'the curves are off'}"
                                        " - but no single cause stands out; answer the "
                                        "question below or add --explain"), indent=2)
    else:
        lines += hang(style, verdict, t(VERDICT_LINE[h.verdict][len(verdict.plain):]), indent=2)
        basis = verdict_basis(report, facts=0)
        if basis:  # what the verdict rests on (for an RL run: what was checked)
            lines.append(one_line(style, Text.styled("Why: ", "bold"),
                                  basis[0].removeprefix("why: ")))
        if h.leading:
            lines.append(one_line(style, Text("Worth a look: "), " · ".join(h.leading),
                                  Text(" (") + _confidence(h) + ")"))
    if h.next_text:
        label = Text.styled("Tell apart: " if h.tied else "Sharpen: ", "bold")
        if h.next_fact:
            lines.append(one_line(style, label + t(f"--answer {h.next_fact}=... ", "cyan"),
                                  f"({h.next_text})"))
        else:
            lines.append(one_line(style, label, h.next_text))
    return lines


def explain_block(report: RunReport, top: int, style: TextStyle) -> list[Text]:
    """Everything else: path, curves, every cause with rules, facts and fixes, the questions."""
    d, run = report.diagnosis, report.run
    lines = hang(style, Text.styled("path: ", "dim"), t(run.path), indent=2)
    curves = curve_lines(run, width=max(10, min(60, style.width - 40)))
    if curves:
        lines.append(Text.styled("Curves:", "bold"))
        for name, spark, rng in curves:
            lines += hang(style, t(f"  {name:<11} ") + Text.styled(spark, "cyan") + "  ", t(rng),
                          indent=4)
    basis = verdict_basis(report)
    if basis:  # what a healthy or insufficient-data verdict rests on, with the facts read
        lines += hang(style, Text.styled("Why: ", "bold"), t(basis[0].removeprefix("why: ")),
                      indent=2)
        for line in basis[1:]:
            lines += hang(style, Text("    "), t(line.strip()), indent=6)
    if d.causes:
        lines.append(Text.styled(causes_heading(report), "bold"))
    for line in tie_lines(report):
        stripped = line.lstrip()
        lines += hang(style, Text(" " * (len(line) - len(stripped))), t(stripped),
                      indent=len(line) - len(stripped) + 2)
    for rank, cause in enumerate(d.causes[:top], 1):
        title = Text.assemble((f"{rank}. ", ""), (cause.title, "bold"), f" [{cause.id}]  ",
                              (bar(cause.confidence), BAND_STYLE.get(cause.band or "", "")),
                              f" {cause.confidence:.2f} ", (cause.band or "", ""))
        lines += hang(style, Text(), title, indent=3)
        lines += hang(style, Text("   "), t(cause.explanation))
        lines.append(Text.styled("   Evidence:", "bold"))
        for trace in cause.support:
            sign = "for" if trace.contribution > 0 else "against"
            label = t(f"     [{trace.rule_id} {sign}, {trace.contribution:+.2f}] ", "dim")
            lines += hang(style, label, t(trace.because), indent=7)
            for fact in trace.facts:
                lines += hang(style, Text("         "), t(describe_fact(fact)), indent=11)
        lines.append(Text.styled("   Fixes, in order:", "bold"))
        for i, fix in enumerate(cause.fixes, 1):
            lines += hang(style, Text(f"     {i}. "), t(fix.action))
            if fix.verify:
                lines += hang(style, Text.styled("        verify: ", "dim"), t(fix.verify))
    if d.questions:
        ask = "To sharpen the diagnosis, answer (nndoctor diagnose … --answer FACT=VALUE):"
        lines += hang(style, Text(), Text.styled(ask, "bold"))
        for q in d.questions:
            choices = " | ".join(v for v, _ in q.choices)
            lines += hang(style, Text("  - "), t(q.text) + t(f"  [{q.fact}: {choices}]", "cyan"))
            lines += hang(style, Text.styled("    why: ", "dim"), t(q.why))
    return lines


def run_body(report: RunReport, top: int, style: TextStyle) -> str:
    """A run's part after its header (what a sweep's worker renders)."""
    lines = short_block(report, style)
    if style.explain:
        lines += explain_block(report, top, style)
    return draw(style, lines)


def run_head(style: TextStyle, run_ident: str, name: str, fmt: str) -> str:
    return draw(style, header(style, run_ident, name, fmt))


# ---------------------------------------------------------------------------------- a sweep
class Row(NamedTuple):
    """One run in the sweep table."""

    id: str
    headline: Headline


def summary_line(verdicts: Sequence[str]) -> str:
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[v] = counts.get(v, 0) + 1
    return f"{len(verdicts)} runs: " + ", ".join(f"{n} {v}" for v, n in counts.items())


def _cause_cell(h: Headline, width: int | None = None) -> str:
    """The leading cause's title; a tie adds how many more share the lead."""
    if not h.leading:
        return "-"
    more = f" (+{len(h.leading) - 1})" if h.tied else ""  # tied with that many more
    if width is None:
        return h.leading[0] + more
    return shorten(h.leading[0], max(width - len(more), 4)) + more


def _cause_counts(rows: Sequence[Row]) -> str:
    counts: dict[str, int] = {}
    for r in rows:
        if r.headline.alarm and r.headline.leading:
            counts[r.headline.leading[0]] = counts.get(r.headline.leading[0], 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{title} ×{n}" for title, n in ranked[:COUNTED]) or "none"
    return text + (f", {len(ranked) - COUNTED} more" if len(ranked) > COUNTED else "")


def _conf_cell(h: Headline) -> str:
    return f"{h.confidence:.2f} {h.band}" if h.confidence is not None else ""


def _widths(style: TextStyle, rows: Sequence[Row]) -> tuple[int, int, int, int, int]:
    """Column widths (run, verdict, cause, confidence, first fix; 0 = column left out): the
    run and the cause get up to 35 % of the room each, the first fix the rest."""
    gaps = 4 * 2
    verdict = max(len("verdict"), *(len(VERDICT_SHORT[r.headline.verdict]) for r in rows))
    conf = max(len("confidence"), *(len(_conf_cell(r.headline)) for r in rows))
    natural_id = max(len("run"), *(cell_len(clean(r.id)) for r in rows))
    natural_cause = max(len("cause"), *(len(_cause_cell(r.headline)) for r in rows))
    room = style.width - verdict - conf - gaps
    run = min(natural_id, max(12, room * 35 // 100))
    cause = min(natural_cause, max(12, room * 35 // 100))
    fix = room - run - cause
    if fix < FIX_COLUMN:  # too narrow for a useful fix: leave it out, the cause gets the room
        room += 2  # one gap fewer
        run = min(natural_id, max(8, room // 2))
        return run, verdict, max(room - run, 4), conf, 0
    return run, verdict, cause, conf, fix


def sweep_table(rows: Sequence[Row], style: TextStyle) -> str:
    """The summary line, then one line per run: id, verdict, cause, confidence, first fix."""
    run_w, verdict_w, cause_w, conf_w, fix_w = _widths(style, rows)
    gap = "  "

    def cell(text: str, width: int, style_name: str = "") -> Text:
        piece = Text.styled(text, style_name)
        piece.truncate(width, overflow="ellipsis")  # a guard: the cells are shortened already
        piece.pad_right(width - piece.cell_len)
        return piece

    lines = [t(summary_line([r.headline.verdict for r in rows]), "bold")]
    if len(rows) > BLOCKS_UP_TO:  # too many to read line by line: which causes lead how often
        lines += hang(style, Text("Leading causes: "), t(_cause_counts(rows)), indent=2)
    head = Text(gap).join([cell("run", run_w), cell("verdict", verdict_w), cell("cause", cause_w),
                           cell("confidence", conf_w)] + ([Text("do first")] if fix_w else []))
    head.rstrip()
    head.stylize("bold")
    lines.append(head)
    for r in rows:
        h = r.headline
        conf = cell(_conf_cell(h), conf_w, BAND_STYLE.get(h.band or "", "") if h.alarm else "dim")
        parts = [cell(shorten_path(clean(r.id), run_w), run_w),
                 cell(VERDICT_SHORT[h.verdict], verdict_w, VERDICT_STYLE[h.verdict]),
                 cell(clean(_cause_cell(h, cause_w)), cause_w), conf]
        if fix_w and h.first_fix and h.verdict == "problem":
            parts.append(Text(shorten(clean(h.first_fix), fix_w)))
        line = Text(gap).join(parts)
        line.rstrip()
        lines.append(line)
    return draw(style, lines)


def footer(style: TextStyle, runs: int, blocks: bool) -> str:
    """The hint at the end: how to see the rest."""
    if style.explain:
        return ""
    if blocks:
        text = "Details: add --explain (-v): evidence, every cause and fix, curves, questions."
    else:
        text = (f"{runs} runs: one line each. Add --explain (-v) for every run in full, or "
                "diagnose one run by its path.")
    return draw(style, hang(style, Text(), Text.styled(text, "dim")))


__all__ = ["VERDICT_LINE", "TextStyle", "render_text", "style_for"]


def shows_blocks(style: TextStyle, runs: int) -> bool:
    return style.explain or runs <= BLOCKS_UP_TO


def render_text(reports: list[RunReport], top: int = 5, style: TextStyle | None = None) -> str:
    """The whole report for ``reports`` (the sweep writer writes the same pieces in turn)."""
    style = style or TextStyle()
    pieces: list[str] = []
    if len(reports) > 1:
        pieces.append(sweep_table([Row(run_id(r), headline(r)) for r in reports], style))
    blocks = shows_blocks(style, len(reports))
    if blocks:
        pieces += [run_head(style, run_id(r), r.run.name, r.run.format) + run_body(r, top, style)
                   for r in reports]
    pieces.append(footer(style, len(reports), blocks))
    return "\n".join(p for p in pieces if p)  # a blank line between pieces
