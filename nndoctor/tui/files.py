"""Files of the interview: the saved session (JSON) and safe writing (no textual here)."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nndoctor.engine.session import Session
from nndoctor.safe_write import write_report
from nndoctor.tui.state import Interview

SAVE_FORMAT = 1  # version of the saved-session JSON
SAVE_KEY = "nndoctor_session"
MAX_SAVE_BYTES = 4_000_000  # a saved session is a few KB; anything larger is not one
SYSTEM_TREES = ("/proc", "/sys", "/dev")  # never scanned because a saved file says so


def session_json(interview: Interview) -> str:
    """The session (Session.to_dict) plus the log it came from, for ``--resume``."""
    run = interview.run
    data: dict[str, Any] = {SAVE_KEY: SAVE_FORMAT,
                            "log": str(run.path.resolve()) if run is not None else None}
    data.update(interview.session.to_dict())
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def read_saved(path: Path) -> dict[str, Any]:
    """Read a saved session file; a file that is not one raises ValueError naming it.

    Only a regular file of at most MAX_SAVE_BYTES is read, opened without blocking: a FIFO, a
    device such as /dev/zero or a huge file is refused before anything is read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{path}: not a regular file (a saved session is a JSON file)")
        if st.st_size > MAX_SAVE_BYTES:
            raise ValueError(f"{path}: {st.st_size:,} bytes is too large for a saved session "
                             f"(at most {MAX_SAVE_BYTES:,})")
        raw = fh.read(MAX_SAVE_BYTES + 1)
    if len(raw) > MAX_SAVE_BYTES:
        raise ValueError(f"{path}: too large for a saved session (at most {MAX_SAVE_BYTES:,})")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a saved session (not UTF-8 text, byte {exc.start})") \
            from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a saved session (bad JSON at line {exc.lineno})") from None
    except (ValueError, RecursionError) as exc:  # a 5,000-digit number, or nested too deeply
        detail = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(":")[0]
        raise ValueError(f"{path}: not a saved session ({detail})") from None
    if not isinstance(data, dict) or not isinstance(data.get("facts", []), list):
        raise ValueError(f"{path}: not a saved nndoctor session")
    return data


def saved_log(data: Mapping[str, Any]) -> Path | None:
    """The log a saved session came from, to re-read for its curves; None when it has none.

    The saved file only names it, so a directory scan of the whole disk or of /proc, /sys or
    /dev (a hand-edited or hostile file) is refused: ValueError asking for the path itself."""
    log = data.get("log")
    if not log:
        return None
    if not isinstance(log, str) or "\x00" in log:
        raise ValueError("the saved session's log is not a path")
    path = Path(log)
    try:
        real = path.resolve()
    except (OSError, RuntimeError):
        real = path
    if real.is_dir() and (real == Path(real.anchor) or any(
            real == Path(tree) or Path(tree) in real.parents for tree in SYSTEM_TREES)):
        raise ValueError(f"{log}: the saved session names a system folder as its log; give the "
                         f"log's path yourself: nndoctor ask PATH --resume FILE")
    return path


def restore(data: Mapping[str, Any], session: Session | None = None) -> Session:
    """Build a Session from saved data, reusing ``session``'s engine when given."""
    engine = session.engine if session is not None else None
    return Session.from_dict(data, engine)


def write_file(path: Path, text: str, protect: Path | None = None) -> None:
    """Write a report or session atomically, refusing to overwrite anything the log read."""
    write_report(path, text, [protect] if protect is not None else [])
