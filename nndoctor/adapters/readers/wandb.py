"""Weights & Biases local runs (``wandb/run-*/`` and ``wandb/offline-run-*/``) → one Run each.

The history is in the run's ``run-<id>.wandb`` transaction log (log-formats.md §2.5, §5):
a 7-byte file header (``:W&B``, magic ``0xBEE1``, a version byte), then 32 KiB blocks of chunks
in LevelDB's log layout — a 7-byte chunk header (CRC-32 of type byte + data, as zlib computes it;
uint16 length; type FULL=1, FIRST=2, MIDDLE=3, LAST=4), a block tail shorter than a header is
padding. Each record is a ``wandb_internal.proto`` ``Record``; the few fields used are decoded
here from the protobuf wire format, so neither the ``wandb`` package nor its generated protos
are needed (wandb ≥ 0.19 ships no reader of its own any more):

* ``Record.history`` (2): ``HistoryRecord{item=1 HistoryItem{key=1, nested_key=2 (repeated),
  value_json=16}, step=2 HistoryStep{num=1}}`` — one row of ``wandb.log``; the step is
  ``step.num`` (or the item ``_step``). ``NaN``/``Infinity`` are JSON-encoded as Python writes them.
* ``Record.run`` (17): ``RunRecord{run_id=1, project=3, config=4, display_name=8}``.
* ``Record.config`` (5): ``ConfigRecord{update=1 ConfigItem{key=1, nested_key=2,
  value_json=16}}`` — the run's config, used as context (values are ``{"value": …}`` or plain).
* ``Record.exit`` (18): ``RunExitRecord{exit_code=1, runtime=2}`` — written when the run
  finishes: the run has ended (``context["ended"]``).

``files/config.yaml`` (``key: {value: …}``) adds to the config when present (online runs write
it; offline runs of current clients do not), and ``files/wandb-summary.json`` is claimed so that
no other reader mistakes it for a log. A cut-off last record (a run still logging) is dropped
with a warning; a chunk that fails its CRC ends the scan with a warning naming its offset.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nndoctor.adapters.readers._io import head, read_bytes, to_float
from nndoctor.adapters.readers._runs import axis, build_run, context_from_params
from nndoctor.adapters.run import LogError, Run, Series
from nndoctor.lazy_re import regex

MAGIC = b":W&B"
FILE_HEADER = 7
BLOCK = 32 * 1024
CHUNK_HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
_RUN_DIR = regex(r"^(offline-)?run-\d{8}_\d{6}-[A-Za-z0-9]+$")
_SKIP_KEYS = {"_step", "_runtime", "_timestamp", "_wandb"}


def run_dir_of(path: Path) -> Path | None:
    """The W&B run folder of any file in it (the ``.wandb`` log, ``files/config.yaml``,
    ``files/wandb-summary.json``, and W&B's own JSON-lines ``logs/debug*.log``, claimed so no
    other reader mistakes them for metrics), the ``wandb/`` folder for its top-level debug logs;
    None for anything else."""
    if path.suffix == ".wandb" and path.name.startswith("run-"):
        return path.parent
    if path.parent.name == "wandb" and path.name.startswith("debug") and path.suffix == ".log":
        return path.parent
    names = path.parts[-2::-1]  # the names of path.parents, nearest first (cheaper to walk)
    for depth, name in enumerate(names[:3]):
        if _RUN_DIR.match(name) and names[depth + 1:depth + 2] == ("wandb",):
            return path.parents[depth]
    return None


def records(data: bytes, path: Path, warnings: list[str]) -> Iterator[bytes]:
    """The records of a ``.wandb`` log (framing in the module docstring)."""
    if len(data) < FILE_HEADER or data[:4] != MAGIC:
        raise LogError(path, "not a W&B transaction log (no ':W&B' header)")
    magic, _version = struct.unpack_from("<HB", data, 4)
    if magic != 0xBEE1:
        raise LogError(path, f"not a W&B transaction log (magic {magic:#06x})")
    pos = FILE_HEADER
    parts: list[bytes] = []
    n = len(data)
    while pos < n:
        left = BLOCK - pos % BLOCK
        if left < CHUNK_HEADER:
            pos += left  # block trailer padding
            continue
        if pos + CHUNK_HEADER > n:
            break
        crc, length, kind = struct.unpack_from("<IHB", data, pos)
        if kind == 0 and length == 0 and crc == 0:  # zero padding (preallocated tail)
            pos += left
            continue
        start = pos + CHUNK_HEADER
        end = start + length
        if end > n:
            warnings.append(f"{path.name}: cut-off last record (a run still logging?): ignored")
            return
        if length > left - CHUNK_HEADER or kind not in (FULL, FIRST, MIDDLE, LAST):
            warnings.append(f"{path.name}: corrupt chunk header at byte {pos}; kept the "
                            "records before it")
            return
        chunk = data[start:end]
        if zlib.crc32(bytes([kind]) + chunk) & 0xFFFFFFFF != crc:
            warnings.append(f"{path.name}: CRC mismatch at byte {pos}; kept the records "
                            "before it")
            return
        pos = end
        if kind == FULL:
            parts = []
            yield chunk
        elif kind == FIRST:
            parts = [chunk]
        elif kind == MIDDLE:
            if parts:
                parts.append(chunk)
        else:  # LAST
            if parts:
                parts.append(chunk)
                yield b"".join(parts)
            parts = []
    if parts:
        warnings.append(f"{path.name}: cut-off last record (a run still logging?): ignored")


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def fields(buf: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) of one protobuf message: varints as ints, 64/32-bit
    fields as their raw bytes, length-delimited fields as bytes."""
    pos, n = 0, len(buf)
    while pos < n:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if pos > n:
            raise ValueError("truncated field")
        yield number, wire, value


