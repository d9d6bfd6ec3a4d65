"""TensorBoard event files, written without TensorBoard: the record format `SummaryWriter` writes.

An event file is a TFRecord file of `Event` protocol buffers (tensorflow/core/util/event.proto):

    each record   uint64 LE length | uint32 LE masked_crc32c(length bytes) | data | uint32 LE masked_crc32c(data)
    masked_crc    ((crc >> 15) | (crc << 17)) + 0xa282ead8, mod 2**32; crc = CRC-32C (Castagnoli)

The first event carries `file_version = "brain.Event:2"`; each later one a wall time, a step and a
`Summary` of scalar values, as `SummaryWriter.add_scalar` writes them (`Summary.Value.simple_value`).
The protobuf fields used, with their numbers:

    Event    double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5
    Summary  repeated Value value = 1
    Value    string tag = 1; float simple_value = 2

tests/test_history_export.py reads these files back with TensorBoard's own reader.
"""
from __future__ import annotations

import struct
from pathlib import Path

from . import atomic

FILE_VERSION = "brain.Event:2"
_POLY = 0x82F63B78  # CRC-32C (Castagnoli), bit-reversed


def _table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _table()


def crc32c(data: bytes) -> int:
    """CRC-32C of `data` (RFC 3720's check value: crc32c(b"123456789") == 0xE3069283)."""
    crc, table = 0xFFFFFFFF, _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def record(data: bytes) -> bytes:
    """One TFRecord: length, its masked CRC, the data, the data's masked CRC."""
    length = struct.pack("<Q", len(data))
    return b"".join([length, struct.pack("<I", masked_crc32c(length)), data, struct.pack("<I", masked_crc32c(data))])


# --- protobuf wire format, the few field types used ----------------------------------------------


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # int64: a negative number as its two's complement (10 bytes)
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _bytes_field(number: int, data: bytes) -> bytes:
    return _field(number, 2) + _varint(len(data)) + data


def event(wall_time: float, step: int = 0, scalars: dict[str, float] | None = None,
          file_version: str | None = None) -> bytes:
    """One serialized Event: a file version, or scalars {tag: value} at `step`."""
    out = _field(1, 1) + struct.pack("<d", wall_time) + _field(2, 0) + _varint(int(step))
    if file_version is not None:
        out += _bytes_field(3, file_version.encode())
    if scalars:
        summary = b"".join(_bytes_field(1, _bytes_field(1, tag.encode()) + _field(2, 5) + struct.pack("<f", value))
                           for tag, value in scalars.items())
        out += _bytes_field(5, summary)
    return out


def file_name(wall_time: float, suffix: str = "vae_core") -> str:
    """'events.out.tfevents.<unix time>.<suffix>': TensorBoard finds event files by 'tfevents' in the name."""
    return f"events.out.tfevents.{int(wall_time):010d}.{suffix}"


def event_file(steps: list[tuple[int, dict[str, float]]], wall_time: float) -> bytes:
    """A whole event file: the version event, then one event per (step, {tag: value}), all at `wall_time`."""
    parts = [record(event(wall_time, file_version=FILE_VERSION))]
    parts += [record(event(wall_time, step, scalars)) for step, scalars in steps if scalars]
    return b"".join(parts)


def write(folder: str | Path, steps: list[tuple[int, dict[str, float]]], wall_time: float) -> Path:
    """Write an event file into `folder` (made if missing), atomically; -> its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return atomic.write_bytes(folder / file_name(wall_time), event_file(steps, wall_time))
