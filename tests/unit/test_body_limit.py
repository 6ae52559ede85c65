"""Issue 20's body limit: it follows the platform (Lambda's 6 MiB request payload), and a body declared
larger is refused whether or not it came with the request (the HTTP server does not read it)."""

from __future__ import annotations

import pytest

from lib.platform.config import LAMBDA_MAX_PAYLOAD_BYTES, ConfigError, load_settings
from lib.platform.errors import InvalidRequest, PayloadTooLarge
from lib.stages.request_body import parse_json_body


def test_the_default_body_limit_is_lambda_s_request_payload_and_the_text_limits_are_unchanged():
    settings = load_settings({"AUTH_MODE": "none"})
    assert settings.max_body_bytes == LAMBDA_MAX_PAYLOAD_BYTES == 6 * 1024 * 1024
    assert (settings.max_prompt_chars, settings.max_input_chars) == (2048, 32_768)
    with pytest.raises(ConfigError) as error:
        load_settings({"AUTH_MODE": "none", "MAX_BODY_BYTES": str(LAMBDA_MAX_PAYLOAD_BYTES + 1)})
    assert error.value.variable == "MAX_BODY_BYTES"


@pytest.mark.parametrize("declared", ["1025", "300000000", "9" * 5000])
def test_a_body_declared_past_the_limit_is_413_without_it(declared):
    with pytest.raises(PayloadTooLarge):
        parse_json_body(None, False, 1024, declared_bytes=declared)


@pytest.mark.parametrize("declared", [None, "1024", "", "12x", "-5", "\u0661\u0662"])
def test_a_declared_length_within_the_limit_or_not_a_number_changes_nothing(declared):
    assert parse_json_body('{"a": 1}', False, 1024, declared_bytes=declared) == {"a": 1}
    with pytest.raises(InvalidRequest) as error:
        parse_json_body(None, False, 1024, declared_bytes=declared)
    assert error.value.code == "missing_body"
