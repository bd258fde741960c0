"""The per-user cache folder of nndoctor (never next to the logs), atomic writes into it, and
*stamped* files: a payload made from some files, kept with their content hash and their stats.

Everything cached there is keyed by what it was made from, so a stale entry is never used; a
missing, corrupt or unwritable cache only costs the work it would have saved.
``NNDOCTOR_NO_CACHE=1`` turns every cache off.

A stamped file is judged as git's index judges a work tree: while the stats of the files it was
made from (device, inode, size, mtime and ctime of each) are those it was stamped with, it is
used without reading them; when they moved, the files are hashed, and the payload is used only
if their content hash is the stamped one (then the new stats are stamped). Any write moves a
file's ctime, which no tool sets back; a file changed less than RACY_NS before its stats are
taken is hashed instead (an edit within the same clock tick could leave its stats unchanged).
The stats are kept as they are, not hashed, so a start that finds them unchanged imports no
hashlib (~11 M instructions with the OpenSSL it loads).
"""

from __future__ import annotations

import contextlib
import os
import time
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

RACY_NS = 2_000_000_000  # a file changed this recently is hashed, never judged by its stats


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


def short_name(text: str) -> str:
    """A short, stable file name part for ``text`` (a path, ``sys.path``): two texts may share
    one, so what is stored under it says what it was made from."""
    return f"{zlib.crc32(text.encode(errors='surrogateescape')):08x}"


def stat_key(files: Sequence[str]) -> bytes:
    """The stats of ``files`` as one text, or b"" when one of them changed less than RACY_NS
    ago. Raises OSError when one cannot be stat'ed."""
    now = time.time_ns()
    parts = []
    for f in files:
        st = os.stat(f)
        if now - max(st.st_mtime_ns, st.st_ctime_ns) < RACY_NS:
            return b""
        parts.append(f"{f}\0{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:"
                     f"{st.st_ctime_ns}\0")
    return "".join(parts).encode(errors="surrogateescape")


def content_digest(files: Sequence[str], salt: str) -> str:
    """The hex SHA-256 of ``salt`` and of each file's name, size and bytes."""
    import hashlib

    h = hashlib.sha256(salt.encode())
    for f in files:
        data = read_file(f)
        h.update(f"{os.path.basename(f)}:{len(data)}:".encode())
        h.update(data)
    return h.hexdigest()


def read_file(path: str) -> bytes:
    """The bytes of a file through os.read: when hundreds of small files are hashed, reading
    them is most of the work, and open() costs half as much again."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


class Stamped(NamedTuple):
    """A stamped file's payload and the content digest of the files it was made from."""

    digest: str
    payload: memoryview


def load_stamped(where: Path, files: Sequence[str], salt: str) -> Stamped | None:
    """The payload stamped in ``where`` when ``files`` (hashed with ``salt``) are what it was
    made from; None when they are not, or the file is missing or malformed. OSError when a file
    of ``files`` cannot be read."""
    key = stat_key(files)
    try:
        data = memoryview(where.read_bytes())
        end = data.obj.index(b"\n")  # type: ignore[union-attr]
        gap = data.obj.index(b"\n", end + 1)  # type: ignore[union-attr]
        digest, size = bytes(data[:end]).decode(), int(data[end + 1:gap])
        kept, payload = data[gap + 1:gap + 1 + size], data[gap + 1 + size:]
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if key and kept == key:  # by the stats: no file read
        return Stamped(digest, payload)
    if content_digest(files, salt) != digest:
        return None
    if key:  # the same content: its stats are worth keeping now
        store_stamped(where, files, salt, digest, key, payload)
    return Stamped(digest, payload)


def store_stamped(where: Path, files: Sequence[str], salt: str, digest: str, key: bytes,
                  payload: bytes | memoryview) -> bool:
    """Keep ``payload``, made from ``files`` whose content digest was ``digest`` and stat key
    ``key`` (both taken before it was made), unless they changed meanwhile; the stat key only
    when the stats are still those. False when nothing was kept."""
    try:
        if content_digest(files, salt) != digest:  # changed while it was made
            return False
        if stat_key(files) != key:
            key = b""
        write_atomic(where, b"%s\n%d\n%s%s" % (digest.encode(), len(key), key, payload))
    except OSError:
        return False
    return True
