"""Logs on remote storage (``s3://``, ``gs://``, ``az://``, … through ``fsspec``).

``nndoctor diagnose s3://bucket/runs/`` lists the tree with fsspec, copies the files a reader
could want into a private temporary mirror (streamed in 1 MiB chunks, bounded: at most
:data:`MAX_BYTES` and :data:`MAX_FILES`; model checkpoints, images and archives are not copied),
reads the mirror exactly as a local folder, and deletes it. Runs and errors name the remote
path, never the mirror. Nothing is written to the bucket, and nothing next to local logs.
Needs ``pip install 'nndoctor[remote]'`` (fsspec + s3fs; ``[gcs]`` for gcsfs); credentials and
endpoints come from the usual places (``AWS_*`` variables, ``~/.aws``, or fsspec's
``FSSPEC_S3_ENDPOINT_URL`` for an S3-compatible server).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from nndoctor.adapters.run import LogError, Run
from nndoctor.lazy_re import regex

MAX_BYTES = 2 * 1024**3
MAX_FILES = 20_000
CHUNK = 1024 * 1024
NOT_LOGS = {".pt", ".pth", ".ckpt", ".bin", ".safetensors", ".h5", ".keras", ".onnx", ".pkl",
            ".pickle", ".npz", ".npy", ".tar", ".zip", ".gz", ".tgz", ".png", ".jpg", ".jpeg",
            ".gif", ".mp4", ".parquet", ".arrow", ".pb", ".index", ".data-00000-of-00001"}
_URL = regex(r"^([a-zA-Z][a-zA-Z0-9+.\-]+):/{1,3}(.*)$")
LOCAL_SCHEMES = {"file", "sqlite"}


def remote_url(path: str | Path) -> str | None:
    """``s3://bucket/key`` for a remote URL (also when a Path collapsed ``//`` to ``/``)."""
    text = str(path)
    m = _URL.match(text)
    if not m or m.group(1).lower() in LOCAL_SCHEMES or Path(text).exists():
        return None
    return f"{m.group(1).lower()}://{m.group(2).lstrip('/')}"


def read_remote(url: str, read_local: Callable[..., list[Run]],
                on_error: Callable[[LogError], None] | None = None) -> list[Run]:
    """Read ``url`` through a temporary local mirror with ``read_local(path, on_error=…)``."""
    try:
        import fsspec
    except ImportError:
        raise LogError(url, "remote paths need fsspec: pip install 'nndoctor[remote]'") from None
    try:
        fs, root = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise LogError(url, f"cannot open remote storage ({exc}); pip install "
                            "'nndoctor[remote]' (s3) or 'nndoctor[gcs]'") from None
    root = root.rstrip("/")
    try:
        info = fs.info(root)
        if info.get("type") == "directory":
            listing = fs.find(root, detail=True)
            is_dir = True
        else:
            listing = {root: info}
            is_dir = False
    except FileNotFoundError:
        raise LogError(url, "no such file or directory") from None
    except Exception as exc:  # network, credentials: one line, never a traceback
        raise LogError(url, f"cannot list remote path: {type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    wanted: list[tuple[str, str, int]] = []
    total = 0
    for key, meta in sorted(listing.items()):
        if meta.get("type") == "directory":
            continue
        rel = PurePosixPath(key).relative_to(root).as_posix() if is_dir else PurePosixPath(key).name
        parts = rel.split("/")
        if any(p.startswith(".") for p in parts) or PurePosixPath(rel).suffix.lower() in NOT_LOGS:
            continue
        size = int(meta.get("size") or 0)
        total += size
        wanted.append((key, rel, size))
        if total > MAX_BYTES or len(wanted) > MAX_FILES:
            raise LogError(url, f"more than {MAX_BYTES // 1024**3} GiB or {MAX_FILES} log files "
                                "under this remote path: point at one run folder")
    if not wanted:
        raise LogError(url, "no log of a known format in this directory" if is_dir
                       else "empty or not a log")
    import shutil  # with tempfile: only a remote path is copied to a local folder
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="nndoctor-remote-"))
    try:
        base = tmp / (PurePosixPath(root).name or "remote")
        for key, rel, _size in wanted:
            target = base / rel if is_dir else tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with fs.open(key, "rb") as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
            except Exception as exc:
                raise LogError(f"{url.rstrip('/')}/{rel}" if is_dir else url,
                               f"cannot read remote file: {type(exc).__name__}") from None
        local = base if is_dir else tmp / wanted[0][1]
        prefix = str(local)

        def to_url(p: Any) -> str:
            text = str(p)
            if not text.startswith(prefix):
                return text
            return url.rstrip("/") + text[len(prefix):] if is_dir else url

        def mapped(error: LogError) -> LogError:
            return LogError(to_url(error.path), error.message.replace(prefix, url.rstrip("/")))

        try:
            runs = read_local(local, on_error=(lambda e: on_error(mapped(e)))
                              if on_error is not None else None)
        except LogError as exc:
            raise mapped(exc) from None
        out = []
        for run in runs:
            ctx = {**run.context, "remote_path": to_url(run.path)}
            out.append(dataclasses.replace(run, path=Path(to_url(run.path)), context=ctx,
                                           warnings=tuple(w.replace(prefix, url.rstrip("/"))
                                                          for w in run.warnings)))
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
