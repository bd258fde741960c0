"""A fast writer of large TensorBoard event files for the benchmarks (simple_value or TF2)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from crc32c import crc32c

_DELTA = 0xA282EAD8


def _masked(data: bytes) -> int:
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + _DELTA) & 0xFFFFFFFF


def _varint(x: int) -> bytes:
    out = bytearray()
    while True:
        b, x = x & 0x7F, x >> 7
        if not x:
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


def _ld(field: int, payload: bytes) -> bytes:
    return bytes([field << 3 | 2]) + _varint(len(payload)) + payload


def _record(data: bytes) -> bytes:
    head = struct.pack("<Q", len(data))
    return head + struct.pack("<I", _masked(head)) + data + struct.pack("<I", _masked(data))


def _event(step: int, summary: bytes) -> bytes:
    body = b"\x09" + struct.pack("<d", 1.7e9) + (b"\x10" + _varint(step) if step else b"")
    return body + b"\x2a" + _varint(len(summary)) + summary


def write_event_file(path: Path, steps: int = 100_000, tags: int = 10) -> int:
    """Write ``tags`` scalar tags × ``steps`` steps (simple_value); returns the point count.
    Tag 0 is a falling loss so the file is also a plausible run to diagnose."""
    names = ["train/loss"] + [f"metric_{i}" for i in range(1, tags)]
    rng = np.random.default_rng(0)
    values = rng.random((steps, tags)).astype(np.float32)
    values[:, 0] = 2.3 * np.exp(-np.arange(steps) / (steps / 5)) + 0.1 + 0.02 * values[:, 0]
    rows = values.tolist()
    with open(path, "wb") as fh:
        fh.write(_record(b"\x09" + struct.pack("<d", 1.7e9) + _ld(3, b"brain.Event:2")))
        chunk: list[bytes] = []
        for step, row in enumerate(rows):
            for name, x in zip(names, row, strict=True):
                value = _ld(1, _ld(1, name.encode()) + b"\x15" + struct.pack("<f", x))
                chunk.append(_record(_event(step, value)))
            if len(chunk) > 100_000:
                fh.write(b"".join(chunk))
                chunk = []
        fh.write(b"".join(chunk))
    return steps * tags
