"""Reader registry: find the reader for a log file and read files or whole directories into Runs.

Built-in readers are declared in ``_sniff.py`` and imported only when a file could be theirs;
third-party ones are found through the entry-point group ``nndoctor.readers`` (an object with
``name``, ``can_read`` and ``read``, or a class making one). A reader may also define
``group_key(path)`` and ``read_many(paths)``: the files of a directory scan that share a key are
read together (TensorBoard event files of one run, HF checkpoint copies, the files of an MLflow
run). ``priority`` (default 50) orders the readers; lower asks first.
"""

from __future__ import annotations

import dataclasses
import operator
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from nndoctor.adapters.names import apply_overrides, with_loss_warning
from nndoctor.adapters.readers._io import load_json, shared_head
from nndoctor.adapters.readers._merge import Logged, merge_logged
from nndoctor.adapters.readers._plugins import entry_points
from nndoctor.adapters.readers._sniff import BUILTIN, BuiltinReader, Named
from nndoctor.adapters.run import LogError, Reader, Run

ENTRY_POINT_GROUP = "nndoctor.readers"
SKIP_DIRS = {"__pycache__", "node_modules", "site-packages"}
plugin_errors: list[str] = []  # one line per third-party reader that failed to load

__all__ = ["BUILTIN", "detect_reader", "read_path", "readers"]


def _priority(reader: Reader) -> int:
    value = getattr(reader, "priority", 50)
    return value if isinstance(value, int) else 50


@cache
def readers() -> tuple[Reader, ...]:
    """All readers, built-in and installed plugins, in the order they are asked."""
    found: list[Reader] = list(BUILTIN)
    names = {r.name for r in found}
    for ep in entry_points(ENTRY_POINT_GROUP):
        if ep.value.startswith(f"{__name__}."):
            continue  # our own built-ins, registered there like any plugin: counted once
        if ep.name in names:
            plugin_errors.append(f"reader plugin {ep.name!r} ({ep.value}) ignored: name taken")
            continue
        try:
            obj = ep.load()
            reader = obj() if isinstance(obj, type) else obj
            if not (isinstance(getattr(reader, "name", None), str)
                    and callable(getattr(reader, "can_read", None))
                    and callable(getattr(reader, "read", None))):
                raise TypeError("not a reader (needs name, can_read and read)")
        except Exception as exc:  # a broken plugin must not break nndoctor
            plugin_errors.append(f"reader plugin {ep.name!r} ({ep.value}) not loaded: {exc}")
            continue
        if reader.name in names:  # also a built-in reader object under another name
            plugin_errors.append(f"reader plugin {ep.name!r} ({ep.value}) ignored: reader "
                                 f"{reader.name!r} is already registered")
            continue
        names.add(reader.name)
        found.append(reader)
    return tuple(sorted(found, key=_priority))  # stable: built-ins keep their order on ties


def detect_reader(path: str | Path) -> Reader | None:
    """The first reader that recognises this file, or None. The built-in readers' sniffs
    share one :class:`Named` of the path, and every reader one read of its head
    (:func:`_io.shared_head`)."""
    p = path if isinstance(path, Path) else Path(path)  # Path(a Path) parses it again
    named = Named(p)
    with shared_head(p):
        for reader in readers():
            try:
                if isinstance(reader, BuiltinReader):
                    if reader.test(named) and reader.load().can_read(p):
                        return reader.load()
                elif reader.can_read(p):
                    return reader
            except Exception:  # can_read must only answer; a plugin that raises just says no
                continue
    return None


def read_path(
    path: str | Path,
    *,
    metric_overrides: Mapping[str, str] | None = None,
    on_error: Callable[[LogError], None] | None = None,
) -> list[Run]:
    """Read a log file, or every log under a directory, into Runs (sorted by path).

    Inside a directory, logs of one run written by two loggers become one run (_merge.py). A
    run without a train or val loss carries a warning saying which series it has and how to
    name the loss (``--metric train_loss=TAG``). A file nobody recognises is an error when named
    directly and ignored inside a directory.
    Bad logs raise :class:`LogError`; inside a directory, ``on_error`` (when given) receives
    them instead and the scan goes on. Nothing is ever written next to the logs.
    """
    special = _special(path, metric_overrides, on_error)  # stdin, s3://…, sqlite:///…
    if special is not None:
        return special
    root = Path(path)
    try:
        st = root.stat()
    except FileNotFoundError:
        raise LogError(root, "no such file or directory") from None
    except OSError as exc:
        raise LogError(root, f"cannot access: {exc.strerror or exc}") from None
    if not (os.path.isdir(root) or stat.S_ISREG(st.st_mode)):
        raise LogError(root, "not a regular file (a device, FIFO or socket)")
    runs = _read_dir(root, on_error) if os.path.isdir(root) else _read_file(root, st.st_size)
    if metric_overrides:
        runs = [apply_overrides(run, metric_overrides) for run in runs]
    return [with_loss_warning(run) for run in runs]  # never a silent "nothing found"


