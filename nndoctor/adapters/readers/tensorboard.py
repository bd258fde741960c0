"""TensorBoard event files (``events.out.tfevents.*``) → Runs, without tensorboard or TensorFlow.

TFRecord framing is walked with ``struct`` (log-formats.md §1.2); the few protobuf messages needed
are declared at run time (§1.3). Records in the common one-scalar-per-event layouts are decoded
column-wise with numpy against a per-tag template checked byte for byte; everything else goes
through the protobuf classes. All three scalar encodings are read (``simple_value``; ``tensor``
``float_val``/``double_val``; TF2 ``tensor_content``); histograms become
``hist/<tag>/mean|std|min|max|norm`` (norm = sqrt(sum of squares), the L2 norm of the tensor a
gradient or weight histogram was made of); tags whose first metadata names another plugin (text,
images, hparams …) are skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from nndoctor.adapters.readers import _limits
from nndoctor.adapters.readers._io import open_log
from nndoctor.adapters.readers._limits import MAX_RECORD_BYTES, size_text
from nndoctor.adapters.readers._runs import axis, build_run, yaml_context
from nndoctor.adapters.readers._setup import setup_from_params
from nndoctor.adapters.readers._sniff import is_event_file, is_event_name
from nndoctor.adapters.run import LogError, Run, Series
from nndoctor.adapters.windows import windows
from nndoctor.lazy_re import LazyPattern


@cache
def _crc32c() -> Any:
    """The optional C extension's CRC-32C (pure-Python CRC would be far too slow), or None;
    loaded for the first event file. The extension module is loaded alone when it can be: the
    package's ``__init__`` imports importlib.metadata (and email, zipfile...) only to tell its
    own version, 20-50 ms of a start."""
    with contextlib.suppress(Exception):  # anything unusual: the package's own import
        return _crc32c_extension()
    try:
        from crc32c import crc32c
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return crc32c


def _crc32c_extension() -> Any:
    """``crc32c._crc32c.crc32c``, loaded from the package's folder without running the
    package (the same module object when the package was imported already)."""
    import sys

    loaded = sys.modules.get("crc32c._crc32c")
    if loaded is not None:
        return loaded.crc32c
    from importlib.machinery import EXTENSION_SUFFIXES, ExtensionFileLoader
    from importlib.util import find_spec, module_from_spec, spec_from_file_location

    package = find_spec("crc32c")  # found, not imported
    assert package is not None and package.submodule_search_locations is not None
    for folder in package.submodule_search_locations:
        for suffix in EXTENSION_SUFFIXES:
            path = os.path.join(folder, "_crc32c" + suffix)
            if os.path.isfile(path):
                loader = ExtensionFileLoader("crc32c._crc32c", path)
                spec = spec_from_file_location("crc32c._crc32c", path, loader=loader)
                assert spec is not None
                module = module_from_spec(spec)
                loader.exec_module(module)
                return module.crc32c
    raise ImportError("no crc32c extension module")

# logged once, when training ends (the HF Trainer's summary, "train/train_runtime" in TB)
END_TAGS = {"train_runtime"}
ROLE_PREFIXES = {"train", "training", "val", "valid", "validation", "eval", "evaluation", "test"}
# Text summaries holding a run's configuration as JSON: Hugging Face's TensorBoardCallback writes
# the TrainingArguments and the model config at the start of training.
SETUP_TEXTS = ("args/text_summary", "model_config/text_summary")
MAX_SETUP_TEXT = 1 << 20
SCALAR_PLUGINS = {"scalars", ""}
_HEADER = struct.Struct("<Q")
CHUNK = 64 << 20  # bytes read at a time
_MASK_DELTA = 0xA282EAD8


# --------------------------------------------------------------------------- protobuf messages

_PROTO = """
Event: wall_time=1:double step=2:int64 file_version=3:string@what graph_def=4:bytes@what
       summary=5:Summary@what log_message=6:bytes@what session_log=7:SessionLog@what
       tagged_run_metadata=8:bytes@what meta_graph_def=9:bytes@what
SessionLog: status=1:int32 checkpoint_path=2:string msg=3:string
Summary: value=1:*Value
Value: node_name=7:string tag=1:string metadata=9:SummaryMetadata simple_value=2:float@value
       obsolete_old_style_histogram=3:bytes@value image=4:bytes@value histo=5:HistogramProto@value
       audio=6:bytes@value tensor=8:TensorProto@value
SummaryMetadata: plugin_data=1:PluginData display_name=2:string summary_description=3:string
                 data_class=4:int32
PluginData: plugin_name=1:string content=2:bytes
HistogramProto: min=1:double max=2:double num=3:double sum=4:double sum_squares=5:double
                bucket_limit=6:*double bucket=7:*double
TensorProto: dtype=1:int32 tensor_shape=2:TensorShapeProto version_number=3:int32
             tensor_content=4:bytes float_val=5:*float double_val=6:*double int_val=7:*int32
             string_val=8:*bytes int64_val=10:*int64 half_val=13:*int32
TensorShapeProto: dim=2:*Dim unknown_rank=3:bool
Dim: size=1:int64 name=2:string
"""


@cache
def event_class() -> Any:
    """The ``Event`` message class, declared at run time in a private descriptor pool."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fdp = descriptor_pb2.FileDescriptorProto(
        name="nndoctor_tb.proto", package="nndoctor_tb", syntax="proto3")
    types = {"double": 1, "float": 2, "int64": 3, "int32": 5, "bool": 8, "string": 9, "bytes": 12}
    label = descriptor_pb2.FieldDescriptorProto
    for block in _blocks(_PROTO):
        name, fields = block
        msg = fdp.message_type.add(name=name)
        oneofs: dict[str, int] = {}
        for fname, number, ftype, repeated, oneof in fields:
            f = msg.field.add(name=fname, number=number)
            f.label = label.LABEL_REPEATED if repeated else label.LABEL_OPTIONAL
            if ftype in types:
                f.type = types[ftype]
            else:
                f.type = label.TYPE_MESSAGE
                f.type_name = f".nndoctor_tb.{ftype}"
            if oneof:
                if oneof not in oneofs:
                    oneofs[oneof] = len(msg.oneof_decl)
                    msg.oneof_decl.add(name=oneof)
                f.oneof_index = oneofs[oneof]
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    desc = pool.FindMessageTypeByName("nndoctor_tb.Event")
    get = getattr(message_factory, "GetMessageClass", None)
    return get(desc) if get else message_factory.MessageFactory(pool).GetPrototype(desc)


