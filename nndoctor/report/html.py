"""A stand-alone HTML report: a "do this first" table, then per run the plots and the causes.

The page needs nothing else: plots are inline SVG (report/svg.py), the few lines of script only
sort the overview table, and the Content-Security-Policy forbids loading anything, so the page
works offline and a string from a log can never fetch or run anything. Every string that came
from a log is made visible (sanitize.clean) and HTML-escaped.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import numpy as np

from nndoctor import __version__
from nndoctor.adapters.run import CANONICAL, Run
from nndoctor.engine.diagnosis import Diagnosis
from nndoctor.pipeline import RunReport
from nndoctor.report.common import bar, causes_heading, summary
from nndoctor.report.figures import RunFigures, Symptom, run_figures
from nndoctor.report.svg import figure_svg
from nndoctor.sanitize import clean

VERDICT_ORDER = {"problem": 0, "insufficient-data": 1, "healthy": 2}
CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
       "img-src data:; base-uri 'none'; form-action 'none'")

STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1000px;
margin:1.5em auto;padding:0 1em;color:#1d1d1f}
h1{font-size:1.6em;margin:.2em 0}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
h3{font-size:1.05em;margin:1.2em 0 .4em}a{color:#1f5fa8}
.meta{color:#666;font-size:.9em;margin:.2em 0}
table.runs{border-collapse:collapse;width:100%;font-size:.92em}
.runs th,.runs td{border-bottom:1px solid #e4e4e4;padding:.35em .5em;text-align:left;
vertical-align:top}
.runs th{background:#f4f5f7;white-space:nowrap}td.do{min-width:15em}
.sortable th{cursor:pointer;user-select:none}
.sortable th::after{content:" \\2195";color:#aaa}
.sortable th[aria-sort=ascending]::after{content:" \\25B2";color:#333}
.sortable th[aria-sort=descending]::after{content:" \\25BC";color:#333}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.verdict{display:inline-block;padding:0 .45em;border-radius:.6em;font-size:.85em;font-weight:600}
.v-problem{background:#fde2e1;color:#a31b14}.v-healthy{background:#dff3e3;color:#1b6b2c}
.v-insufficient-data{background:#f4efd6;color:#6b5a10}
.first{background:#f6f8fb;border-left:4px solid #1f6fb4;padding:.5em .9em;margin:.8em 0}
.first p{margin:.25em 0}.verify{color:#555;font-style:italic}
.warn{color:#8a5300}
figure{margin:.6em 0 1em}figcaption{font-size:.9em;color:#333;margin-bottom:.1em}
.key{display:inline-block;margin-left:1em}
.swatch{display:inline-block;width:1.6em;vertical-align:middle;margin-right:.3em}
svg.plot{width:100%;height:auto;display:block}
svg text{font:11px system-ui,sans-serif;fill:#555}
svg text.marker-label{fill:#b34700;font-weight:600}svg text.nonfinite-label{fill:#c62828}
ul.symptoms li{margin:.15em 0}.step{color:#b34700;font-weight:600}
details{margin:.4em 0;border:1px solid #e4e4e4;border-radius:4px;padding:.3em .7em}
summary{cursor:pointer;font-weight:600}.bar{font-family:monospace;color:#b33;font-weight:400}
code{font-size:.9em;background:#f2f2f2;padding:0 .2em;border-radius:2px}
.muted{color:#777}
"""

SCRIPT = """
(function () {
  function key(row, col) {
    var cell = row.cells[col], v = cell.getAttribute("data-sort");
    return v === null ? cell.textContent.trim().toLowerCase() : v;
  }
  function sortBy(table, col) {
    var th = table.tHead.rows[0].cells[col], numeric = th.getAttribute("data-type") === "number";
    var ascending = th.getAttribute("aria-sort") !== "ascending", body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a, col), y = key(b, col);
      if (x === "" || y === "") { return x === y ? 0 : (x === "" ? 1 : -1); }
      var c = numeric ? parseFloat(x) - parseFloat(y) : (x < y ? -1 : (x > y ? 1 : 0));
      return ascending ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) {
      h.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortBy(table, col); });
      th.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); sortBy(table, col); }
      });
    });
  });
})();
"""


def e(text: object) -> str:
    """A string for HTML: control characters made visible (clean), then HTML-escaped."""
    return html.escape(clean(text))


def render_html(reports: list[RunReport], top: int = 5) -> str:
    """The whole page for one run or a sweep."""
    out = ["<!doctype html>", "<html lang='en'><head><meta charset='utf-8'>",
           f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">",
           "<meta name='viewport' content='width=device-width, initial-scale=1'>",
           "<title>nndoctor report</title>", f"<style>{STYLE}</style></head><body>",
           "<header id='top'><h1>nndoctor report</h1>",
           f"<p class='meta'>{len(reports)} run{'s' if len(reports) != 1 else ''} · "
           f"nndoctor {e(__version__)}</p></header>"]
    out += _overview(reports)
    for i, report in enumerate(reports, 1):
        out += _run_section(i, report, top)
    out += [f"<script>{SCRIPT}</script>", "</body></html>"]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- the overview