def _special(path: str | Path, overrides: Mapping[str, str] | None,
             on_error: Callable[[LogError], None] | None) -> list[Run] | None:
    """``-`` (console output on standard input), a remote URL (``s3://…``, read through a
    temporary mirror: _remote.py) or an MLflow ``sqlite:///…`` URI; None for a local path."""
    if os.path.exists(path):
        return None
    if str(path) == "-":
        from nndoctor.adapters.readers.console import read_stdin

        runs = read_stdin()
        runs = [apply_overrides(r, overrides) for r in runs] if overrides else runs
        return [with_loss_warning(r) for r in runs]
    from nndoctor.adapters.readers._remote import read_remote, remote_url

    url = remote_url(path)
    if url is not None:
        return read_remote(url, lambda p, on_error: read_path(
            p, metric_overrides=overrides, on_error=on_error), on_error)
    from nndoctor.adapters.readers.mlflow_sqlite import sqlite_uri_path

    db = sqlite_uri_path(str(path))
    if db is not None:
        return read_path(db, metric_overrides=overrides, on_error=on_error)
    return None


def _read_file(path: Path, size: int) -> list[Run]:
    if size == 0:
        raise LogError(path, "empty file")
    if not os.access(path, os.R_OK):
        raise LogError(path, "cannot read: permission denied")
    reader = detect_reader(path)
    if reader is None:
        raise LogError(path, _unknown(path))
    return _guarded(reader, [path])


def _unknown(path: Path) -> str:
    """'unknown log format', or the JSON error when it is a broken ``.json`` file."""
    if path.suffix.lower() == ".json":
        try:
            load_json(path)
        except LogError as exc:
            return exc.message
    return ("unknown log format (expected TensorBoard events, metrics.csv, CSVLogger, "
            "trainer_state.json, MLflow, JSON Lines, Keras history JSON, results.csv, W&B, "
            "skorch history.json, DVCLive, Ray Tune, Sacred or console output; see "
            "docs/formats.md)")


def _guarded(reader: Reader, paths: list[Path]) -> list[Run]:
    """Run a reader; anything but a LogError from it becomes a one-line LogError."""
    try:
        read_many = getattr(reader, "read_many", None)
        if read_many is not None:
            return list(read_many(paths))
        return [run for p in paths for run in reader.read(p)]
    except LogError:
        raise
    except RecursionError:
        raise LogError(paths[0], f"{reader.name}: structure nested too deeply") from None
    except (OSError, ValueError, KeyError, IndexError, TypeError, UnicodeError,
            OverflowError, MemoryError) as exc:
        raise LogError(paths[0], f"{reader.name}: cannot read ({type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0] if str(exc) else ''})") from None


def _walk(root: Path) -> Iterator[Path]:
    """Files under ``root``, each directory and file once even with symlink loops or several links
    to one place. Real paths come first (a linked folder is entered only after every real one, a
    linked file is taken last), so a run is named after where it really is. Hidden folders are
    skipped."""
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()
    try:
        with os.scandir(root):
            pass
    except OSError as exc:
        raise LogError(root, f"cannot read directory: {exc.strerror or exc}") from None
    pending = [root]
    while pending:
        stack, pending = pending, []
        linked_files: list[Path] = []
        while stack:
            folder = stack.pop()
            try:
                st = folder.stat()
                with os.scandir(folder) as it:
                    entries = sorted(it, key=_NAME)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen_dirs:
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            subdirs: list[Path] = []
            for entry in entries:
                try:
                    if entry.is_dir():
                        if not entry.name.startswith(".") and entry.name not in SKIP_DIRS:
                            (pending if entry.is_symlink() else subdirs).append(
                                _child(folder, entry.name))
                    elif entry.is_file():
                        if entry.is_symlink():
                            linked_files.append(_child(folder, entry.name))
                            continue
                        file = entry.stat()  # no link: the file's own (what Path.stat gives)
                        key = (file.st_dev, file.st_ino)
                        if stat.S_ISREG(file.st_mode) and key not in seen_files:
                            seen_files.add(key)
                            yield _child(folder, entry.name)
                except OSError:
                    continue
            stack.extend(reversed(subdirs))
        for file in linked_files:
            yield from _once(file, seen_files)


