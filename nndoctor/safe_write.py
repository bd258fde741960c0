"""Writing reports without touching a log: refuse inputs (by path or inode), write atomically."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

MAX_PROTECTED = 200_000  # files remembered per write; a larger input folder is judged by location


class OutputError(ValueError):
    """An output path that would overwrite something the run read; one line for the user."""


def _files_under(folder: Path, budget: list[int]) -> Iterable[Path]:
    for dirpath, _dirs, names in os.walk(folder, followlinks=False):
        for name in names:
            if budget[0] <= 0:
                return
            budget[0] -= 1
            yield Path(dirpath, name)


def protected_files(inputs: Iterable[Path], run_paths: Iterable[Path] = ()) -> set[tuple[int, int]]:
    """(device, inode) of every file a diagnosis may have read.

    Readers read beside the file they were given (``hparams.yaml`` next to ``metrics.csv``,
    ``config.json`` next to ``trainer_state.json``, the other files of an MLflow run), so for a
    file input its whole folder counts, and for a run its own folder and everything under it.
    """
    budget = [MAX_PROTECTED]
    folders: set[Path] = set()
    singles: list[Path] = []
    for path in (*inputs, *run_paths):
        if str(path) == "-":
            continue
        if path.is_dir():
            folders.add(path)
        else:
            singles.append(path)
            folders.add(path.parent)
    ids: set[tuple[int, int]] = set()
    for path in [*singles, *(f for folder in sorted(folders) for f in _files_under(folder,
                                                                                   budget))]:
        try:
            st = path.stat()
        except OSError:
            continue
        ids.add((st.st_dev, st.st_ino))
    return ids


def _inside(target: Path, folders: Iterable[Path]) -> bool:
    return any(folder == target or folder in target.parents for folder in folders)


def check_output(path: Path, inputs: Iterable[Path], protected: set[tuple[int, int]]) -> None:
    """Raise :class:`OutputError` if writing ``path`` could replace a file that was read."""
    inputs = [p for p in inputs if str(p) != "-"]
    target = path.resolve()
    if target.is_dir():
        raise OutputError(f"{path}: is a directory; give a file name for the report")
    try:
        st = target.stat()
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    resolved = [p.resolve() for p in inputs]
    if target in resolved or (st is not None and (st.st_dev, st.st_ino) in protected):
        raise OutputError(f"{path}: refusing to overwrite a file the diagnosis reads")
    if st is not None and _inside(target, [p for p in resolved if p.is_dir()]):
        raise OutputError(f"{path}: refusing to overwrite a file inside an input folder; "
                          "write the report elsewhere")


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[IO[str]]:
    """A text file written through a temporary file and a rename: a reader never sees a
    truncated report, and a failed write leaves the old file (or nothing) in place."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        import tempfile  # only a report written to a file (-o) needs it

        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:  # name the file asked for, not the temporary one
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:  # reports are cleaned (sanitize.py); a stray lone surrogate must not lose the report
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as out:
            yield out
            out.flush()
            os.chmod(out.fileno(), _mode_for(path))  # mkstemp makes it 0600
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _mode_for(path: Path) -> int:
    """The replaced file's permissions, or what a plain ``open(path, "w")`` would give."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (:func:`atomic_output`)."""
    with atomic_output(path) as out:
        out.write(text)


def write_report(path: Path, text: str, inputs: Iterable[Path],
                 run_paths: Iterable[Path] = ()) -> None:
    """Check ``path`` against everything read, then write it atomically."""
    inputs = list(inputs)
    check_output(path, inputs, protected_files(inputs, run_paths))
    write_atomic(path, text)
