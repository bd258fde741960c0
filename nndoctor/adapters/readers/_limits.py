"""Size limits of the readers, in one place (issue #12 "lose nothing, hang on nothing").

The resource contract (docs/errors.md): any single input of up to 2 GB is diagnosed or refused
with at most 1.5 GB of resident memory, in time linear in its size. Every format is streamed
where it allows (TFRecord in chunks, CSV rows, JSON Lines, MLflow metric lines); what cannot be
streamed, or what no genuine training log comes near, is bounded here. Crossing a limit is a
one-line warning (the rest of the log is still used) or, when nothing sensible is left, a
one-line LogError naming the file. The numbers are generous: each is far above what a real log
of that kind holds, and well below what would break the contract.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO

from nndoctor.adapters.run import LogError
from nndoctor.lazy_re import regex

MiB = 1 << 20

#: A TFRecord longer than this cannot be a scalar event (a GraphDef can be: it is skipped).
MAX_RECORD_BYTES = 64 * MiB
#: One line of a CSV/TSV, a JSON Lines file or an MLflow metric file.
MAX_LINE_CHARS = 16 * MiB
#: Series (columns, tags, keys, metric files) kept per log; the first ones win.
MAX_SERIES = 10_000
#: Numeric points kept per log (CSV cells, JSON Lines values, event scalars): about 25 bytes
#: each once read, so 40 million points stay below 1 GB. Past it, the rest of the log is ignored.
MAX_POINTS = 40_000_000
#: A whole JSON document (trainer_state.json, history.json, config.json): parsed in one piece.
MAX_JSON_BYTES = 128 * MiB
#: A YAML file beside a log (hparams.yaml, args.yaml, MLflow meta.yaml): hyper-parameters only.
MAX_YAML_BYTES = 4 * MiB
#: One MLflow param or tag value (MLflow itself stores at most 8,000 characters).
MAX_VALUE_BYTES = 1 * MiB


def size_text(size: int) -> str:
    """``size`` bytes for a message: '60 MB', '1.1 GB', '512 bytes'."""
    if size >= 1 << 30:
        return f"{size / (1 << 30):.1f} GB"
    if size >= MiB:
        return f"{size / MiB:.0f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} bytes"


def text_lines(fh: IO[bytes], path: Path, limit: int | None = None) -> Iterator[str | None]:
    """The lines of a UTF-8 file opened in binary (newlines kept, a BOM dropped, ``\r`` alone
    ending a line as in universal-newline mode), never more than ``limit`` bytes in memory: a
    longer line yields None (the caller warns or refuses) and is then skipped, in pieces.
    LogError for bytes that are not UTF-8, naming the byte."""
    limit = limit or MAX_LINE_CHARS
    readline = fh.readline
    offset = 0
    while True:
        raw = readline(limit)
        if not raw:
            return
        if len(raw) >= limit and raw[-1] != 10:
            yield None
            while raw and raw[-1] != 10:  # skip the rest of the overlong line
                offset += len(raw)
                raw = readline(limit)
            offset += len(raw)
            continue
        try:
            text = raw.decode("utf-8-sig" if offset == 0 else "utf-8")
        except UnicodeDecodeError as exc:
            raise LogError(path, f"not UTF-8 text (byte {offset + exc.start})") from None
        offset += len(raw)
        if "\r" in text and (text.count("\r") > 1 or not text.endswith("\r\n")):
            yield from (part for part in _LONE_CR.split(text) if part)
        else:
            yield text


_LONE_CR = regex(r"(?<=\r)(?!\n)")


def read_capped(path: Path | str, limit: int) -> bytes | None:
    """The file's bytes, or None when it holds more than ``limit`` (only ``limit + 1`` read)."""
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    return None if len(data) > limit else data


def too_long(what: str, limit: int = 0) -> str:
    """The words for a line over :data:`MAX_LINE_CHARS`: 'line 3 is longer than 16 MiB'."""
    return f"{what} is longer than {(limit or MAX_LINE_CHARS) >> 20} MiB"
