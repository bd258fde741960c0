"""Renderers of diagnoses: text, JSON, JSON lines, GitHub annotations, Markdown, HTML.

Each renderer is imported when it is asked for (rich only for text, numpy plots only for HTML)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from nndoctor.pipeline import RunReport
from nndoctor.sanitize import escape_json

if TYPE_CHECKING:
    from nndoctor.report.terminal import TextStyle


def render(reports: list[RunReport], fmt: str, top: int = 5,
           style: TextStyle | None = None) -> str:
    """The report in ``fmt``; ``style`` (width, colour, --explain) is for ``text`` only."""
    if fmt in ("json", "jsonl"):
        from nndoctor.report.common import document, run_dict

        if fmt == "jsonl":  # one run per line
            return "".join(escape_json(json.dumps(run_dict(r, top), ensure_ascii=False)) + "\n"
                           for r in reports)
        from nndoctor.report.indented_json import dumps

        text = dumps(document(reports, top)) + "\n"
        return escape_json(text)  # C1 controls, bidi overrides, lone surrogates as \uXXXX
    if fmt == "github":
        from nndoctor.report.common import run_id
        from nndoctor.report.github import annotation
        from nndoctor.report.headline import headline

        return "".join(annotation(run_id(r), str(r.run.path), headline(r)) for r in reports)
    if fmt == "markdown":
        from nndoctor.report.markdown import render_markdown

        return render_markdown(reports, top)
    if fmt == "html":
        from nndoctor.report.html import render_html

        return render_html(reports, top)
    from nndoctor.report.text import render_text

    return render_text(reports, top, style)


__all__ = ["render"]
