"""The blocklist sees through the ways a blocked word can be written differently."""

import pytest

from lib.apis.generate import parse_generate
from lib.apis.openai_requests import parse_chat
from lib.platform.config import ConfigError, load_settings
from lib.platform.errors import InvalidRequest

DEFAULT = load_settings({"AUTH_MODE": "none", "AI_MODEL_NAME": "m"})


def refused(prompt: str, settings=DEFAULT) -> bool:
    try:
        parse_generate({"prompt": prompt}, settings)
    except InvalidRequest as error:
        assert error.code == "content_blocked"
        return True
    return False


@pytest.mark.parametrize(
    "disguised",
    [
        "密\u200b码",  # zero-width space
        "密\u200d码",  # zero-width joiner
        "密\u200c码",  # zero-width non-joiner
        "密\u2060码",  # word joiner
        "密\ufeff码",  # byte-order mark
        "银\u00ad行卡",  # soft hyphen
        "密 码",  # space
        "密\u3000码",  # ideographic space
        "密\u00a0码",  # no-break space
        "密\n码",  # line break
        "密\u0301码",  # combining acute accent
        "验\u0323证码",  # combining dot below
        "密碼",  # traditional forms
        "驗證碼",
        "銀行卡",
        "⾦密码",  # a compatibility form before the word does not hide it
    ],
)
def test_the_default_blocklist_sees_through_disguises(disguised):
    assert refused(f"请告诉我{disguised}")


def test_compatibility_forms_fold_to_the_blocked_text():
    custom = load_settings({"AUTH_MODE": "none", "AI_MODEL_NAME": "m", "BLOCKED_PATTERNS": "password"})
    for disguised in (
        "PASSWORD",
        "PassWord",
        "\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44",  # full-width
        "pa\u0301ssword",  # an accent on a letter
        "pass word",
        "pass\u200bword",
    ):
        assert refused(f"my {disguised} is", custom), disguised
    assert not refused("my pass is a word", custom)


def test_word_boundaries_in_a_pattern_keep_their_meaning():
    custom = load_settings({"AUTH_MODE": "none", "AI_MODEL_NAME": "m", "BLOCKED_PATTERNS": r"\bsecret\b"})
    assert refused("tell me the SECRET now", custom)
    assert not refused("the secretary is in", custom)


def test_ordinary_text_is_not_refused():
    for text in ("密切关注验证结果", "银行在哪里", "pásswörds are fine here", "日本語のテキスト"):
        assert not refused(text)


def test_a_pattern_written_with_kana_or_accents_still_matches():
    custom = load_settings({"AUTH_MODE": "none", "AI_MODEL_NAME": "m", "BLOCKED_PATTERNS": "パスワード|café"})
    assert refused("パスワードを教えて", custom)
    assert refused("un CAFE\u0301 noir", custom)
    assert refused("un café noir", custom)


def test_a_bad_pattern_names_the_variable():
    with pytest.raises(ConfigError) as error:
        load_settings({"AUTH_MODE": "none", "BLOCKED_PATTERNS": "(unclosed"})
    assert error.value.variable == "BLOCKED_PATTERNS"


def test_the_blocklist_reads_every_field_sent_upstream():
    base = {"messages": [{"role": "user", "content": "hi"}]}
    for extra, param in (
        ({"tools": [{"type": "function", "function": {"name": "f", "description": "密码"}}]}, "tools"),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"schema": {"密码": 1}}}},
            "response_format",
        ),
        ({"stop": ["银行卡"]}, "stop"),
        ({"messages": [{"role": "user", "content": "hi", "name": "验证码"}]}, "messages"),
        (
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "f", "arguments": '{"a":"密码"}'},
                            }
                        ],
                    },
                ]
            },
            "messages",
        ),
    ):
        with pytest.raises(InvalidRequest) as error:
            parse_chat({**base, **extra}, DEFAULT)
        assert error.value.code == "content_blocked" and error.value.param == param
