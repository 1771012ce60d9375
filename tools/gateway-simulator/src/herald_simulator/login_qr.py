"""Login QR codes for sessions waiting to be paired: a WhatsApp-like value and a PNG of it.

The value has WhatsApp Web's shape (``ref,noiseKey,identityKey,advSecret``, base64 parts);
the PNG is a QR-looking picture derived from it (finder squares, deterministic modules), not a
scannable code: nothing would pair with the simulator anyway, and it keeps the simulator free
of an image or QR library.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib

MODULES = 25  # a version-2 QR code is 25 x 25 modules
QUIET = 4  # modules of white border
SCALE = 4  # pixels per module


def qr_value(session: str, count: int) -> str:
    """The QR value of a session's ``count``-th login code (stable for the same inputs)."""
    parts = [hashlib.sha256(f"{session}:{count}:{part}".encode()).digest() for part in range(4)]
    ref = "2@" + base64.b64encode(parts[0] + parts[1][:16]).decode()
    return ",".join([ref, *(base64.b64encode(p).decode() for p in parts[1:])])


def _modules(value: str) -> list[list[bool]]:
    """Dark (True) or light modules: finder squares in three corners, the rest from a hash."""
    bits: list[bool] = []
    block = value.encode()
    while len(bits) < MODULES * MODULES:
        block = hashlib.sha256(block).digest()
        bits.extend(bool(byte >> shift & 1) for byte in block for shift in range(8))
    grid = [bits[row * MODULES : (row + 1) * MODULES] for row in range(MODULES)]
    for top, left in ((0, 0), (0, MODULES - 7), (MODULES - 7, 0)):
        for r in range(7):
            for c in range(7):
                ring = max(abs(r - 3), abs(c - 3))
                grid[top + r][left + c] = ring != 2  # dark 7x7 ring, light ring, dark 3x3
    return grid


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def qr_png(value: str) -> bytes:
    """An 8-bit greyscale PNG picturing ``value`` (see the module docstring)."""
    grid = _modules(value)
    side = (MODULES + 2 * QUIET) * SCALE
    rows = bytearray()
    for y in range(side):
        row = y // SCALE - QUIET
        rows.append(0)  # filter: none
        for x in range(side):
            col = x // SCALE - QUIET
            dark = 0 <= row < MODULES and 0 <= col < MODULES and grid[row][col]
            rows.append(0 if dark else 255)
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(bytes(rows), 9)),
            _png_chunk(b"IEND", b""),
        ]
    )


def qr_png_base64(value: str) -> str:
    return base64.b64encode(qr_png(value)).decode()
