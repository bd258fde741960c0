"""Self-contained HTML report with plots of the curves, marked where symptoms were detected.

Plots need matplotlib (the `plot` extra); without it the report shows sparklines instead.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np

from nndoctor.adapters.run import CANONICAL
from nndoctor.pipeline import RunReport
from nndoctor.report.common import bar, curve_lines, summary, symptom_marks
from nndoctor.sanitize import clean

STYLE = """body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222}
h2{border-bottom:1px solid #ccc}.bar{font-family:monospace;color:#b33}
.verdict-problem{color:#b33}.verdict-healthy{color:#282}.verdict-insufficient-data{color:#886}
pre{background:#f6f6f6;padding:.5em}small{color:#666}"""


def plot_png(report: RunReport) -> bytes | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    run = report.run
    names = [n for n in CANONICAL if run.get(n) is not None and len(run.series[n])]
    if not names:
        return None
    marks = symptom_marks(report)
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 2.2 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        series = run.series[name]
        ax.plot(series.steps, series.values, lw=1.2, label=name)
        bad = ~np.isfinite(series.values)
        if bad.any():
            ax.axvline(series.steps[np.argmax(bad)], color="red", ls="--", lw=1)
            ax.text(series.steps[np.argmax(bad)], ax.get_ylim()[1], " first NaN/Inf",
                    color="red", va="top", fontsize=8)
        for tag, step, fact in marks:
            if tag == name:
                ax.axvline(step, color="orange", ls=":", lw=1)
                ax.text(step, ax.get_ylim()[0], f" {fact}", color="darkorange", fontsize=8,
                        rotation=90, va="bottom")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def e(text: object) -> str:
    """A string for HTML: control characters made visible (clean), then HTML-escaped."""
    return html.escape(clean(text))


def render_html(reports: list[RunReport], top: int = 5) -> str:
    out = ["<!doctype html><html><head><meta charset='utf-8'><title>nndoctor report</title>",
           f"<style>{STYLE}</style></head><body><h1>nndoctor report</h1>"]
    if len(reports) > 1:
        verdicts, tops = summary(reports)
        out.append("<p>" + ", ".join(f"{v} {e(k)}" for k, v in verdicts.items()) + "</p><ul>")
        out += [f"<li>{v} × {e(k)}</li>" for k, v in tops.items()]
        out.append("</ul>")
    for report in reports:
        d, run = report.diagnosis, report.run
        out.append(f"<h2>{e(run.name)}</h2><p><small>{e(str(run.path))} ({e(run.format)})"
                   f"</small><br>Verdict: <b class='verdict-{d.verdict}'>{d.verdict}</b></p>")
        out += [f"<p>warning: {e(w)}</p>" for w in run.warnings]
        png = plot_png(report)
        if png:
            data = base64.b64encode(png).decode()
            out.append(f"<img alt='curves of {e(run.name)}' src='data:image/png;base64,{data}'>")
        else:
            rows = "\n".join(f"{n:<11} {s}  {r}" for n, s, r in curve_lines(run))
            out.append(f"<pre>{html.escape(rows)}</pre>"
                       "<p><small>install nndoctor[plot] for plots</small></p>")
        for rank, c in enumerate(d.causes[:top], 1):
            out.append(f"<h3>{rank}. {e(c.title)} <code>{e(c.id)}</code> "
                       f"<span class='bar'>{bar(c.confidence)}</span> {c.confidence:.2f} "
                       f"{c.band}</h3><p>{e(c.explanation)}</p><b>Evidence</b><ul>")
            out += [f"<li>{e(line.strip())}</li>" for line in c.evidence_lines()]
            out.append("</ul><b>Fixes, in order</b><ol>")
            out += [f"<li>{e(f.action)}" + (f" <i>Verify: {e(f.verify)}</i>" if f.verify else "")
                    + "</li>" for f in c.fixes]
            out.append("</ol>")
        if d.questions:
            out.append("<b>Questions that would sharpen the diagnosis</b><ul>")
            out += [f"<li>{e(q.text)} <code>{e(q.fact)}</code><br><small>{e(q.why)}</small></li>"
                    for q in d.questions]
            out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out)