_NAME = operator.attrgetter("name")
# pathlib's own step of its directory walks: ``folder / name`` for a name that is one part,
# without parsing it (``/`` and ``Path(entry.path)`` parse every part again)
_make_child = getattr(Path, "_make_child_relpath", None)


def _child(folder: Path, name: str) -> Path:
    """``folder / name`` of an entry's name (one part, as os.scandir gives it)."""
    return _make_child(folder, name) if _make_child is not None else folder / name


def _once(path: Path, seen: set[tuple[int, int]]) -> Iterator[Path]:
    try:
        st = path.stat()
    except OSError:
        return
    if not stat.S_ISREG(st.st_mode):  # by stat, never by opening: a FIFO or device blocks
        return
    if (st.st_dev, st.st_ino) not in seen:
        seen.add((st.st_dev, st.st_ino))
        yield path


def _kept(items: Iterable[Path], into: list[Path]) -> Iterator[Path]:
    """``items``, each appended to ``into`` as it passes."""
    for item in items:
        into.append(item)
        yield item


Groups = dict[tuple[str, Any], tuple[Reader, list[Path]]]  # (reader, group key) -> files
# what a directory scan makes of one file: ("log", reader name, group key), ("empty", error),
# ("unreadable", error), or None (no reader claims it)
Found = tuple[str, Any, Any] | tuple[str, LogError] | None


def classify(file: Path) -> Found:
    """What :func:`group_files` makes of one file under the folder it scans."""
    if not os.access(file, os.R_OK):
        return ("unreadable", LogError(file, "cannot read: permission denied"))
    reader = detect_reader(file)
    if reader is None:
        return None
    if _size(file) == 0:
        return ("empty", LogError(file, "empty file"))
    group_key = getattr(reader, "group_key", None)
    return ("log", reader.name, group_key(file) if group_key is not None else file)


def group_files(root: Path,
                classify_all: Callable[[Iterable[Path]], Iterable[Found]] | None = None
                ) -> tuple[Groups, list[LogError], list[LogError]]:
    """The log files under ``root``, grouped as they are read together: (reader name, group key)
    -> (reader, files); plus the files claimed but empty (never opened: /proc files block) and
    those that cannot be read (named, not skipped silently: "no log found" would mislead).
    ``classify_all`` gives :func:`classify` of each file, in order (a sweep's workers do it),
    taking the files as the walk finds them."""
    files: list[Path] = []
    walked = _kept(_walk(root), files)
    found = list(classify_all(walked) if classify_all is not None else map(classify, walked))
    by_name = {r.name: r for r in readers()}
    groups: Groups = {}
    empty: list[LogError] = []
    unreadable: list[LogError] = []
    for file, what in zip(files, found, strict=True):
        if what is None:
            continue
        if what[0] == "log":
            _kind, name, key = what
            groups.setdefault((name, key), (by_name[name], []))[1].append(file)
        else:
            (empty if what[0] == "empty" else unreadable).append(what[1])
    return groups, empty, unreadable


def _read_dir(root: Path, on_error: Callable[[LogError], None] | None) -> list[Run]:
    groups, empty, unreadable = group_files(root)
    for error in empty + unreadable:
        if on_error is not None:
            on_error(error)
        elif error in empty or not groups:
            raise error
    if not groups:
        if empty or unreadable:
            return []
        raise LogError(root, "no log of a known format in this directory")
    logged: list[Logged] = []
    for (_name, key), (reader, files) in groups.items():
        try:
            read = _guarded(reader, files)
        except LogError as exc:
            if on_error is None:
                raise
            on_error(exc)
            continue
        home = key if isinstance(key, Path) and key != files[0] else files[0].parent
        logged += [Logged(run, home) for run in read]
    runs = merge_logged(logged)  # one run logged by two loggers is one run (_merge.py)
    runs = [r for r in runs if r.series or r.warnings] or runs
    runs.sort(key=lambda r: (str(r.path), r.format))
    return _unique_names(runs, root)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def _unique_names(runs: list[Run], root: Path) -> list[Run]:
    """Runs with the same name get their path relative to the scanned folder instead."""
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.name] = counts.get(run.name, 0) + 1
    out = []
    for run in runs:
        if counts[run.name] > 1:
            try:
                rel = run.path.relative_to(root).as_posix()
            except ValueError:
                rel = str(run.path)
            run = dataclasses.replace(run, name=rel if rel != "." else root.name)
        out.append(run)
    return out
