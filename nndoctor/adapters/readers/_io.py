"""Careful file access for readers: one-line LogErrors, never a traceback, never a write."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from nndoctor.adapters.run import LogError

SHARED_HEAD = 65536  # bytes: the head of a file read once while the readers are asked about it
_shared: dict[str, bytes | None] = {}  # path -> its first SHARED_HEAD bytes (None: not read yet)
_UNSHARED: Any = object()  # what _shared.get gives for any other path


@contextmanager
def shared_head(path: Path) -> Iterator[None]:
    """While the readers are asked about ``path`` (``readers.detect_reader``): every
    :func:`head` of it up to :data:`SHARED_HEAD` bytes is cut from one read of its start,
    made at the first, instead of each sniff opening the file again."""
    _shared.clear()
    _shared[os.fspath(path)] = None
    try:
        yield
    finally:
        _shared.clear()


def head(path: Path, size: int = 4096) -> bytes:
    """The first ``size`` bytes of a file, or b"" if it cannot be read (for ``can_read``).

    Opened without blocking and only read when it is a regular file: sniffing a FIFO, a device
    or /proc/kmsg behind a symlink never waits."""
    if _shared:
        key = os.fspath(path)
        data = _shared.get(key, _UNSHARED)
        if data is None:
            data = _shared[key] = _head(path, SHARED_HEAD)
        if data is not _UNSHARED and (size <= len(data) or len(data) < SHARED_HEAD):
            return data[:size]  # (a read shorter than asked is all the file holds)
    return _head(path, size)


def _head(path: Path, size: int) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return b""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b""
        return os.read(fd, size)
    except OSError:  # EAGAIN from a file that has nothing to give yet
        return b""
    finally:
        os.close(fd)


def head_text(path: Path, size: int = 4096) -> str:
    """The first bytes of a file as text (BOM stripped, undecodable bytes replaced)."""
    return head(path, size).decode("utf-8-sig", errors="replace")


def first_line(path: Path) -> str:
    """The first line of a text file without its newline ("" when unreadable)."""
    lines = head_text(path).splitlines()
    return lines[0] if lines else ""


def cannot_read(path: Path, exc: OSError) -> LogError:
    """The one-line error for a file that cannot be opened or read."""
    if isinstance(exc, IsADirectoryError):
        return LogError(path, "is a directory, expected a file")
    if isinstance(exc, FileNotFoundError):
        return LogError(path, "no such file")
    return LogError(path, f"cannot read: {exc.strerror or exc}")


def open_log(path: Path, text: bool = False) -> IO[Any]:
    """Open a log for reading (binary, or UTF-8 text with a BOM dropped); LogError when not."""
    try:
        if text:
            return open(path, encoding="utf-8-sig", newline="")
        return open(path, "rb")
    except OSError as exc:
        raise cannot_read(path, exc) from None


def read_bytes(path: Path) -> bytes:
    """The whole file; LogError when it is unreadable or empty."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise cannot_read(path, exc) from None
    if not data:
        raise LogError(path, "empty file")
    return data


def read_text(path: Path) -> str:
    """The whole file as UTF-8 text (a BOM is dropped); LogError when unreadable or empty."""
    data = read_bytes(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LogError(path, f"not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise LogError(path, "empty file")
    return text


def load_json(path: Path) -> Any:
    """Parse a JSON file (NaN/Infinity accepted, as Python writes them); LogError on bad JSON
    or on a file over ``_limits.MAX_JSON_BYTES`` (parsed in one piece, it costs ~10× its size)."""
    from nndoctor.adapters.readers import _limits

    size = file_size(path)
    if size > _limits.MAX_JSON_BYTES:
        raise LogError(path, f"{_limits.size_text(size)}, over the "
                             f"{_limits.MAX_JSON_BYTES >> 20} MiB limit for a JSON log (log the "
                             "metrics as JSON Lines or CSV, which are streamed)")
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise LogError(path, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")\
            from None
    except RecursionError:
        raise LogError(path, "invalid JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits (int-string limit)
        raise LogError(path, f"invalid JSON: {str(exc).split(':')[0]}") from None


def to_float(value: Any) -> float | None:
    """A JSON/YAML value as a float, None when it is not a number (bools are not numbers)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return None


_JSON_CACHE: dict[tuple[str, int, int], Any] = {}


def load_json_cached(path: Path) -> Any:
    """:func:`load_json`, remembered for a few files so ``can_read`` and ``read`` parse once."""
    st = Path(path).stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _JSON_CACHE:
        if len(_JSON_CACHE) >= 8:
            _JSON_CACHE.pop(next(iter(_JSON_CACHE)))
        _JSON_CACHE[key] = load_json(path)
    return _JSON_CACHE[key]


def file_size(path: Path) -> int:
    """Size in bytes, -1 when the path cannot be stat'ed."""
    try:
        return Path(path).stat().st_size
    except OSError:
        return -1


def json_document_of(path: Path, shape: Any, max_bytes: int,
                     parse: Callable[[Any], Any]) -> bool:
    """Whether ``path`` is a ``.json`` file whose start matches ``shape`` (a compiled regex), of
    at most ``max_bytes``, and whose document ``parse`` accepts (returns something not None)."""
    if path.suffix.lower() != ".json" or not shape.match(head_text(path, 4096)):
        return False
    if not 0 < file_size(path) <= max_bytes:
        return False
    try:
        return parse(load_json_cached(path)) is not None
    except LogError:
        return False
