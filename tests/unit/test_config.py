import pytest

from lib.platform.config import DEFAULT_BLOCKED_PATTERNS, ConfigError, load_settings

BASE = {"AUTH_MODE": "none"}


def test_defaults_follow_the_original_design():
    settings = load_settings(BASE)
    assert settings.max_prompt_chars == 2048
    assert settings.timeout_s == 30.0
    assert settings.max_retries == 3
    assert (settings.temperature_min, settings.temperature_max) == (0.1, 0.9)
    assert settings.temperature_policy == "clamp"
    assert settings.cors_allow_origins == ()
    assert settings.daily_token_budget == 5000
    assert settings.rate_limit_rpm == 60
    assert settings.blocked_patterns is not None
    assert settings.blocked_patterns.pattern == DEFAULT_BLOCKED_PATTERNS
    for word in ("密码", "验证码", "银行卡"):
        assert settings.blocked_patterns.search(f"我的{word}")


def test_auth_mode_defaults_to_keys_which_needs_a_table():
    with pytest.raises(ConfigError) as error:
        load_settings({})
    assert error.value.variable == "TABLE_NAME"
    assert load_settings({"TABLE_NAME": "t"}).auth_mode == "keys"


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("MAX_PROMPT_CHARS", "lots", "whole number"),
        ("MAX_PROMPT_CHARS", "0", "between"),
        ("AI_MODEL_TIMEOUT_S", "-1", "between"),
        ("AI_MODEL_MAX_RETRIES", "99", "between"),
        ("AI_MODEL_ENDPOINT", "api.openai.com", "http(s) URL"),
        ("AI_MODEL_FALLBACK_ENDPOINT", "ftp://x", "http(s) URL"),
        ("BLOCKED_PATTERNS", "(unclosed", "regular expression"),
        ("AUTH_MODE", "maybe", "one of"),
        ("RATE_LIMIT_FAIL_MODE", "sideways", "one of"),
        ("LOG_PROMPTS", "perhaps", "true or false"),
        ("MODEL_PRICES", "{not json", "JSON"),
        ("MODEL_PRICES", '{"m": -1}', "non-negative"),
        ("TEMPERATURE_MIN", "1.5", "above TEMPERATURE_MAX"),
        ("TEMPERATURE_POLICY", "ignore", "one of"),
        ("CORS_ALLOW_ORIGINS", "app.example.com", "origins like"),
        ("CORS_ALLOW_ORIGINS", "https://app.example.com/path", "origins like"),
        ("CACHE_MODE", "sometimes", "one of seeded, all, off"),
        ("CACHE_SCOPE", "everyone", "one of caller, shared"),
        ("CACHE_TTL_S", "0", "between"),
        ("BATCH_MAX_ITEMS", "0", "between"),
    ],
)
def test_a_bad_value_names_its_variable(variable, value, says):
    with pytest.raises(ConfigError) as error:
        load_settings({**BASE, variable: value})
    assert str(error.value).startswith(variable)
    assert says in str(error.value)


def test_an_empty_blocklist_turns_it_off():
    assert load_settings({**BASE, "BLOCKED_PATTERNS": ""}).blocked_patterns is None


def test_key_and_secret_together_are_refused():
    with pytest.raises(ConfigError, match="AI_MODEL_SECRET_ID"):
        load_settings({**BASE, "AI_MODEL_API_KEY": "k", "AI_MODEL_SECRET_ID": "s"})


def test_the_provider_key_is_not_in_the_settings_repr():
    settings = load_settings({**BASE, "AI_MODEL_API_KEY": "sk-very-secret-value"})
    assert "sk-very-secret-value" not in repr(settings)


def test_prices_fall_back_to_the_star_entry_then_zero():
    settings = load_settings({**BASE, "MODEL_PRICES": '{"big": 0.01, "*": 0.001}'})
    assert settings.price_per_1k_tokens("big") == 0.01
    assert settings.price_per_1k_tokens("other") == 0.001
    assert load_settings(BASE).price_per_1k_tokens("any") == 0.0


def test_burst_defaults_to_the_per_minute_rate():
    settings = load_settings({**BASE, "RATE_LIMIT_RPM": "10"})
    assert settings.rate_limit_burst == 10


def test_cors_origins_are_a_comma_separated_list():
    settings = load_settings(
        {**BASE, "CORS_ALLOW_ORIGINS": " https://a.example.com/, http://localhost:5173 ,"}
    )
    assert settings.cors_allow_origins == ("https://a.example.com", "http://localhost:5173")
    assert load_settings({**BASE, "CORS_ALLOW_ORIGINS": "*"}).cors_allow_origins == ("*",)


def test_the_cache_caches_seeded_answers_per_caller_for_a_day_and_batches_take_16_items():
    settings = load_settings(BASE)
    assert (settings.cache_mode, settings.cache_scope, settings.cache_ttl_s) == ("seeded", "caller", 86_400)
    assert settings.batch_max_items == 16
