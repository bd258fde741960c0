"""Stable run ids: the path a run was found at, relative to the PATH the user gave.

Names like ``tb``, ``csv`` or ``version_0`` repeat across runs; the path under the folder that was
diagnosed does not, and it stays the same from one CI job to the next.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path


def base_id(given: Path | None, path: Path) -> str:
    """``path`` relative to ``given``; ``given`` as typed when the run is that file or folder;
    the run's own path when there is no PATH (stdin, a URL) or it lies elsewhere."""
    if given is None or given == Path():
        return path.as_posix()
    try:
        rel = path.relative_to(given).as_posix()
    except ValueError:
        return path.as_posix()
    return rel if rel != "." else given.as_posix()


def unique_ids(runs: Sequence[tuple[str, str, str]]) -> list[str]:
    """``(base id, path, name)`` per run → ids unique in the report. A repeated id becomes the
    run's path as given (two PATHs holding the same layout), then gets ``#name`` (several runs in
    one file), then ``#2``, ``#3`` … in order."""
    ids = [base for base, _, _ in runs]
    counts = Counter(ids)
    ids = [path if counts[x] > 1 else x for x, (_, path, _) in zip(ids, runs, strict=True)]
    counts = Counter(ids)
    ids = [f"{x}#{name}" if counts[x] > 1 else x for x, (_, _, name) in zip(ids, runs, strict=True)]
    seen: Counter[str] = Counter()
    out = []
    for x in ids:
        seen[x] += 1
        out.append(x if seen[x] == 1 else f"{x}#{seen[x]}")
    return out
