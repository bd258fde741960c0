"""A tiny independent TFRecord/Event writer for crafting edge cases the real writers don't make.

Byte layout per log-formats.md §1.2–1.3; CRC-32C by a plain table, not nndoctor's code.
"""

from __future__ import annotations

import struct
from pathlib import Path


def _table() -> list[int]:
    out = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        out.append(c)
    return out


_T = _table()


def crc32c(data: bytes) -> int:
    c = 0xFFFFFFFF
    for byte in data:
        c = _T[(c ^ byte) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(x: int) -> bytes:
    x &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = x & 0x7F
        x >>= 7
        if x:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def ld(field: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def record(data: bytes) -> bytes:
    head = struct.pack("<Q", len(data))
    return (head + struct.pack("<I", masked_crc(head)) + data
            + struct.pack("<I", masked_crc(data)))


def event(step: int, *values: bytes, wall: float = 1.7e9) -> bytes:
    """An Event with a Summary holding the given serialized Summary.Value messages."""
    body = b"\x09" + struct.pack("<d", wall)
    if step:
        body += b"\x10" + varint(step)
    return body + ld(5, b"".join(ld(1, v) for v in values))


def file_version() -> bytes:
    return b"\x09" + struct.pack("<d", 1.7e9) + ld(3, b"brain.Event:2")


def session_start(step: int) -> bytes:
    body = b"\x09" + struct.pack("<d", 1.7e9)
    if step:
        body += b"\x10" + varint(step)
    return body + ld(7, b"\x08\x01")  # SessionLog{status: START}


def simple(tag: str, x: float) -> bytes:
    return ld(1, tag.encode()) + b"\x15" + struct.pack("<f", x)


def metadata(plugin: str) -> bytes:
    return ld(9, ld(1, ld(1, plugin.encode())))


def tensor_content(tag: str, x: float, double: bool = False, plugin: str = "scalars") -> bytes:
    dtype, packed = (2, struct.pack("<d", x)) if double else (1, struct.pack("<f", x))
    tensor = b"\x08" + bytes([dtype]) + ld(2, b"") + ld(4, packed)
    return ld(1, tag.encode()) + ld(8, tensor) + (metadata(plugin) if plugin else b"")


def float_val(tag: str, x: float) -> bytes:
    tensor = b"\x08\x01" + ld(5, struct.pack("<f", x))
    return ld(1, tag.encode()) + ld(8, tensor) + metadata("scalars")


def text(tag: str, s: str) -> bytes:
    tensor = b"\x08\x07" + ld(2, b"") + ld(8, s.encode())
    return ld(1, tag.encode()) + ld(8, tensor) + metadata("text")


def write(path: Path, events: list[bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(record(e) for e in [file_version(), *events]))
    return path
