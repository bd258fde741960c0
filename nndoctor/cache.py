"""The per-user cache folder of nndoctor (never next to the logs) and atomic writes into it.

Everything cached there is keyed by what it was made from, so a stale entry is never used; a
missing, corrupt or unwritable cache only costs the work it would have saved.
``NNDOCTOR_NO_CACHE=1`` turns every cache off.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/nndoctor`` or ``~/.cache/nndoctor``: never next to the logs."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nndoctor"


def enabled() -> bool:
    """False when ``NNDOCTOR_NO_CACHE`` is set."""
    return not os.environ.get("NNDOCTOR_NO_CACHE")


def write_atomic(where: Path, data: bytes) -> None:
    """Write ``data`` to ``where`` through a temporary file in the same folder, so a reader sees
    the old file or the new one, never half of one. Raises OSError when it cannot."""
    import tempfile

    where.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + where.name + "-", suffix=".tmp", dir=where.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, where)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