def leading(d: Diagnosis) -> tuple[str, float | None]:
    """The leading cause (or tied group) in words, and its confidence; '' when none."""
    if not d.causes:
        return "", None
    if d.tied:
        titles = [c.title for c in d.causes if c.id in d.tied]
        return "Tied: " + " · ".join(titles), d.causes[0].confidence
    return d.causes[0].title, d.causes[0].confidence


def first_step(d: Diagnosis) -> tuple[str, str]:
    """(what to do first, how to tell it worked): nothing for a healthy run; for a problem the
    question (or check) that separates a tie, else the first fix of the leading cause; else the
    first question."""
    if d.verdict == "healthy":
        return "Nothing urgent: the curves look like a run that is learning.", ""
    sep = d.separation
    if d.tied and sep is not None and sep.question is not None:
        return (f"Tell them apart: {sep.question.text} "
                f"(--answer {sep.question.fact}=…)", "")
    if d.tied and sep is not None and sep.steps:
        return f"Tell them apart: {sep.steps[0]}", ""
    if d.causes and d.causes[0].fixes and d.verdict == "problem":
        fix = d.causes[0].fixes[0]
        return fix.action, fix.verify or ""
    if d.questions:
        return f"Answer: {d.questions[0].text} (--answer {d.questions[0].fact}=…)", ""
    return "Log more of the run (more points of the loss) and diagnose again.", ""


def _overview(reports: list[RunReport]) -> list[str]:
    out = ["<section id='overview'><h2>Do this first</h2>"]
    if len(reports) > 1:
        verdicts, tops = summary(reports)
        counts = ", ".join(f"{n} {e(v)}" for v, n in verdicts.items())
        titles = {c.id: c.title for r in reports for c in r.diagnosis.causes[:1]}
        common = ", ".join(f"{e(titles.get(c, c))} ({n})" for c, n in list(tops.items())[:5])
        out.append(f"<p>{len(reports)} runs: {counts}."
                   + (f" Most common leading cause: {common}." if common else "")
                   + " <span class='muted'>Click a column to sort.</span></p>")
    sortable = " sortable" if len(reports) > 1 else ""
    out.append(f"<table class='runs{sortable}' id='runs'><thead><tr>"
               "<th>Run</th><th>Verdict</th><th>Leading cause</th>"
               "<th data-type='number'>Conf.</th><th>Do this first</th>"
               "<th data-type='number'>Length</th><th data-type='number'>Best val loss</th>"
               "<th data-type='number'>Best val acc</th></tr></thead><tbody>")
    for i, report in enumerate(reports, 1):
        d, run = report.diagnosis, report.run
        cause, confidence = leading(d)
        action, _ = first_step(d)
        length, unit = _length(run)
        loss = _best(run, "val_loss", np.nanmin)
        acc = _best(run, "val_acc", np.nanmax)
        out.append(
            f"<tr><td data-sort='{e(run.name.lower())}'><a href='#run-{i}'>{e(run.name)}</a></td>"
            f"<td data-sort='{VERDICT_ORDER[d.verdict]}'>"
            f"<span class='verdict v-{d.verdict}'>{d.verdict}</span></td>"
            + _cause_cell(cause, d.verdict)
            + _num_cell(confidence, "{:.2f}")
            + f"<td class='do'>{e(action)}</td>"
            + (f"<td class='num' data-sort='{length}'>{length:,} {unit}</td>"
               if length is not None else "<td class='num' data-sort=''>—</td>")
            + _num_cell(loss, "{:.4g}") + _num_cell(acc, "{:.4g}") + "</tr>")
    out.append("</tbody></table></section>")
    return out


def _cause_cell(cause: str, verdict: str) -> str:
    if not cause:
        return "<td><span class='muted'>none</span></td>"
    if verdict != "problem":  # a weak candidate of a run judged healthy or too short
        return f"<td><span class='muted'>worth a look:</span> {e(cause)}</td>"
    return f"<td>{e(cause)}</td>"


def _num_cell(value: float | None, fmt: str) -> str:
    if value is None:
        return "<td class='num' data-sort=''>—</td>"
    return f"<td class='num' data-sort='{value!r}'>{fmt.format(value)}</td>"


def _length(run: Run) -> tuple[int | None, str]:
    """How far the run got, by its loss (or any canonical series): epochs when the log counts
    epochs, else optimizer steps."""
    series = next((run.series[n] for n in CANONICAL if n in run.series and len(run.series[n])),
                  None)
    if series is None:
        return None, "steps"
    steps, epochs = run.extent(series)
    if run.context.get("step_unit") == "epoch" and epochs is not None:
        return round(epochs), "epochs"
    return (steps, "steps") if steps is not None else (int(series.steps[-1]), "steps")


