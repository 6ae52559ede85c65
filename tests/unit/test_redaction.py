"""The key scrubber (issue 21, hardening item 5): whole bodies, bodies in pieces, log records."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from lib.keys.secret_keys import SecretKeySource
from lib.keys.sources import StaticKeySource
from lib.platform import redaction
from lib.platform.redaction import REDACTED, LogScrubber, StreamScrubber, scrub_bytes, scrub_text

KEY = "sk-live-0123456789/abcdef"


@pytest.fixture(autouse=True)
def only_this_key() -> Iterator[None]:
    redaction.forget_all()
    redaction.remember(KEY)
    yield
    redaction.forget_all()


def test_a_key_is_scrubbed_as_written_and_as_json_escapes_it():
    # (an encoder that escapes "/" writes the key's "/" as "\/")
    escaped = KEY.replace("/", "\\/")
    body = '{"text": "Authorization: Bearer ' + KEY + '", "escaped": "' + escaped + '"}'
    scrubbed = scrub_bytes(body.encode()).decode()
    assert KEY not in scrubbed and "0123456789" not in scrubbed
    assert scrubbed.count(REDACTED) == 2
    assert json.loads(scrubbed)["text"] == f"Authorization: Bearer {REDACTED}"  # still JSON


def test_text_without_a_key_is_left_as_it_is():
    assert scrub_text("sk-live-0123 is not the key") == "sk-live-0123 is not the key"


def test_short_values_are_not_taken_for_keys():
    redaction.remember("none")
    redaction.remember(None)
    assert scrub_text("none of it") == "none of it"


def test_only_the_newest_keys_are_kept():
    for index in range(redaction.MAX_SECRETS):
        redaction.remember(f"rotated-key-{index:08d}")
    assert scrub_text(KEY) == KEY  # the oldest, forgotten
    assert scrub_text("rotated-key-00000063") == REDACTED


@pytest.mark.parametrize("cut", [1, 5, len(KEY) - 1])
def test_a_key_cut_between_two_pieces_of_a_stream_is_still_scrubbed(cut):
    # Given a body written in pieces, the key split across two of them
    text = f'data: {{"text": "Bearer {KEY} ok"}}\n\n'.encode()
    at = text.index(KEY.encode()) + cut
    scrubber = StreamScrubber()
    # When each piece goes through the scrubber
    out = [scrubber.feed(text[:at]), scrubber.feed(text[at:]), scrubber.flush()]
    # Then what went out has no key, and nothing else was lost
    assert b"".join(out) == text.replace(KEY.encode(), REDACTED.encode())


def test_a_piece_that_ends_an_event_is_not_held_back():
    scrubber = StreamScrubber()
    event = b'data: {"text": "s"}\n\n'
    assert scrubber.feed(event) == event
    # while a piece ending in what could begin the key waits for the next one
    assert scrubber.feed(b"data: sk-li") == b"data: "
    assert scrubber.feed(b"ght\n\n") == b"sk-light\n\n"


def test_a_log_record_s_message_arguments_and_extra_fields_are_scrubbed():
    record = logging.LogRecord("modelgate", logging.INFO, __file__, 1, "echo %s", (KEY,), None)
    record.completion = f"Bearer {KEY}"
    record.stream = {"headers": [KEY]}
    assert LogScrubber().filter(record) is True
    assert KEY not in record.getMessage() and KEY not in record.completion
    assert record.stream == {"headers": [REDACTED]}


def test_the_key_sources_make_every_key_they_read_scrubbed():
    # Given keys from the environment and from a secret store, neither seen before
    redaction.forget_all()

    class Store:
        def get(self, name, **_options):
            return json.dumps({"api_key": "sk-from-the-secret-store-42"})

    StaticKeySource("sk-from-the-environment-42")
    SecretKeySource(Store(), "secret-name", 300).get_key()
    # Then both are scrubbed
    assert scrub_text("sk-from-the-environment-42 sk-from-the-secret-store-42") == f"{REDACTED} {REDACTED}"
