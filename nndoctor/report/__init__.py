"""Renderers of diagnoses: text, JSON, JSON lines, GitHub annotations, Markdown, HTML."""

from __future__ import annotations

import json

from nndoctor.pipeline import RunReport
from nndoctor.report.common import document, run_dict, run_id
from nndoctor.report.html import render_html
from nndoctor.report.markdown import render_markdown
from nndoctor.report.text import TextStyle, render_text
from nndoctor.sanitize import escape_json


def render(reports: list[RunReport], fmt: str, top: int = 5,
           style: TextStyle | None = None) -> str:
    """The report in ``fmt``; ``style`` (width, colour, --explain) is for ``text`` only."""
    if fmt == "jsonl":  # one run per line
        return "".join(escape_json(json.dumps(run_dict(r, top), ensure_ascii=False)) + "\n"
                       for r in reports)
    if fmt == "json":
        text = json.dumps(document(reports, top), indent=2, ensure_ascii=False) + "\n"
        return escape_json(text)  # C1 controls, bidi overrides, lone surrogates as \uXXXX
    if fmt == "github":
        from nndoctor.report.github import annotation
        from nndoctor.report.headline import headline

        return "".join(annotation(run_id(r), str(r.run.path), headline(r)) for r in reports)
    if fmt == "markdown":
        return render_markdown(reports, top)
    if fmt == "html":
        return render_html(reports, top)
    return render_text(reports, top, style)


__all__ = ["render"]
