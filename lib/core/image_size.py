"""An image's width and height read from its own header, for what a provider bills for it.

Only `data:` URLs are read (the gateway never fetches a URL a caller gives it): the base64 text is
decoded a block at a time until the header says the size, so a PNG, GIF or WebP costs a few dozen
bytes and a JPEG as far as its frame header (after any EXIF block). Anything else, or a header that
does not parse, is None: the caller counts it as the largest image the provider accepts.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct

# base64 characters decoded at a time (a multiple of 4): a JPEG's EXIF block may come before its size.
_BLOCK_CHARS = 4096
_DATA_URL = re.compile(r"data:[^,;]*(?:;[^,;]*)*?;base64,", re.IGNORECASE)
# JPEG's start-of-frame markers (baseline, progressive, lossless, arithmetic): they carry the size.
_JPEG_FRAMES = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
# Markers without a length field (restart markers, start of image, TEM).
_JPEG_BARE = frozenset({0x01, *range(0xD0, 0xD9)})


class _Decoded:
    """The bytes of a base64 text, decoded only as far as they are read."""

    def __init__(self, text: str) -> None:
        self._text = "".join(text.split())  # base64 may be wrapped in lines
        self._data = b""
        self._chars = 0

    def upto(self, size: int) -> bytes:
        """The first `size` bytes (fewer when the image is shorter or the base64 is broken)."""
        while len(self._data) < size and self._chars < len(self._text):
            block = self._text[self._chars : self._chars + _BLOCK_CHARS]
            self._chars += len(block)
            try:
                self._data += base64.b64decode(block + "=" * (-len(block) % 4))
            except (binascii.Error, ValueError):
                self._chars = len(self._text)  # not base64: nothing more can be read
        return self._data[:size]


def data_url_size(url: str) -> tuple[int, int] | None:
    """(width, height) of a `data:...;base64,` image URL, or None when it cannot be read."""
    match = _DATA_URL.match(url)
    if match is None:
        return None
    decoded = _Decoded(url[match.end() :])
    head = decoded.upto(32)
    size = _png(head) or _gif(head) or _webp(head) or _bmp(head)
    if size is None and head.startswith(b"\xff\xd8"):
        size = _jpeg(decoded)
    return size if size is not None and size[0] > 0 and size[1] > 0 else None


def _png(head: bytes) -> tuple[int, int] | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR" and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
        return width, height
    return None


def _gif(head: bytes) -> tuple[int, int] | None:
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        width, height = struct.unpack("<HH", head[6:10])
        return width, height
    return None


def _webp(head: bytes) -> tuple[int, int] | None:
    if not (head.startswith(b"RIFF") and head[8:12] == b"WEBP") or len(head) < 30:
        return None
    chunk = head[12:16]
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":  # lossy: the key frame's 14-bit sizes
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and head[20] == 0x2F:  # lossless: 14-bit sizes less one, packed
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":  # extended: 24-bit sizes less one
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    return None


def _bmp(head: bytes) -> tuple[int, int] | None:
    if head.startswith(b"BM") and len(head) >= 26 and struct.unpack("<I", head[14:18])[0] >= 40:
        width, height = struct.unpack("<ii", head[18:26])
        return abs(width), abs(height)  # a negative height means the rows are stored top-down
    return None


def _jpeg(decoded: _Decoded) -> tuple[int, int] | None:
    """The size in the first start-of-frame segment, walking the segments from the start."""
    position = 2
    while True:
        marker = decoded.upto(position + 4)[position:]
        if len(marker) < 4 or marker[0] != 0xFF:
            return None
        kind = marker[1]
        if kind == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if kind in _JPEG_BARE:
            position += 2
            continue
        length = struct.unpack(">H", marker[2:4])[0]
        if kind in _JPEG_FRAMES:
            frame = decoded.upto(position + 9)[position:]
            if len(frame) < 9:
                return None
            height, width = struct.unpack(">HH", frame[5:9])
            return width, height
        if length < 2:
            return None
        position += 2 + length
