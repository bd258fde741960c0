"""Hostile inputs are read in bounded memory and linear time (issue #12, items 4 and 6).

Each input is built in tmp_path (sparse files, or written in chunks) and read in a fresh,
capped interpreter that reports its peak RSS; the bounds are far below what the unbounded
readers cost (2 GB and more) and far above what the bounded ones need.
"""

from __future__ import annotations

import struct
from pathlib import Path

from tests.adapters import eventfile as ev
from tests.reliability._measure import measure

GB = 1 << 30


def _read(path: Path, timeout: float = 30.0):
    """read_path on ``path`` in a subprocess: (runs summary or the error, measurement)."""
    return measure(f"""
        from nndoctor.adapters.readers import read_path
        from nndoctor.adapters.run import LogError
        try:
            runs = read_path({str(path)!r})
            result = [{{"series": {{k: len(s) for k, s in r.series.items()}},
                        "warnings": list(r.warnings)}} for r in runs]
        except LogError as exc:
            result = {{"error": str(exc)}}
        """, timeout=timeout)


def _header(length: int) -> bytes:
    head = struct.pack("<Q", length)
    return head + struct.pack("<I", ev.masked_crc(head))


# --------------------------------------------------------------------------- item 4: TFRecord

def test_a_record_longer_than_the_file_stops_at_once(tmp_path):
    """A valid header declaring 2^40 bytes, then a sparse 1 GB: the records before it are kept,
    the rest is not carried from chunk to chunk (that cost 2 GB and quadratic time)."""
    path = tmp_path / "run" / "events.out.tfevents.1.host"
    ev.write(path, [ev.event(i, ev.simple("loss", 1.0 / (i + 1))) for i in range(1, 50)])
    with path.open("r+b") as fh:
        fh.seek(0, 2)
        fh.write(_header(1 << 40))
        fh.truncate(GB)
    m = _read(path)
    assert m.rss_mb < 300, m.rss_mb
    assert m.seconds < 5, m.seconds
    [run] = m.result
    assert run["series"]["train_loss"] == 49
    assert any("declares" in w and "kept the records before it" in w for w in run["warnings"])


def test_a_huge_record_inside_the_file_is_skipped_and_reading_goes_on(tmp_path):
    """A 200 MB record (a GraphDef, or junk) in a 1 GB sparse file: skipped by seeking, the
    scalar events after it are read."""
    path = tmp_path / "run" / "events.out.tfevents.1.host"
    before = [ev.event(i, ev.simple("loss", 1.0)) for i in range(1, 11)]
    ev.write(path, before)
    big = 200 << 20
    after = b"".join(ev.record(ev.event(i, ev.simple("loss", 0.5))) for i in range(11, 31))
    with path.open("r+b") as fh:
        fh.seek(0, 2)
        fh.write(_header(big))
        fh.seek(big + 4, 1)  # the record's (sparse) data and its CRC
        fh.write(after)
        fh.truncate(GB)  # and a sparse tail of zeros: a header of length 0 with a bad CRC
    m = _read(path)
    assert m.rss_mb < 300, m.rss_mb
    assert m.seconds < 5, m.seconds
    [run] = m.result
    assert run["series"]["train_loss"] == 30
    assert any("skipped" in w and "64 MiB" in w for w in run["warnings"])
