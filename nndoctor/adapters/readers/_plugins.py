"""Reader plugins (the ``nndoctor.readers`` entry points) found without importing
importlib.metadata on every start.

What importlib.metadata finds depends only on ``sys.path``, the ``*.dist-info`` / ``*.egg-info``
folders in its entries and their ``entry_points.txt``; their names and stats are the key of a
per-user cache of the group's entry points. Installing, removing, upgrading or editing a
distribution changes the key, and then importlib.metadata is asked again. The key is kept as
text (no hashlib on a start).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
from typing import Any, NamedTuple

from nndoctor import cache

CACHE_FORMAT = 2  # 2: the key as text, the cache named by a CRC of sys.path
_METADATA = (".dist-info", ".egg-info")


class Plugin(NamedTuple):
    """One entry point of the group, loaded only when asked."""

    name: str
    value: str
    group: str

    def load(self) -> Any:
        from importlib.metadata import EntryPoint

        return EntryPoint(self.name, self.value, self.group).load()


def entry_points(group: str) -> list[Plugin]:
    """The group's entry points, in the order importlib.metadata gives them."""
    if not cache.enabled():
        return _scan(group)
    key = _fingerprint(group)
    where = cache.cache_dir() / "plugins" / f"{cache.short_name(repr(sys.path))}.json"
    with contextlib.suppress(Exception):  # missing, corrupt, stale: ask importlib.metadata
        cached = json.loads(where.read_bytes())
        if cached["key"] == key:
            return [Plugin(name, value, group) for name, value in cached["entry_points"]]
    found = _scan(group)
    with contextlib.suppress(OSError):
        if _fingerprint(group) == key:  # nothing was installed while it scanned
            cache.write_atomic(where, json.dumps(
                {"key": key, "entry_points": [[p.name, p.value] for p in found]}).encode())
    return found


def _scan(group: str) -> list[Plugin]:
    from importlib import metadata

    return [Plugin(ep.name, ep.value, group) for ep in metadata.entry_points(group=group)]


def _fingerprint(group: str) -> str:
    """Everything importlib.metadata reads to find entry points, as text: ``sys.path`` and in
    each folder of it the names of the metadata folders and the stats of their
    entry_points.txt; a path entry that is a file (a zip, an egg) by its own stats. A folder's
    own stats are left out: they change whenever any file is written there (the current folder
    is on the path)."""
    finders = [type(f).__qualname__ for f in sys.meta_path if hasattr(f, "find_distributions")]
    parts = [f"{CACHE_FORMAT} {group} {sys.version} {finders!r}"]
    for entry in sys.path:
        parts.append(f"\0{entry}")
        try:
            st = os.stat(entry or ".")
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            parts.append(_stat_text(st))  # a zip file or an egg: stands for its contents
            continue
        try:
            names = sorted(n for n in os.listdir(entry or ".")
                           if (low := n.lower()).endswith(_METADATA) or low == "egg-info")
        except OSError:
            continue
        folder = os.path.join(entry or ".", "")  # joined by hand below: ~200 of them a start
        for name in names:
            parts.append(f"\0{name}")
            try:
                parts.append(_stat_text(os.stat(f"{folder}{name}{os.sep}entry_points.txt")))
            except OSError:  # most distributions have no entry points
                continue
    return "".join(parts)


def _stat_text(st: os.stat_result) -> str:
    return f":{st.st_mode}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