def _best(run: Run, name: str, pick: Callable[[np.ndarray], float]) -> float | None:
    series = run.get(name)
    if series is None or not np.isfinite(series.values).any():
        return None
    return float(pick(np.where(np.isfinite(series.values), series.values, np.nan)))


# --------------------------------------------------------------------------- one run


def _run_section(i: int, report: RunReport, top: int) -> list[str]:
    d, run = report.diagnosis, report.run
    out = [f"<section class='run' id='run-{i}'>",
           f"<h2>{e(run.name)} <span class='verdict v-{d.verdict}'>{d.verdict}</span></h2>",
           f"<p class='meta'>{e(run.path)} · {e(run.format)}</p>"]
    out += [f"<p class='warn'>warning: {e(w)}</p>" for w in run.warnings]
    cause, confidence = leading(d)
    action, verify = first_step(d)
    out.append("<div class='first'>")
    if cause:
        band = d.causes[0].band or ""
        word = "Most likely" if d.verdict == "problem" else "Worth a look"
        out.append(f"<p>{word}: <b>{e(cause)}</b> <span class='muted'>{confidence:.2f} "
                   f"{e(band)}</span></p>")
    out.append(f"<p><b>Do this first:</b> {e(action)}"
               + (f" <span class='verify'>Verify: {e(verify)}</span>" if verify else "")
               + "</p></div>")
    drawn = run_figures(report, top)
    out += _figures(drawn, run)
    out += _symptoms(drawn.symptoms, run)
    out += _causes(report, top)
    if d.questions:
        out.append("<h3>Questions that would sharpen the diagnosis</h3><ul>")
        out += [f"<li>{e(q.text)} <code>--answer {e(q.fact)}=…</code><br>"
                f"<small class='muted'>{e(q.why)}</small></li>" for q in d.questions]
        out.append("</ul>")
    out.append("<p><a href='#top'>↑ back to the overview</a></p></section>")
    return out


def _figures(drawn: RunFigures, run: Run) -> list[str]:
    if not drawn.figures:
        return ["<p class='muted'>No loss, accuracy, learning-rate or gradient-norm series "
                "to draw.</p>"]
    out = []
    for figure in drawn.figures:
        keys = "".join(
            f"<span class='key'><span class='swatch' style='border-top:2px "
            f"{'dashed' if line.dashed else 'solid'} {line.color}'></span>{e(line.name)}</span>"
            for line in figure.lines)
        scale = " <span class='muted'>(log scale)</span>" if figure.log_y else ""
        out.append(f"<figure><figcaption><b>{e(figure.title)}</b>{scale}{keys}</figcaption>"
                   f"{figure_svg(figure, drawn.x_range, run.name)}</figure>")
    if drawn.not_drawn:
        names = ", ".join(e(n) for n in drawn.not_drawn[:8])
        more = f" and {len(drawn.not_drawn) - 8} more" if len(drawn.not_drawn) > 8 else ""
        out.append(f"<p class='muted'>Not drawn: {names}{more}.</p>")
    return out


def _symptoms(found: tuple[Symptom, ...], run: Run) -> list[str]:
    if not found:
        return []
    unit = "epoch" if run.context.get("step_unit") == "epoch" else "step"
    out = ["<h3>Symptoms behind the diagnosis</h3><ul class='symptoms'>"]
    for s in found:
        where = f" <span class='step'>at {unit} {s.step:,}</span>" if s.step is not None else ""
        series = f" <span class='muted'>({e(s.series)})</span>" if s.series else ""
        out.append(f"<li><b>{e(s.label)}</b>{where}{series}: {e(s.evidence)}</li>")
    out.append("</ul>")
    return out


def _causes(report: RunReport, top: int) -> list[str]:
    d = report.diagnosis
    if not d.causes:
        return []
    out = [f"<h3>{e(causes_heading(report))}</h3>"]
    for rank, c in enumerate(d.causes[:top], 1):
        tied = " <span class='muted'>(tied)</span>" if c.tied_with else ""
        out.append(f"<details{' open' if rank == 1 else ''}><summary>{rank}. {e(c.title)}{tied} "
                   f"<code>{e(c.id)}</code> <span class='bar'>{bar(c.confidence)}</span> "
                   f"{c.confidence:.2f} {e(c.band or '')}</summary><p>{e(c.explanation)}</p>"
                   "<b>Fixes, in order</b><ol>")
        out += [f"<li>{e(f.action)}"
                + (f" <span class='verify'>Verify: {e(f.verify)}</span>" if f.verify else "")
                + "</li>" for f in c.fixes]
        out.append("</ol><b>Evidence</b><ul>")
        out += [f"<li>{e(line.strip())}</li>" for line in c.evidence_lines()]
        out.append("</ul></details>")
    return out
