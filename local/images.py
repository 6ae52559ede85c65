"""What the built-in model sees of an image: its kind and size, read from a `data:` URL's own header and
the image's first bytes. It never fetches an `https:` URL (nor does the gateway): such an image is
described by its host alone.
"""

from __future__ import annotations

import base64
import binascii
import struct
from urllib.parse import unquote_to_bytes, urlsplit

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)


def describe_image(url: str) -> str:
    """`a PNG image (image/png), 64x48 pixels, 1,204 bytes`, or why it cannot say."""
    if not url.startswith("data:"):
        host = urlsplit(url).hostname or "an unknown place"
        return f"an image at {host} (not fetched: the built-in model reads data: URLs only)"
    header, comma, payload = url[len("data:") :].partition(",")
    media_type = header.split(";")[0] or "text/plain"
    if not comma:
        return f"a {media_type} data: URL without data"
    try:
        data = (
            base64.b64decode(payload, validate=True)
            if header.endswith(";base64")
            else unquote_to_bytes(payload)
        )
    except (binascii.Error, ValueError):
        return f"a {media_type} data: URL whose base64 cannot be read"
    kind = _kind(data)
    size = _pixels(kind, data)
    shown = f"a {kind} image ({media_type})" if kind else f"{media_type} data that is not an image I know"
    return f"{shown}{f', {size[0]}x{size[1]} pixels' if size else ''}, {len(data):,} bytes"


def _kind(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return next((kind for magic, kind in _MAGIC if data.startswith(magic)), None)


def _pixels(kind: str | None, data: bytes) -> tuple[int, int] | None:
    """Width and height from the image's own header (None when it is cut short)."""
    try:
        if kind == "PNG" and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            return width, height
        if kind == "GIF":
            width, height = struct.unpack("<HH", data[6:10])
            return width, height
        if kind == "JPEG":
            return _jpeg_pixels(data)
        if kind == "WebP":
            return _webp_pixels(data)
    except struct.error:
        return None
    return None


def _jpeg_pixels(data: bytes) -> tuple[int, int] | None:
    """The first start-of-frame marker's height and width (markers C0-CF but C4, C8 and CC)."""
    position = 2
    while position + 9 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return width, height
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        position += 2 + length
    return None


def _webp_pixels(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None
