"""Renderers of diagnoses: text, JSON, Markdown, HTML."""

from __future__ import annotations

import json

from nndoctor.pipeline import RunReport
from nndoctor.report.common import document
from nndoctor.report.html import render_html
from nndoctor.report.markdown import render_markdown
from nndoctor.report.text import render_text
from nndoctor.sanitize import escape_json


def render(reports: list[RunReport], fmt: str, top: int = 5) -> str:
    if fmt == "jsonl":  # one run per line
        from nndoctor.report.common import run_dict

        return "".join(escape_json(json.dumps(run_dict(r, top), ensure_ascii=False)) + "\n"
                       for r in reports)
    if fmt == "json":
        text = json.dumps(document(reports, top), indent=2, ensure_ascii=False) + "\n"
        return escape_json(text)  # C1 controls, bidi overrides, lone surrogates as \uXXXX
    if fmt == "markdown":
        return render_markdown(reports, top)
    if fmt == "html":
        return render_html(reports, top)
    return render_text(reports, top)


__all__ = ["render"]
