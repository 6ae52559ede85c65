"""Image parts in chat requests: which pass, which are a 400 naming the part, and that the text limits
and the blocklist count text only."""

import pytest

from lib.apis.openai_requests import parse_chat
from lib.platform.config import load_settings
from lib.platform.errors import InvalidRequest

SETTINGS = load_settings({"AUTH_MODE": "none", "MAX_PROMPT_CHARS": "100", "MAX_INPUT_CHARS": "200"})
# An image far larger than every text limit above.
DATA_URL = "data:image/png;base64," + "iVBORw0KGgo" * 1000


def image(url):
    return {"type": "image_url", "image_url": {"url": url, "detail": "low"}}


def user(*parts):
    return {"messages": [{"role": "user", "content": list(parts)}]}


@pytest.mark.parametrize("url", [DATA_URL, "https://example.com/cat.png"])
def test_a_message_with_only_an_image_is_valid_and_passes_unchanged(url):
    # Given a user message whose one part is an image (a data: URL or an https: one)
    body = user(image(url))
    # When it is parsed
    request = parse_chat(body, SETTINGS)
    # Then it is a request, the image part as sent, and no text counted
    assert request.messages[0]["content"] == [image(url)]
    assert request.prompt_chars == 0


def test_the_text_limits_and_the_blocklist_count_text_only():
    # Given text within MAX_PROMPT_CHARS beside an image far larger than MAX_INPUT_CHARS
    settings = load_settings({"AUTH_MODE": "none", "MAX_PROMPT_CHARS": "100", "BLOCKED_PATTERNS": "iVBOR"})
    body = user({"type": "text", "text": "What is in this picture?"}, image(DATA_URL))
    # When it is parsed
    request = parse_chat(body, settings)
    # Then only the text was counted (and the image's base64 never matched the blocklist)
    assert request.prompt_chars == len("What is in this picture?")
    assert request.input_chars < 100


@pytest.mark.parametrize(
    ("part", "param"),
    [
        (image("http://example.com/cat.png"), "messages[0].content[0].image_url.url"),
        (image("file:///etc/passwd"), "messages[0].content[0].image_url.url"),
        ({"type": "image_url"}, "messages[0].content[0].image_url.url"),
        (
            {"type": "image_url", "image_url": "https://example.com/cat.png"},
            "messages[0].content[0].image_url.url",
        ),
        ({"type": "text", "text": 7}, "messages[0].content[0].text"),
    ],
)
def test_a_malformed_part_is_a_400_naming_it(part, param):
    # Given a part that is not an image with an https: or data: URL, or text that is not a string
    with pytest.raises(InvalidRequest) as raised:
        # When it is parsed
        parse_chat(user(part), SETTINGS)
    # Then the 400 names the part's field
    assert raised.value.param == param


def test_a_message_with_neither_text_nor_media_is_still_no_prompt():
    with pytest.raises(InvalidRequest) as raised:
        parse_chat(user({"type": "text", "text": "  "}), SETTINGS)
    assert raised.value.code == "missing_prompt"
