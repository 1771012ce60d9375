"""The pure parts behind the login QR and Evolution's numbers."""

from __future__ import annotations

import struct
import zlib

from herald_simulator.evolution import remote_jid
from herald_simulator.login_qr import MODULES, QUIET, SCALE, qr_png, qr_value


def test_qr_value_has_whatsapp_shape_and_is_stable() -> None:
    value = qr_value("primary", 1)
    ref, *keys = value.split(",")
    assert ref.startswith("2@") and len(keys) == 3
    assert all(len(key) == 44 for key in keys)  # base64 of 32-byte keys
    assert qr_value("primary", 1) == value != qr_value("primary", 2) != qr_value("other", 1)


def test_qr_png_is_a_valid_greyscale_png() -> None:
    png = qr_png(qr_value("primary", 1))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", png[8:16])
    width, height, depth, colour = struct.unpack(">IIBB", png[16:26])
    side = (MODULES + 2 * QUIET) * SCALE
    assert (kind, length, width, height, depth, colour) == (b"IHDR", 13, side, side, 8, 0)
    idat_at = png.index(b"IDAT")
    (idat_length,) = struct.unpack(">I", png[idat_at - 4 : idat_at])
    pixels = zlib.decompress(png[idat_at + 4 : idat_at + 4 + idat_length])
    assert len(pixels) == side * (side + 1)  # a filter byte per row
    assert set(pixels[1 : side + 1]) == {255}  # the quiet zone is white
    assert png.endswith(b"IEND\xaeB`\x82")


def test_remote_jid_like_evolution() -> None:
    assert remote_jid("+91 (98765) 43210") == "919876543210@s.whatsapp.net"
    assert remote_jid("919876543210@s.whatsapp.net") == "919876543210@s.whatsapp.net"
