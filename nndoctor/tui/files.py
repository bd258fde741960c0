"""Files of the interview: the saved session (JSON) and safe writing (no textual here)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nndoctor.engine.session import Session
from nndoctor.safe_write import write_report
from nndoctor.tui.state import Interview

SAVE_FORMAT = 1  # version of the saved-session JSON
SAVE_KEY = "nndoctor_session"


def session_json(interview: Interview) -> str:
    """The session (Session.to_dict) plus the log it came from, for ``--resume``."""
    run = interview.run
    data: dict[str, Any] = {SAVE_KEY: SAVE_FORMAT,
                            "log": str(run.path.resolve()) if run is not None else None}
    data.update(interview.session.to_dict())
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def read_saved(path: Path) -> dict[str, Any]:
    """Read a saved session file; a file that is not one raises ValueError naming it."""
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a saved session (bad JSON at line {exc.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("facts", []), list):
        raise ValueError(f"{path}: not a saved nndoctor session")
    return data


def restore(data: Mapping[str, Any], session: Session | None = None) -> Session:
    """Build a Session from saved data, reusing ``session``'s engine when given."""
    engine = session.engine if session is not None else None
    return Session.from_dict(data, engine)


def write_file(path: Path, text: str, protect: Path | None = None) -> None:
    """Write a report or session atomically, refusing to overwrite anything the log read."""
    write_report(path, text, [protect] if protect is not None else [])
