"""GitHub Actions workflow commands: one annotation per run that needs attention.

``::error`` for a likely or confirmed cause, ``::warning`` for a possible one, ``::notice`` when
there was too little data to judge, nothing for a healthy run. Values are escaped as the Actions
runner expects (``actions/toolkit``, ``command.ts``: ``%``, CR and LF in the message; also ``:``
and ``,`` in properties), after the log strings are cleaned of control characters.
"""

from __future__ import annotations

from nndoctor.report.headline import Headline
from nndoctor.sanitize import clean

LEVEL = {"confirmed": "error", "likely": "error", "possible": "warning"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(run_ident: str, path: str, h: Headline) -> str:
    """The workflow command for one run, or '' when the run needs none."""
    if h.alarm is not None and h.confidence is not None:
        level = LEVEL[h.alarm]
        causes = (" or ".join(h.leading) + " (tied)") if h.tied else h.leading[0]
        title = f"nndoctor: {causes}"
        message = f"{clean(run_ident)}: {causes} - {h.confidence:.2f} {h.band}."
        if h.first_fix:
            message += f" Do first: {h.first_fix}"
    elif h.verdict == "insufficient-data":
        level, title = "notice", "nndoctor: too little data to judge"
        message = f"{clean(run_ident)}: too little in the log to judge the run."
        if h.next_fact:
            message += f" Answer --answer {h.next_fact}=... ({h.next_text})"
    else:
        return ""
    return (f"::{level} file={escape_property(clean(path))},title={escape_property(title)}"
            f"::{escape_data(message)}\n")