def _blocks(spec: str) -> list[tuple[str, list[tuple[str, int, str, bool, str]]]]:
    out: list[tuple[str, list[tuple[str, int, str, bool, str]]]] = []
    for token in spec.split():
        if token.endswith(":"):
            out.append((token[:-1], []))
            continue
        fname, rest = token.split("=")
        number, ftype = rest.split(":")
        ftype, _, oneof = ftype.partition("@")
        repeated = ftype.startswith("*")
        out[-1][1].append((fname, int(number), ftype.lstrip("*"), repeated, oneof))
    return out


# --------------------------------------------------------------------------- framing and CRC

def _crc_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table[i] = c
    return table


_TABLE = _crc_table()


def _masked(crc: np.ndarray) -> np.ndarray:
    crc = crc.astype(np.uint64)
    return ((((crc >> np.uint64(15)) | (crc << np.uint64(17))) + np.uint64(_MASK_DELTA))
            & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def _crc_rows(rows: np.ndarray) -> np.ndarray:
    """CRC-32C of each row of a uint8 matrix (vectorised; used for the 8-byte length headers)."""
    crc = np.full(rows.shape[0], 0xFFFFFFFF, dtype=np.uint32)
    for j in range(rows.shape[1]):
        crc = _TABLE[(crc ^ rows[:, j]) & 0xFF] ^ (crc >> 8)
    return crc ^ np.uint32(0xFFFFFFFF)


def _header_ok(b: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Whether the masked CRC of each 8-byte length field at ``at`` matches the stored one."""
    stored = _rows(b, at + 8, 4).view("<u4").ravel()
    return _masked(_crc_rows(_rows(b, at, 8))) == stored


def _frame(buf: bytes, path: Path, warnings: list[str], final: bool = True,
           offset: int = 0, file_end: int = 1 << 62,
           ) -> tuple[tuple[np.ndarray, np.ndarray], int, bool, int | None]:
    """Record data offsets and lengths in ``buf``, the end of the last complete record,
    whether reading must stop (a corrupt header, a record past the end of the file) and where
    to go on past a record too long to be a scalar event (None: right after ``buf``). A cut-off
    tail is an error only when ``final``; otherwise the caller carries it into the next chunk.
    ``offset`` is where ``buf`` starts in the file (for messages), ``file_end`` its size."""
    unpack = _HEADER.unpack_from
    size = len(buf)
    good: list[np.ndarray] = []  # data offsets whose header CRC was checked, in file order
    unchecked: list[np.ndarray] = []  # then those not checked yet (a bad one among them)
    walked: list[int] = []  # data offsets read one by one since the last check
    recent: list[int] = []  # the lengths of the records read one by one since the last leap
    done = 0  # end of the last complete record
    impossible = -1  # the length of a sound-looking header no event can have
    wait, span = _LEAP_AFTER, _LEAP_FIRST
    b = np.frombuffer(buf, dtype=np.uint8)

    def check(block: np.ndarray) -> bool:
        """File the block's data offsets as checked; False (filed as unchecked) on a bad one."""
        if block.size and not _header_ok(b, block - 12).all():
            unchecked.append(block)
            return False
        good.append(block)
        return True

    while done + 12 <= size:
        if len(recent) >= wait:  # the same few record lengths over and over: take them in bulk
            leap = _leap(b, recent, done, size, span)
            pattern, recent = recent, []
            if leap is None:
                wait = min(wait * 2, 4096)
            else:
                if not check(np.asarray(walked, dtype=np.int64)):
                    walked = []
                    break
                walked = []
                at, ends, _ = leap
                done = int(ends[-1])
                if not check(at + 12):
                    break
                wait = _LEAP_AFTER
                if leap[2]:  # every prediction held: predict twice as many at once
                    span, recent = min(span * 2, _LEAP_MOST), pattern
                else:
                    span = _LEAP_FIRST
                continue
        data = done + 12
        length = unpack(buf, done)[0]
        after = data + length + 4
        if after > size:
            if ((length > MAX_RECORD_BYTES or offset + after > file_end)
                    and _header_ok(b, np.asarray([done], dtype=np.int64))[0]):
                impossible = length  # (a corrupt header is reported below)
            break
        walked.append(data)
        recent.append(length)
        done = after
        if len(walked) >= 4096:  # junk (zeros) frames as tiny records: stop early
            block = np.asarray(walked, dtype=np.int64)
            walked = []
            if not check(block):
                break
    unchecked.append(np.asarray(walked, dtype=np.int64))
    checked = sum(part.size for part in good)
    s = np.concatenate(good + unchecked) if good or unchecked else np.zeros(0, dtype=np.int64)
    if s.size > checked:
        bad = np.nonzero(~_header_ok(b, s[checked:] - 12))[0]
        if bad.size:
            first = checked + int(bad[0])
            warnings.append(f"{path.name}: corrupt record header at byte "
                            f"{offset + int(s[first]) - 12}; kept the records before it")
            return _lengths(b, s[:first]), size, True, None
    if impossible >= 0:
        skip = _impossible(path, warnings, offset + done, impossible, file_end)
        return _lengths(b, s), done, skip is None, skip
    stop = False
    if done < size and (final or size - done >= 12):
        corrupt = size - done >= 12 and not _header_ok(b, np.asarray([done], dtype=np.int64))[0]
        if corrupt:
            warnings.append(f"{path.name}: corrupt record header at byte {offset + done}; "
                            "kept the records before it")
            stop = True
        elif final:
            warnings.append(f"{path.name}: truncated last record ({size - done} bytes at the "
                            "end ignored); kept the complete records")
    return _lengths(b, s), done, stop, None


_LEAP_AFTER = 32  # records read one by one before the lengths are looked at for a pattern
_LEAP_FIRST, _LEAP_MOST = 1024, 1 << 17  # records predicted at once (doubled while right)
_PERIOD = 16  # the longest repeating pattern of record lengths looked for


def _leap(b: np.ndarray, recent: list[int], done: int, size: int, span: int
          ) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """Records framed in bulk: when the last lengths read repeat with a short period (a
    writer logging the same tags step after step), the next ``span`` records are predicted to
    repeat them and kept up to the first whose header says otherwise, or that does not end
    inside ``b``. Returns their header offsets and ends, exactly those the one-by-one walk from
    ``done`` would find, and whether every prediction held; None when there is no pattern or
    the first prediction fails."""
    period = next((k for k in range(1, _PERIOD + 1) if 2 * k <= len(recent)
                   and recent[-k:] == recent[-2 * k:-k]), None)
    if period is None:
        return None
    lengths = np.tile(np.asarray(recent[-period:], dtype=np.int64), max(span // period, 1))
    ends = done + np.cumsum(lengths + 16)
    fits = int(np.searchsorted(ends, size, side="right"))
    at = ends[:fits] - (lengths[:fits] + 16)
    wrong = np.flatnonzero(_rows(b, at, 8).view("<u8").ravel() != lengths[:fits].astype(np.uint64))
    keep = int(wrong[0]) if wrong.size else fits
    if keep == 0:
        return None
    return at[:keep], ends[:keep], keep == lengths.size


def _lengths(b: np.ndarray, starts: np.ndarray | list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Data offsets and the lengths their headers declare."""
    s = np.asarray(starts, dtype=np.int64)
    return s, _rows(b, s - 12, 8).view("<u8").ravel().astype(np.int64)


def _impossible(path: Path, warnings: list[str], at: int, length: int,
                file_end: int) -> int | None:
    """A record with a sound header that cannot be read as an event: past the end of the file
    (stop: None), or longer than :data:`MAX_RECORD_BYTES` (skip it: the offset after it)."""
    after = at + 12 + length + 4
    if after > file_end:
        if length <= MAX_RECORD_BYTES:
            warnings.append(f"{path.name}: truncated last record ({file_end - at} bytes at the "
                            "end ignored); kept the complete records")
        else:
            warnings.append(f"{path.name}: the record at byte {at} declares {length:,} bytes, "
                            f"more than the {file_end - at:,} left in the file; kept the records "
                            "before it")
        return None
    warnings.append(f"{path.name}: the record at byte {at} ({size_text(length)}) is longer "
                    f"than a scalar event can be (limit {MAX_RECORD_BYTES >> 20} MiB): skipped")
    return after


def _check_data_crc(buf: bytes, s: np.ndarray, n: np.ndarray, path: Path,
                    warnings: list[str]) -> np.ndarray:
    """Mask of records whose payload CRC matches (all True when ``crc32c`` is not installed)."""
    crc = _crc32c()
    if crc is None or s.size == 0:
        return np.ones(s.size, dtype=bool)
    b = np.frombuffer(buf, dtype=np.uint8)
    got = _crcs(crc, buf, b, s, n)
    want = _rows(b, s + n, 4).view("<u4").ravel()
    ok = _masked(got) == want
    if not ok.all():
        warnings.append(f"{path.name}: {int((~ok).sum())} record(s) failed the CRC check "
                        f"(first at byte {int(s[np.argmin(ok)]) - 12}) and were skipped")
    return ok


_ALIKE = 64  # records of one length from which their CRCs are computed column-wise
_ALIKE_MAX = 4096  # bytes: longer records are left to crc32c one by one
_SLICE = 1 << 16  # records at a time (their bytes as a matrix: a few MB)


def _crcs(crc32c: Any, buf: bytes, b: np.ndarray, s: np.ndarray, n: np.ndarray) -> np.ndarray:
    """CRC-32C of every record ``buf[s[i] : s[i] + n[i]]``. A CRC is affine in the message, so
    for messages of one length crc(m) = crc(r) ^ crc₀(m ^ r), where crc₀ (zero start, no final
    inversion) is linear: the XOR over the byte positions j where m differs from the first
    record r of a table lookup for (the byte's difference, j). Scalar events of one tag differ
    in a dozen bytes (wall time, step, value), so a million records take a dozen vectorised
    lookups instead of a million calls; the others go to crc32c one by one."""
    got = np.empty(s.size, dtype=np.uint32)
    alone = np.ones(s.size, dtype=bool)
    if s.size >= _ALIKE:
        counts = np.bincount(np.minimum(n, _ALIKE_MAX + 1))[:_ALIKE_MAX + 1]
        for length in np.flatnonzero(counts >= _ALIKE).tolist():
            members = np.flatnonzero(n == length)
            alone[members] = False
            ref = _rows(b, s[members[:1]], length)[0]
            first = crc32c(ref.tobytes())
            for cut in range(0, members.size, _SLICE):
                part = members[cut:cut + _SLICE]
                diff = _rows(b, s[part], length) ^ ref
                crc = np.full(part.size, first, dtype=np.uint32)
                for j in np.flatnonzero(diff.any(axis=0)).tolist():
                    crc ^= _zero_run_table(length - 1 - j)[diff[:, j]]
                got[part] = crc
    rest = np.flatnonzero(alone)
    if rest.size:
        records = map(memoryview(buf).__getitem__,
                      map(slice, s[rest].tolist(), (s[rest] + n[rest]).tolist()))
        got[rest] = np.fromiter(map(crc32c, records), dtype=np.uint32, count=rest.size)
    return got


_ZERO_RUNS: list[np.ndarray] = [_TABLE]


def _zero_run_table(k: int) -> np.ndarray:
    """crc₀ of each byte value followed by ``k`` zero bytes (the table of one byte position)."""
    while len(_ZERO_RUNS) <= k:
        t = _ZERO_RUNS[-1]
        _ZERO_RUNS.append(_TABLE[t & 0xFF] ^ (t >> 8))
    return _ZERO_RUNS[k]


# --------------------------------------------------------------------------- collection

@dataclass
class _Collector:
    """Points per tag in file order, plugin of each tag, restart markers and warnings."""

    scalars: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = field(
        default_factory=lambda: defaultdict(list))
    hists: dict[str, list[tuple[int, int, tuple[float, ...]]]] = field(
        default_factory=lambda: defaultdict(list))
    plugin: dict[str, tuple[int, str]] = field(default_factory=dict)
    restarts: list[tuple[int, int]] = field(default_factory=list)
    undecodable: int = 0
    texts: dict[str, bytes] = field(default_factory=dict)  # SETUP_TEXTS tag → its first text
    seen: set[str] = field(default_factory=set)  # tags kept (at most MAX_SERIES)
    dropped: set[str] = field(default_factory=set)  # tags past the limit

    def accepts(self, tag: str) -> bool:
        """Whether points of ``tag`` are kept: the first :data:`MAX_SERIES` tags are."""
        if tag in self.seen:
            return True
        if len(self.seen) < _limits.MAX_SERIES:
            self.seen.add(tag)
            return True
        self.dropped.add(tag)
        return False

    def note_plugin(self, tag: str, record: int, name: str) -> None:
        known = self.plugin.get(tag)
        if known is None or record < known[0]:
            self.plugin[tag] = (record, name)

    def add(self, tag: str, records: np.ndarray, steps: np.ndarray, values: np.ndarray) -> None:
        self.scalars[tag].append((records, steps, values))


def _varint(b: np.ndarray, pos: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray]:
    """Decode base-128 varints at ``pos``: (value, byte length, ok) — ok False past ``width``."""
    last = b.size - 1
    byte = b[np.minimum(pos, last)]
    value = (byte & 0x7F).astype(np.int64)
    length = np.ones(pos.size, dtype=np.int64)
    more = np.nonzero(byte >= 0x80)[0]
    for k in range(1, width):
        if more.size == 0:
            break
        byte = b[np.minimum(pos[more] + k, last)]
        value[more] |= (byte & 0x7F).astype(np.int64) << (7 * k)
        length[more] += 1
        more = more[byte >= 0x80]
    ok = np.ones(pos.size, dtype=bool)
    ok[more] = False
    return value, length, ok


_FEW_KEYS = 32  # up to this many distinct keys are grouped by comparison, not by sorting


def _runs_of(keys: np.ndarray) -> list[np.ndarray]:
    """Indices into ``keys`` grouped by equal key, each group in ascending index order, the
    groups in ascending key order. The few keys of a scalar log (its tags, its layouts) are
    split off one at a time, a pass each, instead of sorting a million keys."""
    rest = np.arange(keys.size)
    if not rest.size:
        return [rest]
    groups: list[np.ndarray] = []
    while rest.size and len(groups) < _FEW_KEYS:
        left = keys[rest]
        same = left == left[0]
        groups.append(rest[same])
        rest = rest[~same]
    if rest.size:  # many keys: sort the rest
        order = rest[np.argsort(keys[rest], kind="stable")]
        groups += np.split(order, np.flatnonzero(np.diff(keys[order])) + 1)
    groups.sort(key=lambda group: keys[group[0]])
    return groups


def _rows(b: np.ndarray, at: np.ndarray, width: int) -> np.ndarray:
    """``b[at[i] : at[i] + width]`` for every i, as an (len(at), width) uint8 matrix."""
    if width == 0 or at.size == 0:
        return np.zeros((at.size, width), dtype=np.uint8)
    if width in (4, 8) and b.ndim == 1 and b.flags.c_contiguous and b.size >= width:
        # the same rows, gathered as one unaligned 4- or 8-byte word each (~30 % faster)
        words = np.ndarray((b.size - width + 1,), f"<u{width}", b, 0, (1,))
        return words[np.minimum(at, words.size - 1)].view(np.uint8).reshape(at.size, width)
    view = windows(b, width)
    return view[np.minimum(at, view.shape[0] - 1)]


_HASH_MULT = np.uint64(0x9E3779B97F4A7C15)


def _row_hash(rows: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row of a uint8 matrix (collisions are checked by the caller)."""
    words = -(-rows.shape[1] // 8)
    padded = np.zeros((rows.shape[0], words * 8), dtype=np.uint8)
    padded[:, :rows.shape[1]] = rows
    h = np.zeros(rows.shape[0], dtype=np.uint64)
    for w in padded.view("<u8").T:
        h = (h ^ w) * _HASH_MULT
        h ^= h >> np.uint64(29)
    return h


@dataclass(frozen=True)
class _Template:
    """Where the number sits in the bytes that follow the tag of a one-value Summary.Value."""

    offset: int
    size: int  # 4 (float32) or 8 (float64)
    plugin: str | None  # plugin of the value's metadata, None without metadata


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("bad varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def _walk(data: bytes, lo: int, hi: int) -> list[tuple[int, int, int, int]]:
    """Fields of a message in ``data[lo:hi]``: (number, wire type, start, end/value)."""
    out = []
    pos = lo
    while pos < hi:
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, end = _read_varint(data, pos)
            out.append((number, wire, pos, value))
            pos = end
            continue
        if wire == 2:
            length, pos = _read_varint(data, pos)
            end = pos + length
        elif wire == 5:
            end = pos + 4
        elif wire == 1:
            end = pos + 8
        else:
            raise ValueError("unsupported wire type")
        if end > hi:
            raise ValueError("field past the end")
        out.append((number, wire, pos, end))
        pos = end
    return out


def _template(tail: bytes) -> _Template | None:
    """Analyse the bytes after the tag; None unless they hold exactly one float scalar."""
    try:
        fields = _walk(tail, 0, len(tail))
    except ValueError:
        return None
    found: list[tuple[int, int]] = []
    plugin: str | None = None
    for number, wire, start, end in fields:
        if number == 2 and wire == 5:  # simple_value
            found.append((start, 4))
        elif number == 8 and wire == 2:  # tensor
            hit = _tensor_template(tail, start, end)
            if hit is None:
                return None
            found.append(hit)
        elif number == 9 and wire == 2:  # metadata
            plugin = _plugin_of(tail[start:end])
        elif number != 7:  # node_name is harmless, anything else is not a plain scalar
            return None
    if len(found) != 1:
        return None
    return _Template(found[0][0], found[0][1], plugin)


def _tensor_template(data: bytes, lo: int, hi: int) -> tuple[int, int] | None:
    try:
        fields = _walk(data, lo, hi)
    except ValueError:
        return None
    dtype = 0
    found: list[tuple[int, int]] = []
    for number, wire, start, end in fields:
        if number == 1 and wire == 0:
            dtype = end
        elif number == 2 and wire == 2:
            try:
                dims = _walk(data, start, end)
                for dnum, dwire, dstart, dend in dims:
                    if dnum != 2 or dwire != 2:
                        return None
                    if any(f == 1 and v != 1 for f, _, _, v in _walk(data, dstart, dend)):
                        return None
            except ValueError:
                return None
        elif number == 3 and wire == 0:
            continue
        elif number in (4, 5, 6) and wire == 2:
            found.append((start, end - start))
        elif number == 5 and wire == 5:
            found.append((start, 4))
        elif number == 6 and wire == 1:
            found.append((start, 8))
        else:
            return None
    if len(found) != 1:
        return None
    start, size = found[0]
    if (dtype, size) not in ((1, 4), (2, 8), (0, 4)):
        return None
    return start, size


def _plugin_of(meta: bytes) -> str | None:
    try:
        for number, wire, start, end in _walk(meta, 0, len(meta)):
            if number == 1 and wire == 2:
                for n2, w2, s2, e2 in _walk(meta, start, end):
                    if n2 == 1 and w2 == 2:
                        return meta[s2:e2].decode("utf-8", errors="replace")
                return ""
    except ValueError:
        return None
    return ""


_CRC_BESIDE = 1 << 16  # records in a chunk from which its CRCs are checked in a second thread


class _CrcFailed(Exception):
    """A chunk decoded beside its CRC check holds a record that failed it."""


def _decode_beside_crc_check(buf: bytes, s: np.ndarray, n: np.ndarray, base: int, prefix: str,
                             out: _Collector) -> np.ndarray:
    """:func:`_decode_fast` while a thread checks the records' CRCs (numpy releases the GIL in
    both, so a million-record chunk takes ~0.3 s instead of ~0.42 s on two cores). Raises
    :class:`_CrcFailed` when a record fails: ``out`` then holds it, and the caller starts over
    with the sequential read."""
    import threading  # only for large chunks: a small run's read never starts a thread

    checked: list[Any] = []

    def check() -> None:
        try:
            checked.append(bool(_check_data_crc(buf, s, n, Path(), []).all()))
        except BaseException as exc:  # re-raised below, in the reading thread
            checked.append(exc)

    thread = threading.Thread(target=check, name="nndoctor-crc", daemon=True)
    thread.start()
    try:
        leftover = _decode_fast(buf, s, n, base, prefix, out)
    finally:
        thread.join()
    if isinstance(checked[0], BaseException):
        raise checked[0]
    if not checked[0]:
        raise _CrcFailed
    return leftover


def _decode_fast(buf: bytes, s: np.ndarray, n: np.ndarray, base: int, prefix: str,
                 out: _Collector) -> np.ndarray:
    """Decode one-scalar events column-wise; returns indices of records left for protobuf."""
    b = np.frombuffer(buf, dtype=np.uint8)
    last = b.size - 1
    end = s + n
    ok = n >= 14
    ok &= b[np.minimum(s, last)] == 0x09  # wall_time, fixed64
    p = s + 9
    has_step = b[np.minimum(p, last)] == 0x10
    step, step_len, step_ok = _varint(b, p + 1, 5)
    ok &= ~has_step | step_ok
    p = np.where(has_step, p + 1 + step_len, p)
    step = np.where(has_step, step, 0)
    ok &= b[np.minimum(p, last)] == 0x2A  # summary
    for _ in range(2):  # the Summary, then its single Value: each must end where the event ends
        length, width, fine = _varint(b, p + 1, 3)
        p = p + 1 + width
        ok &= fine & (p + length == end) & (b[np.minimum(p, last)] == 0x0A)
    tag_len, width, fine = _varint(b, p + 1, 2)
    tag_at = p + 1 + width
    tail = tag_at + tag_len
    ok &= fine & (tail < end)
    rest = np.nonzero(~ok)[0]
    fast = np.nonzero(ok)[0]
    if fast.size == 0:
        return rest
    leftovers = [rest]
    shape_key = tag_len[fast] * (1 << 32) + (end[fast] - tail[fast])
    for shape_rows in _runs_of(shape_key):
        rows = fast[shape_rows]
        tl, tn = int(tag_len[rows[0]]), int(end[rows[0]] - tail[rows[0]])
        tags = _rows(b, tag_at[rows], tl)
        for members in _runs_of(_row_hash(tags)):
            at = int(tag_at[rows[members[0]]])
            if not out.accepts(_prefixed(prefix, buf[at:at + tl].decode("utf-8", "replace"))):
                continue  # (a colliding tag in this group is dropped too: past the limit)
            same_tag = (tags[members] == tags[members[0]]).all(axis=1)
            if not same_tag.all():  # a hash collision: let protobuf sort it out
                leftovers.append(rows[members[~same_tag]])
                members = members[same_tag]
            _decode_group(buf, b, rows[members], tail, tag_at, tl, tn, step, base, prefix,
                          out, leftovers)
    return np.sort(np.concatenate(leftovers))


def _decode_group(buf: bytes, b: np.ndarray, group: np.ndarray, tail: np.ndarray,
                  tag_at: np.ndarray, tl: int, tn: int, step: np.ndarray, base: int, prefix: str,
                  out: _Collector, leftovers: list[np.ndarray]) -> None:
    """Records of one tag and one byte layout: check them against the first, take the numbers."""
    r0 = int(group[0])
    tmpl_bytes = buf[int(tail[r0]):int(tail[r0]) + tn]
    tmpl = _template(tmpl_bytes)
    if tmpl is None:
        leftovers.append(group)
        return
    tails = _rows(b, tail[group], tn)
    keep = np.ones(tn, dtype=bool)
    keep[tmpl.offset:tmpl.offset + tmpl.size] = False
    if keep.any():
        ref = np.frombuffer(tmpl_bytes, dtype=np.uint8)
        same = (tails[:, keep] == ref[keep]).all(axis=1)
        if not same.all():
            leftovers.append(group[~same])
            group, tails = group[same], tails[same]
    raw = np.ascontiguousarray(tails[:, tmpl.offset:tmpl.offset + tmpl.size])
    values = raw.view("<f4" if tmpl.size == 4 else "<f8").ravel().astype(np.float64)
    name = buf[int(tag_at[r0]):int(tag_at[r0]) + tl].decode("utf-8", errors="replace")
    tag = _prefixed(prefix, name)
    if tmpl.plugin is not None:
        out.note_plugin(tag, base + r0, tmpl.plugin)
    out.add(tag, group + base, step[group], values)


def _prefixed(prefix: str, tag: str) -> str:
    if not prefix:
        return tag
    head, sep, _ = tag.partition("/")
    return tag if sep and head.lower() in ROLE_PREFIXES else prefix + tag


# Event fields other than summary (5) and session_log (7) and their wire types: a record of
# these alone is one that _decode_slow parses only to pass over (file_version, graph_def...);
# a field of another number (source_metadata, 10) is one protobuf keeps unparsed
_PASSED_OVER = {1: 1, 2: 0, 3: 2, 4: 2, 5: -1, 6: 2, 7: -1, 8: 2, 9: 2}


def _no_scalars(buf: bytes, start: int, size: int) -> bool:
    """The record is an Event that protobuf parses without error and that holds no summary and
    no session log (every event file starts with one, its ``file_version``): nothing for
    :func:`_decode_slow` to take, so protobuf need not be loaded for it. False when unsure."""
    pos, end = start, start + size
    try:
        while pos < end:
            key, pos = _read_varint(buf, pos)
            number, wire = key >> 3, key & 7
            if not 0 < number < 1 << 29 or _PASSED_OVER.get(number, wire) != wire:
                return False  # also summary and session_log: not in _PASSED_OVER
            if wire == 0:
                pos = _read_varint(buf, pos)[1]
            elif wire == 1 or wire == 5:
                pos += 8 if wire == 1 else 4
            elif wire == 2:
                length, pos = _read_varint(buf, pos)
                if number == 3:  # a proto3 string: protobuf rejects one that is not UTF-8
                    buf[pos:pos + length].decode("utf-8")
                pos += length
            else:  # groups: left to protobuf
                return False
            if pos > end:
                return False
    except (ValueError, UnicodeDecodeError):
        return False
    return True


def _decode_slow(buf: bytes, s: np.ndarray, n: np.ndarray, idx: np.ndarray, base: int,
                 prefix: str, out: _Collector) -> None:
    """Decode the remaining records with the protobuf classes, one by one."""
    from google.protobuf.message import DecodeError

    event_cls = event_class()
    mv = memoryview(buf)
    points: dict[str, tuple[list[int], list[int], list[float]]] = defaultdict(
        lambda: ([], [], []))
    for i in idx.tolist():
        a = int(s[i])
        ev = event_cls()
        try:
            ev.ParseFromString(mv[a:a + int(n[i])])
        except (DecodeError, ValueError, RuntimeError):
            out.undecodable += 1
            continue
        what = ev.WhichOneof("what")
        record = base + i
        if what == "session_log":
            if ev.session_log.status == 1:  # START: TensorBoard purges points at or after it
                out.restarts.append((record, ev.step))
            continue
        if what != "summary":
            continue
        for v in ev.summary.value:
            tag = _prefixed(prefix, v.tag)
            if not out.accepts(tag):
                continue
            if v.HasField("metadata"):
                out.note_plugin(tag, record, v.metadata.plugin_data.plugin_name)
            kind = v.WhichOneof("value")
            value: float | None = None
            stats: tuple[float, ...] | None = None
            if kind == "simple_value":
                value = v.simple_value
            elif kind == "tensor":
                value = _tensor_value(v.tensor)
                stats = None if value is not None else _tensor_histogram(v.tensor)
                if tag in SETUP_TEXTS and v.tensor.string_val and tag not in out.texts:
                    out.texts[tag] = bytes(v.tensor.string_val[0][:MAX_SETUP_TEXT])
            elif kind == "histo":
                stats = _histo_stats(v.histo)
            if value is None:
                if stats is not None:
                    out.hists[tag].append((record, ev.step, stats))
                continue
            lists = points[tag]
            lists[0].append(record)
            lists[1].append(ev.step)
            lists[2].append(value)
    for tag, (recs, steps, values) in points.items():
        out.add(tag, np.asarray(recs, dtype=np.int64), np.asarray(steps, dtype=np.int64),
                np.asarray(values, dtype=np.float64))


_DTYPES = {1: "<f4", 2: "<f8", 3: "<i4", 9: "<i8", 19: "<f2"}


def _tensor_value(t: Any) -> float | None:
    """The number in a one-element tensor (any of the encodings), else None."""
    if any(d.size != 1 for d in t.tensor_shape.dim):
        return None
    if t.tensor_content:
        fmt = _DTYPES.get(t.dtype)
        if fmt is None or len(t.tensor_content) != np.dtype(fmt).itemsize:
            return None
        return float(np.frombuffer(t.tensor_content, dtype=fmt)[0])
    for values in (t.float_val, t.double_val, t.int_val, t.int64_val):
        if len(values) == 1:
            return float(values[0])
    if len(t.half_val) == 1 and t.dtype == 19:
        return float(np.array([t.half_val[0]], dtype=np.uint16).view(np.float16)[0])
    return None


HIST_STATS = ("mean", "std", "min", "max", "norm")


def _histo_stats(h: Any) -> tuple[float, ...] | None:
    """mean, std, min, max and L2 norm (sqrt(sum_squares): exact, torch stores it)."""
    if h.num <= 0:
        return None
    mean = h.sum / h.num
    var = max(h.sum_squares / h.num - mean * mean, 0.0)
    return mean, float(np.sqrt(var)), h.min, h.max, float(np.sqrt(max(h.sum_squares, 0.0)))


def _tensor_histogram(t: Any) -> tuple[float, ...] | None:
    """TF2 histogram tensor [k, 3] = (left edge, right edge, count) → mean, std, min, max and
    an L2 norm estimated from the bucket centres."""
    dims = [d.size for d in t.tensor_shape.dim]
    if len(dims) != 2 or dims[1] != 3 or t.dtype not in (1, 2):
        return None
    if t.tensor_content:
        arr = np.frombuffer(t.tensor_content, dtype=_DTYPES[t.dtype]).astype(np.float64)
    else:
        arr = np.asarray(list(t.double_val) or list(t.float_val), dtype=np.float64)
    if arr.size != dims[0] * 3 or arr.size == 0:
        return None
    arr = arr.reshape(-1, 3)
    counts = arr[:, 2]
    total = counts.sum()
    if total <= 0:
        return None
    centres = (arr[:, 0] + arr[:, 1]) / 2
    mean = float((centres * counts).sum() / total)
    std = float(np.sqrt(max((counts * (centres - mean) ** 2).sum() / total, 0.0)))
    nonzero = np.nonzero(counts)[0]
    norm = float(np.sqrt((counts * centres ** 2).sum()))
    return mean, std, float(arr[nonzero[0], 0]), float(arr[nonzero[-1], 1]), norm


# --------------------------------------------------------------------------- assembling a run

def _purge(records: np.ndarray, steps: np.ndarray, restarts: np.ndarray) -> np.ndarray:
    """Mask of points that survive restarts (TensorBoard's purge of orphaned data, per tag).

    A point is dropped when a later point of the same tag steps back to or below it, or when a
    later SessionLog.START sits at or below its step: the newest segment wins.
    """
    count = steps.size
    keep = np.ones(count, dtype=bool)
    if count > 1:
        running = np.maximum.accumulate(steps)
        backward = np.zeros(count, dtype=bool)
        backward[1:] = steps[1:] < running[:-1]
        if backward.any():
            later = np.where(backward, steps, np.iinfo(np.int64).max)
            suffix = np.minimum.accumulate(later[::-1])[::-1]
            after = np.append(suffix[1:], np.iinfo(np.int64).max)
            keep &= steps < after
    if restarts.size:
        order = np.argsort(restarts[:, 0])
        rec, rstep = restarts[order, 0], restarts[order, 1]
        suffix = np.minimum.accumulate(rstep[::-1])[::-1]
        pos = np.searchsorted(rec, records, side="right")
        bound = np.where(pos < rec.size, suffix[np.minimum(pos, rec.size - 1)],
                         np.iinfo(np.int64).max)
        keep &= steps < bound
    return keep


def _finish(out: _Collector, warnings: list[str]) -> dict[str, Series]:
    restarts = np.asarray(out.restarts, dtype=np.int64).reshape(-1, 2)
    raw: dict[str, Series] = {}
    purged = 0
    first: dict[str, int] = {}  # series name → its first record, to keep log order
    for tag in list(out.scalars):
        parts = out.scalars.pop(tag)  # free each tag's chunks as its series is built
        plugin = out.plugin.get(tag, (0, ""))[1]
        if plugin not in SCALAR_PLUGINS:
            continue
        records = np.concatenate([p[0] for p in parts])
        steps = np.concatenate([p[1] for p in parts])
        values = np.concatenate([p[2] for p in parts])
        del parts
        if records.size > 1 and not np.all(records[1:] >= records[:-1]):
            order = np.argsort(records, kind="stable")
            records, steps, values = records[order], steps[order], values[order]
        keep = _purge(records, steps, restarts)
        purged += int((~keep).sum())
        first[tag] = int(records[0])
        raw[tag] = Series.from_pairs(steps[keep], values[keep], tag)
    for tag, points in out.hists.items():
        if out.plugin.get(tag, (0, "histograms"))[1] not in ("histograms", ""):
            continue
        points.sort(key=lambda p: p[0])
        records = np.asarray([p[0] for p in points], dtype=np.int64)
        steps = np.asarray([p[1] for p in points], dtype=np.int64)
        keep = _purge(records, steps, restarts)
        stats = np.asarray([p[2] for p in points], dtype=np.float64)[keep]
        for j, stat in enumerate(HIST_STATS):
            name = f"hist/{tag}/{stat}"
            first[name] = int(records[0])
            raw[name] = Series.from_pairs(steps[keep], stats[:, j], name)
    if purged:
        warnings.append(f"the step counter went back (a restarted run?): {purged} older "
                        "point(s) superseded by newer ones were dropped")
    if out.dropped:
        warnings.append(f"{len(out.seen) + len(out.dropped):,} tags: only the first "
                        f"{_limits.MAX_SERIES:,} are read")
    if out.undecodable:
        warnings.append(f"{out.undecodable} record(s) could not be decoded and were skipped")
    return {name: raw[name] for name in sorted(raw, key=lambda k: (first[k], k))}


# --------------------------------------------------------------------------- the reader

SUBRUN_DIRS = {"train", "validation"}  # Keras TensorBoard callback (.v2 files)
ESTIMATOR_DIRS = {"eval", "validation"}  # TF Estimator: <model_dir>/eval/ beside the train events
_HPARAMS_DIR = LazyPattern(r"^\d{9,}(\.\d+)?$")  # torch add_hparams: <run>/<time.time()>/


class TensorBoardReader:
    """TensorBoard event files; all files of one run directory (and Keras sub-runs) → one Run."""

    name = "tensorboard"
    priority = 10

    def can_read(self, path: Path) -> bool:
        return is_event_file(path) and path.is_file()

    def group_key(self, path: Path) -> Path:
        """The run directory: the file's folder, or its parent for sub-runs (Keras train/ and
        validation/, Estimator eval/, the time-stamped folder of ``add_hparams``, torch's
        ``add_scalars`` folders ``<main_tag>_<key>`` beside the run's own event file)."""
        folder = path.parent
        name = folder.name.lower()
        if name in SUBRUN_DIRS and path.name.endswith(".v2"):
            return folder.parent
        if (name in ESTIMATOR_DIRS or _HPARAMS_DIR.match(name) or "_" in name) \
                and _has_event_files(folder.parent):
            return folder.parent  # "_": torch's add_scalars writes <run>/<main_tag>_<key>/
        return folder

    def read(self, path: Path) -> list[Run]:
        return self.read_many([path])

    def read_many(self, paths: list[Path]) -> list[Run]:
        """Merge event files of one run (ordered by name, i.e. by start time). Large chunks are
        decoded while a second thread checks their CRCs; a chunk that fails the check sends
        the whole run to the sequential read, which skips the failing records."""
        try:
            return self._read_many(paths, beside=True)
        except _CrcFailed:
            return self._read_many(paths, beside=False)

    def _read_many(self, paths: list[Path], beside: bool) -> list[Run]:
        paths = sorted(paths, key=lambda p: (p.parent.as_posix(), p.name))
        run_dir = self.group_key(paths[0])
        out = _Collector()
        warnings: list[str] = []
        base = 0
        empty: list[Path] = []
        for path in paths:
            sub = path.parent.name
            prefix = sub + "/" if path.parent != run_dir and not _HPARAMS_DIR.match(sub) else ""
            records = 0
            for buf, s, n in _read_records(path, warnings):
                if beside and s.size >= _CRC_BESIDE and _crc32c() is not None:
                    leftover = _decode_beside_crc_check(buf, s, n, base, prefix, out)
                else:
                    good = _check_data_crc(buf, s, n, path, warnings)
                    if not good.all():
                        s, n = s[good], n[good]
                    leftover = _decode_fast(buf, s, n, base, prefix, out)
                leftover = leftover[[not _no_scalars(buf, int(s[i]), int(n[i]))
                                     for i in leftover.tolist()]] if leftover.size else leftover
                if leftover.size:
                    _decode_slow(buf, s, n, leftover, base, prefix, out)
                base += s.size
                records += s.size
            if records == 0 and path.stat().st_size == 0:
                empty.append(path)
            elif records == 0:
                warnings.append(f"{path.name}: no complete TFRecord in the file")
        if len(empty) == len(paths):
            raise LogError(paths[0], "empty file")
        warnings += [f"{p.name}: empty event file ignored" for p in empty]
        raw = _add_scalars_names(_finish(out, warnings))
        keras = any(p.parent != run_dir and p.parent.name.lower() in SUBRUN_DIRS
                    and p.name.endswith(".v2") for p in paths)
        context, unmapped = _axis(raw, keras)
        for key, value in _setup_context(out.texts).items():
            context.setdefault(key, value)
        hparams = run_dir / "hparams.yaml"
        if hparams.is_file():
            ctx, notes = yaml_context(hparams)
            context.update(ctx)
            warnings += notes
        summary = next((tag for tag in raw if tag.rsplit("/", 1)[-1] in END_TAGS), None)
        if summary is not None:
            context["ended"] = f"the event file has {summary!r}, which the Hugging Face " \
                               "Trainer logs when training ends"
        return [build_run(run_dir.name, run_dir, self.name, raw, context, warnings,
                          unmapped=unmapped)]


def _add_scalars_names(raw: dict[str, Series]) -> dict[str, Series]:
    """torch's ``writer.add_scalars("Loss", {"train": …, "val": …})`` logs tag ``Loss`` in the
    folders ``Loss_train`` and ``Loss_val`` (the main tag's ``/`` made ``_``), read as
    ``Loss_train/Loss``: named ``Loss/train`` and ``Loss/val``, as the call named them."""
    out: dict[str, Series] = {}
    for name, series in raw.items():
        folder, _, tag = name.partition("/")  # the folder is one part, the tag may have more
        stem = tag.replace("/", "_") + "_"
        if tag and folder.startswith(stem) and len(folder) > len(stem):
            name = f"{tag}/{folder[len(stem):]}"
            series = Series(series.steps, series.values, name)
        out[name] = series
    return out


def _setup_context(texts: dict[str, bytes]) -> dict[str, Any]:
    """The fine-tuning setup (readers._setup) from the configuration text summaries; a text
    that is not a JSON object is ignored."""
    params: dict[str, Any] = {}
    for tag in SETUP_TEXTS:
        try:
            data = json.loads(texts[tag].decode("utf-8")) if tag in texts else None
        except (UnicodeDecodeError, ValueError, RecursionError):
            continue
        if isinstance(data, dict):
            params.update({k: v for k, v in data.items() if k not in params})
    return setup_from_params(params) if params else {}


_KERAS_STEP_TAGS = LazyPattern(r"^(train|validation)/(batch_|evaluation_.*_vs_iterations$)")
_YOLO_TAGS = LazyPattern(r"^(train|val)/\w+_loss$|^metrics/(mAP|precision|recall)")


def _axis(raw: dict[str, Series], keras: bool) -> tuple[dict[str, Any], set[str]]:
    """The x axis. TensorBoard steps are what the writer passed: global steps for torch,
    Lightning and HF, but epochs for the Keras callback's ``epoch_*`` curves (its ``batch_*`` and
    ``evaluation_*_vs_iterations`` tags count batches: kept under their own names so the
    canonical curves share one axis) and for Ultralytics (``trainer.epoch + 1``). An ``epoch``
    series over steps (Lightning ``epoch``, HF ``train/epoch``) gives steps per epoch."""
    if keras:
        return axis("epoch"), {t for t in raw if _KERAS_STEP_TAGS.match(t)}
    if sum(1 for t in raw if _YOLO_TAGS.match(t)) >= 2 and any(
            t.startswith("metrics/") for t in raw):
        return axis("epoch"), set()
    epoch = raw.get("epoch") or raw.get("train/epoch")
    if epoch is None:
        return axis("step"), set()
    return axis("step", epoch.steps, epoch.values), set()


def _read_records(path: Path,
                  warnings: list[str]) -> Iterator[tuple[bytes, np.ndarray, np.ndarray]]:
    """The file in chunks of about CHUNK bytes, each with its complete records, so a 1 GB
    event file is never held in memory at once."""
    with open_log(path) as fh:
        carry, offset = b"", 0
        while True:
            want = CHUNK
            if len(carry) >= 12:  # a record cut by the chunk: read the rest of it in one go
                want = max(CHUNK, _HEADER.unpack_from(carry)[0] + 16 - len(carry))
            block = fh.read(want)
            buf = carry + block if carry else block
            final = len(block) < want
            if not buf:
                return
            file_end = max(os.fstat(fh.fileno()).st_size, offset + len(buf))
            (s, n), done, stop, skip = _frame(buf, path, warnings, final=final, offset=offset,
                                              file_end=file_end)
            if s.size:
                yield buf, s, n
            if skip is not None:  # past a record too long to be an event
                del buf
                carry, offset = b"", fh.seek(skip)
                continue
            if stop or final:
                return
            carry, offset = buf[done:], offset + done


def _has_event_files(folder: Path) -> bool:
    """Whether ``folder`` holds a file named like an event file. Asked for the parent of every
    event file a scan finds (``group_key``), so a folder of N runs would be listed N times:
    the answer is remembered per folder and modification time (a file added changes it)."""
    try:
        changed = folder.stat().st_mtime_ns
    except OSError:
        return False
    return _holds_event_files(str(folder), changed)


@lru_cache(maxsize=256)
def _holds_event_files(folder: str, _changed: int) -> bool:
    try:
        with os.scandir(folder) as entries:
            return any(is_event_name(e.name) and e.is_file() for e in entries)
    except OSError:
        return False


reader = TensorBoardReader()