def _item(buf: bytes) -> tuple[str, Any]:
    """A HistoryItem / ConfigItem / SummaryItem: (key, decoded value)."""
    key, nested, value = "", [], None
    for number, wire, raw in fields(buf):
        if number == 1 and wire == 2:
            key = raw.decode("utf-8", "replace")
        elif number == 2 and wire == 2:
            nested.append(raw.decode("utf-8", "replace"))
        elif number == 16 and wire == 2:
            try:
                value = json.loads(raw.decode("utf-8", "replace"))
            except ValueError:
                value = None
        elif number == 5 and wire == 0:  # HistoryItem.integer (typed items, newer clients)
            value = raw - (1 << 64) if raw >= 1 << 63 else raw
        elif number == 6 and wire == 1:  # HistoryItem.number
            value = struct.unpack("<d", raw)[0]
    return ("/".join(nested) if nested else key), value


def _config_items(buf: bytes, out: dict[str, Any]) -> None:
    for number, wire, raw in fields(buf):
        if number == 1 and wire == 2:
            key, value = _item(raw)
            if isinstance(value, dict) and set(value) <= {"value", "desc"} and "value" in value:
                value = value["value"]
            if key and key != "_wandb":
                out[key] = value


def _flat(prefix: str, value: Any, out: dict[str, float]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}/{k}", v, out)
        return
    number = to_float(value)
    if number is not None:
        out[prefix] = number


class WandbLocalReader:
    """A local W&B run folder (its ``.wandb`` log, config.yaml and wandb-summary.json)."""

    name = "wandb"
    priority = 12

    def can_read(self, path: Path) -> bool:
        run = run_dir_of(path)
        if run is None:
            return False
        return path.suffix != ".wandb" or head(path, 4) == MAGIC

    def group_key(self, path: Path) -> Path:
        run = run_dir_of(path)
        return run if run is not None else path

    def read(self, path: Path) -> list[Run]:
        return self.read_many([path])

    def read_many(self, paths: list[Path]) -> list[Run]:
        run_dir = self.group_key(paths[0])
        logs = sorted(run_dir.glob("run-*.wandb"))
        if not logs and not any(p.suffix == ".wandb" or p.parent.name == "files" for p in paths):
            return []  # only W&B's own debug logs: nothing to diagnose, nothing misread
        if not logs:
            raise LogError(paths[0], "a W&B run folder without its run-<id>.wandb history log")
        warnings: list[str] = []
        points: dict[str, tuple[list[int], list[float]]] = {}
        config: dict[str, Any] = {}
        meta: dict[str, str] = {}
        rows = 0
        for log in logs:
            for record in records(read_bytes(log), log, warnings):
                rows += self._record(record, points, config, meta)
        config_yaml = run_dir / "files" / "config.yaml"
        if config_yaml.is_file():
            from nndoctor.safe_yaml import load_yaml  # only for a W&B run with a config

            try:
                data = load_yaml(config_yaml.read_text(encoding="utf-8"))
            except Exception as exc:  # a damaged config is only a warning
                warnings.append(f"files/config.yaml: not read ({type(exc).__name__})")
                data = None
            if isinstance(data, dict):
                for key, value in data.items():
                    if isinstance(value, dict) and "value" in value:
                        value = value["value"]
                    if key != "_wandb":
                        config.setdefault(str(key), value)
        if rows == 0:
            warnings.append("no history rows logged yet")
        raw = {k: Series.from_pairs(s, v, k) for k, (s, v) in points.items()}
        context: dict[str, Any] = context_from_params(config)
        context.update(axis("step", *points.get("epoch", (None, None))))
        if config:
            context["params"] = config
        context.update({f"wandb_{k}": v for k, v in meta.items() if k in ("run_id", "project")})
        if "exit_code" in meta:
            context["ended"] = f"the W&B log has its exit record (exit code {meta['exit_code']})"
        name = meta.get("display_name") or meta.get("run_id") or run_dir.name
        return [build_run(name, run_dir, self.name, raw, context, warnings)]

    def _record(self, record: bytes, points: dict[str, tuple[list[int], list[float]]],
                config: dict[str, Any], meta: dict[str, str]) -> int:
        rows = 0
        for number, wire, raw in fields(record):
            if wire != 2:
                continue
            if number == 2:  # history
                row: dict[str, float] = {}
                step: int | None = None
                for n, w, value in fields(raw):
                    if n == 1 and w == 2:
                        key, decoded = _item(value)
                        if key == "_step" and to_float(decoded) is not None:
                            step = int(decoded)
                        elif key and key not in _SKIP_KEYS and not key.startswith("_"):
                            _flat(key, decoded, row)
                    elif n == 2 and w == 2:
                        for sn, sw, num in fields(value):
                            if sn == 1 and sw == 0:
                                step = num
                step = 0 if step is None else step
                for key, value in row.items():
                    s, v = points.setdefault(key, ([], []))
                    s.append(step)
                    v.append(value)
                rows += 1
            elif number == 17:  # run
                for n, w, value in fields(raw):
                    if w != 2:
                        continue
                    if n in (1, 3, 8):
                        meta[{1: "run_id", 3: "project", 8: "display_name"}[n]] = \
                            value.decode("utf-8", "replace")
                    elif n == 4:
                        _config_items(value, config)
            elif number == 5:  # config
                _config_items(raw, config)
            elif number == 18:  # exit: wandb.finish() (or the process exiting) ended the run
                code = next((v for n, w, v in fields(raw) if n == 1 and w == 0), 0)
                meta["exit_code"] = str(code - (1 << 64) if code >= 1 << 63 else code)
        return rows


reader = WandbLocalReader()
