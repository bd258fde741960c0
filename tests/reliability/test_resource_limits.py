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


# --------------------------------------------------------------------------- item 6: whole files

def _sparse(path: Path, prefix: bytes, size: int = GB, suffix: bytes = b"") -> Path:
    """``prefix``, then zeros (a hole: instant, no disk) up to ``size``, then ``suffix``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.write(prefix)
        fh.truncate(size)
        fh.seek(size)
        fh.write(suffix)
    return path


def _small_event_run(folder: Path) -> None:
    ev.write(folder / "events.out.tfevents.1.host",
             [ev.event(i, ev.simple("loss", 2.0 / i)) for i in range(1, 40)])


def _bounded(m, rss: float = 300, seconds: float = 5) -> None:
    assert m.rss_mb < rss, m.rss_mb
    assert m.seconds < seconds, m.seconds


def test_a_60_mb_hparams_yaml_is_ignored_with_a_warning(tmp_path):
    _small_event_run(tmp_path / "run")
    line = "".join(f"key_{i}: {i}\n" for i in range(10_000)).encode()
    with (tmp_path / "run" / "hparams.yaml").open("wb") as fh:
        for _ in range(60 * (1 << 20) // len(line)):
            fh.write(line)
    m = _read(tmp_path / "run")
    _bounded(m)
    [run] = m.result
    assert run["series"]["train_loss"] == 39
    assert any("hparams.yaml" in w and "limit" in w for w in run["warnings"])


def test_a_1_gb_single_line_csv_is_refused_at_once(tmp_path):
    path = _sparse(tmp_path / "results.csv", b"step,loss,")
    m = _read(path)
    _bounded(m)
    assert "line 1" in m.result["error"] and "longer than" in m.result["error"]


def test_a_1_gb_jsonl_line_is_skipped_with_a_warning(tmp_path):
    good = b"".join(b'{"step": %d, "loss": %f}\n' % (i, 1 / (i + 1)) for i in range(50))
    path = _sparse(tmp_path / "metrics.jsonl", good + b'{"step": 50, "loss": "', GB,
                   b'"}\n' + good.replace(b'"step": ', b'"step": 1'))
    m = _read(path, timeout=60)
    _bounded(m, seconds=8)
    [run] = m.result
    assert run["series"]["train_loss"] == 100
    assert any("line 51" in w and "longer than" in w for w in run["warnings"])


def test_a_1_gb_mlflow_param_is_ignored_with_a_warning(tmp_path):
    run = tmp_path / "mlruns" / "0" / "abc"
    (run / "metrics").mkdir(parents=True)
    (run / "metrics" / "loss").write_text("".join(f"1700000000 {1 / i} {i}\n"
                                                  for i in range(1, 60)))
    (run / "params").mkdir()
    (run / "params" / "lr").write_text("0.001")
    _sparse(run / "params" / "notes", b"a long note ")
    (run / "meta.yaml").write_text("run_name: abc\n")
    m = _read(tmp_path / "mlruns")
    _bounded(m)
    [got] = m.result
    assert got["series"]["train_loss"] == 59
    assert any("'notes'" in w and "limit" in w for w in got["warnings"])


def test_a_csv_with_a_million_columns_keeps_the_first_ones(tmp_path):
    path = tmp_path / "results.csv"
    cols = 1_000_000
    with path.open("w") as fh:
        fh.write("step,loss," + ",".join(f"c{i}" for i in range(cols)) + "\n")
        row = "," + ",".join(["1"] * cols) + "\n"
        for step in range(5):
            fh.write(f"{step},{1 / (step + 1)}{row}")
    m = _read(path)
    _bounded(m, rss=400)
    [run] = m.result
    assert run["series"]["train_loss"] == 5
    assert len(run["series"]) <= 10_001
    assert any("1,000,002 columns" in w for w in run["warnings"])


def test_an_event_file_with_300k_tags_keeps_the_first_ones(tmp_path):
    from crc32c import crc32c

    def masked(data: bytes) -> int:
        c = crc32c(data)
        return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF

    def record(data: bytes) -> bytes:
        head = struct.pack("<Q", len(data))
        return head + struct.pack("<I", masked(head)) + data + struct.pack("<I", masked(data))

    path = tmp_path / "run" / "events.out.tfevents.1.host"
    path.parent.mkdir()
    records = [record(ev.file_version())]
    records += [record(ev.event(s, ev.simple("loss", 1.0 / s))) for s in range(1, 30)]
    head, number = ev.event(1)[:11], struct.pack("<f", 0.5)  # wall time and step 1
    for i in range(300_000):  # ev.event(1, ev.simple(f"layer{i}/w", 0.5)), built faster
        tag = b"layer%d/w" % i
        value = b"\x0a" + bytes([len(tag)]) + tag + b"\x15" + number
        summary = b"\x0a" + bytes([len(value)]) + value
        records.append(record(head + b"\x2a" + bytes([len(summary)]) + summary))
    path.write_bytes(b"".join(records))
    m = _read(path, timeout=60)
    _bounded(m, rss=400, seconds=10)
    [run] = m.result
    assert run["series"]["train_loss"] == 29
    assert len(run["series"]) <= 10_001
    assert any("300,001" in w and "10,000" in w for w in run["warnings"])
