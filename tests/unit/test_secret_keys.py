"""The secret-backed key source: parsing, caching through the provider, and outages."""

import pytest
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from lib.keys.secret_keys import RETRY_AFTER_FAILURE_S, SecretKeySource, SecretValueError, parse_secret_value
from lib.platform.errors import NotConfigured


class Provider:
    def __init__(self, value):
        self.value = value
        self.calls = []
        self.failing = False

    def get(self, name, max_age, force_fetch, **options):
        self.calls.append((name, max_age, force_fetch, options))
        if self.failing:
            raise GetParameterError("An error occurred (ThrottlingException)")
        return self.value


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("sk-plain-0000", "sk-plain-0000"),
        (' {"api_key": "sk-j"} ', "sk-j"),
        (b'{"api_key": "sk-b", "spare_keys": []}', "sk-b"),
    ],
)
def test_plain_json_and_binary_values(raw, key):
    assert parse_secret_value(raw)["api_key"] == key


@pytest.mark.parametrize("raw", ["", "  ", '{"api_key": 5}', '{"api_key": "  "}', "{nope", b"\xff\xfe", None])
def test_unusable_values_are_refused_without_showing_them(raw):
    with pytest.raises(SecretValueError) as error:
        parse_secret_value(raw)
    assert "nope" not in str(error.value)


def test_reads_current_stage_with_the_cache_age_and_refresh_bypasses_it():
    provider = Provider("sk-one-000000")
    source = SecretKeySource(provider, "secret", 300)
    assert source.get_key() == "sk-one-000000"
    source.get_key(refresh=True)
    assert provider.calls == [
        ("secret", 300, False, {"VersionStage": "AWSCURRENT"}),
        ("secret", 300, True, {"VersionStage": "AWSCURRENT"}),
    ]


def test_ssm_values_are_decrypted():
    provider = Provider("sk-one-000000")
    SecretKeySource(provider, "/p", 300, ssm=True).get_key()
    assert provider.calls[0][3] == {"decrypt": True}


def test_an_outage_serves_the_last_key_and_asks_again_only_after_a_pause():
    provider, clock = Provider("sk-one-000000"), Clock()
    source = SecretKeySource(provider, "secret", 0, clock=clock)
    source.get_key()
    provider.failing = True
    assert source.get_key() == "sk-one-000000"  # the failed re-read
    calls = len(provider.calls)
    for _ in range(5):
        assert source.get_key() == "sk-one-000000"
    assert len(provider.calls) == calls  # no store call during the pause
    clock.now += RETRY_AFTER_FAILURE_S + 0.1
    provider.failing = False
    provider.value = "sk-two-000000"
    assert source.get_key() == "sk-two-000000"


def test_a_cold_container_without_the_store_answers_503():
    provider = Provider("x")
    provider.failing = True
    with pytest.raises(NotConfigured) as error:
        SecretKeySource(provider, "secret", 300).get_key()
    assert "AI_MODEL_SECRET_ID" in error.value.message


def test_the_templates_placeholder_says_to_set_the_key():
    from lib.keys.secret_keys import PLACEHOLDER_KEY
    from local.template import load_template

    secret = load_template()["Resources"]["ProviderKeySecret"]["Properties"]["SecretString"]
    assert parse_secret_value(secret)["api_key"] == PLACEHOLDER_KEY
    with pytest.raises(NotConfigured, match="make set-key"):
        SecretKeySource(Provider(secret), "secret", 300).get_key()


@pytest.mark.parametrize(
    "stored", ["sk-pasted\u2026key", '{"api_key": "sk-curly\u201ckey"}', "sk-two\nlines"]
)
def test_a_key_that_cannot_go_into_a_header_is_a_503_naming_the_setting(stored):
    source = SecretKeySource(Provider(stored), "/modelgate/provider-key", 300)
    with pytest.raises(NotConfigured) as error:
        source.get_key()
    assert "AI_MODEL_SECRET_ID" in error.value.message and "HTTP header" in error.value.message
    assert "sk-" not in error.value.message
