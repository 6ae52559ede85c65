"""Configuration: every environment variable's name, default and bounds live here, read once.

`load_settings` validates everything up front and raises `ConfigError` naming the variable, so a
typo in a deployment gives one clear 503 message instead of a failure deep inside a request.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from lib.platform.blocklist import DEFAULT_BLOCKED_PATTERNS
from lib.platform.env_reader import EnvReader
from lib.platform.header_values import header_problem

__all__ = ["DEFAULT_BLOCKED_PATTERNS", "LAMBDA_MAX_PAYLOAD_BYTES", "ConfigError", "Settings", "load_settings"]

# Lambda's cap on a request payload (a Function URL's body, an invocation's event): the most a
# request body can be, so the default body limit (MAX_BODY_BYTES), its bound, and the HTTP server's.
LAMBDA_MAX_PAYLOAD_BYTES = 6 * 1024 * 1024


class ConfigError(Exception):
    """A configuration variable is missing or malformed. The message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        super().__init__(f"{variable} {problem}")


# Records on the cold-start path are NamedTuples or plain classes, not dataclasses: Python 3.12
# compiles each dataclass's generated methods at import (about 1.5 ms for a frozen one here, 5 ms for
# this one), which was more than half of what importing the gateway's own modules took.
class Settings(NamedTuple):
    # The upstream model API.
    model_endpoint: str | None = None
    model_api_key: str | None = None  # never in repr (below)
    model_secret_id: str | None = None
    key_store: str = "secretsmanager"
    secret_max_age_s: int = 300
    model_name: str | None = None
    fallback_endpoint: str | None = None
    timeout_s: float = 30.0
    max_retries: int = 3
    max_response_bytes: int = 2 * 1024 * 1024
    # Request validation.
    max_prompt_chars: int = 2048
    max_input_chars: int = 32_768
    blocked_patterns: re.Pattern[str] | None = None
    system_prompt: str | None = None
    temperature_min: float = 0.1
    temperature_max: float = 0.9
    temperature_policy: str = "clamp"
    default_max_tokens: int = 500
    max_tokens_limit: int = 4096
    max_body_bytes: int = LAMBDA_MAX_PAYLOAD_BYTES
    # Callers, limits and budgets.
    auth_mode: str = "keys"
    table_name: str | None = None
    rate_limit_rpm: int = 60
    rate_limit_burst: int = 60
    daily_token_budget: int = 5000
    global_daily_token_budget: int | None = None
    rate_limit_fail_mode: str = "closed"
    caller_cache_s: float = 60.0
    # Browsers: origins allowed to call the gateway cross-origin (empty: no CORS headers at all).
    cors_allow_origins: tuple[str, ...] = ()
    auth_failures_per_minute: int = 30
    # Telemetry.
    log_prompts: bool = False
    detailed_metrics: bool = False
    model_prices: Mapping[str, float] = MappingProxyType({})
    # Routes (several models and providers), their circuit breakers and free allowances.
    routes_file: str | None = None
    zero_cost: bool = False
    bedrock_model_ids: tuple[str, ...] | None = None  # what the stack's IAM grants; None: not checked
    breaker_failure_rate: float = 0.3
    breaker_window_s: float = 600.0
    breaker_min_calls: int = 10
    breaker_cooldown_s: float = 30.0
    # Streams: after the first chunk (which the one deadline covers), the longest gap and whole length.
    stream_idle_timeout_s: float = 15.0
    stream_max_s: float = 300.0
    # Response cache (in the table) and batch requests.
    cache_mode: str = "seeded"
    cache_scope: str = "caller"
    cache_ttl_s: int = 86_400
    batch_max_items: int = 16
    # Stored Responses (POST /v1/responses with store, previous_response_id): on, and for how long.
    responses_store: bool = True
    responses_ttl_days: int = 30

    def price_per_1k_tokens(self, model: str) -> float:
        """USD per 1,000 tokens for `model`; `*` in MODEL_PRICES is the default, otherwise free."""
        return self.model_prices.get(model, self.model_prices.get("*", 0.0))

    @property
    def upstream_endpoints(self) -> tuple[str, ...]:
        return tuple(url for url in (self.model_endpoint, self.fallback_endpoint) if url)

    def __repr__(self) -> str:
        shown: dict[str, Any] = self._asdict()
        if shown["model_api_key"] is not None:
            shown["model_api_key"] = "***"
        return f"Settings({', '.join(f'{name}={value!r}' for name, value in shown.items())})"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every variable; raises ConfigError naming the first bad one."""
    read = EnvReader(os.environ if environ is None else environ, ConfigError)
    rate_limit_rpm = read.integer("RATE_LIMIT_RPM", 60, 1, 100_000)
    temperature_min = read.number("TEMPERATURE_MIN", 0.1, 0.0, 2.0)
    temperature_max = read.number("TEMPERATURE_MAX", 0.9, 0.0, 2.0)
    if temperature_min > temperature_max:
        raise ConfigError(
            "TEMPERATURE_MIN", f"({temperature_min}) is above TEMPERATURE_MAX ({temperature_max})"
        )
    max_tokens_limit = read.integer("MAX_TOKENS_LIMIT", 4096, 1, 1_000_000)
    default_max_tokens = read.integer("DEFAULT_MAX_TOKENS", min(500, max_tokens_limit), 1, max_tokens_limit)
    max_prompt_chars = read.integer("MAX_PROMPT_CHARS", 2048, 1, 1_000_000)
    # All caller text together (message text, tools, schemas, stop words, names, tool-call arguments):
    # room for ordinary function-calling clients, whose tool definitions run to a few thousand tokens.
    max_input_chars = read.integer(
        "MAX_INPUT_CHARS", max(32_768, max_prompt_chars), max_prompt_chars, 10_000_000
    )
    settings = Settings(
        model_endpoint=read.url("AI_MODEL_ENDPOINT"),
        model_api_key=read.text("AI_MODEL_API_KEY"),
        model_secret_id=read.text("AI_MODEL_SECRET_ID"),
        key_store=read.choice("AI_MODEL_KEY_STORE", "secretsmanager", ("secretsmanager", "ssm")),
        secret_max_age_s=read.integer("AI_MODEL_SECRET_MAX_AGE_S", 300, 0, 86_400),
        model_name=read.text("AI_MODEL_NAME"),
        fallback_endpoint=read.url("AI_MODEL_FALLBACK_ENDPOINT"),
        timeout_s=read.number("AI_MODEL_TIMEOUT_S", 30.0, 0.1, 900.0),
        max_retries=read.integer("AI_MODEL_MAX_RETRIES", 3, 0, 10),
        # Lambda caps a response at 6 MB; a completion is rarely more than a few dozen KB.
        max_response_bytes=read.integer(
            "AI_MODEL_MAX_RESPONSE_BYTES", 2 * 1024 * 1024, 1024, 5 * 1024 * 1024
        ),
        max_prompt_chars=max_prompt_chars,
        max_input_chars=max_input_chars,
        blocked_patterns=read.pattern("BLOCKED_PATTERNS", DEFAULT_BLOCKED_PATTERNS),
        system_prompt=read.text("SYSTEM_PROMPT"),
        temperature_min=temperature_min,
        temperature_max=temperature_max,
        temperature_policy=read.choice("TEMPERATURE_POLICY", "clamp", ("clamp", "reject")),
        default_max_tokens=default_max_tokens,
        max_tokens_limit=max_tokens_limit,
        max_body_bytes=read.integer(
            "MAX_BODY_BYTES", LAMBDA_MAX_PAYLOAD_BYTES, 1024, LAMBDA_MAX_PAYLOAD_BYTES
        ),
        auth_mode=read.choice("AUTH_MODE", "keys", ("keys", "none")),
        table_name=read.text("TABLE_NAME"),
        rate_limit_rpm=rate_limit_rpm,
        rate_limit_burst=read.integer("RATE_LIMIT_BURST", rate_limit_rpm, 1, 100_000),
        daily_token_budget=read.integer("DAILY_TOKEN_BUDGET", 5000, 1, 10**12),
        global_daily_token_budget=read.optional_integer("GLOBAL_DAILY_TOKEN_BUDGET", 1, 10**12),
        rate_limit_fail_mode=read.choice("RATE_LIMIT_FAIL_MODE", "closed", ("closed", "open")),
        caller_cache_s=read.number("CALLER_CACHE_TTL_S", 60.0, 0.0, 3600.0),
        cors_allow_origins=read.origins("CORS_ALLOW_ORIGINS"),
        auth_failures_per_minute=read.integer("AUTH_FAILURES_PER_MINUTE", 30, 1, 1_000_000),
        log_prompts=read.flag("LOG_PROMPTS", False),
        detailed_metrics=read.flag("DETAILED_METRICS", False),
        model_prices=read.prices("MODEL_PRICES"),
        routes_file=read.text("ROUTES_FILE"),
        zero_cost=read.flag("ZERO_COST", False),
        bedrock_model_ids=read.names("BEDROCK_MODEL_IDS"),
        # The original design: switch a node away at 30% failures over 10 minutes.
        breaker_failure_rate=read.number("BREAKER_FAILURE_RATE", 0.3, 0.01, 1.0),
        breaker_window_s=read.number("BREAKER_WINDOW_S", 600.0, 10.0, 86_400.0),
        breaker_min_calls=read.integer("BREAKER_MIN_CALLS", 10, 1, 100_000),
        breaker_cooldown_s=read.number("BREAKER_COOLDOWN_S", 30.0, 1.0, 3600.0),
        stream_idle_timeout_s=read.number("STREAM_IDLE_TIMEOUT_S", 15.0, 0.1, 900.0),
        stream_max_s=read.number("STREAM_MAX_S", 300.0, 1.0, 900.0),
        cache_mode=read.choice("CACHE_MODE", "seeded", ("seeded", "all", "off")),
        cache_scope=read.choice("CACHE_SCOPE", "caller", ("caller", "shared")),
        cache_ttl_s=read.integer("CACHE_TTL_S", 86_400, 1, 30 * 86_400),
        batch_max_items=read.integer("BATCH_MAX_ITEMS", 16, 1, 64),
        responses_store=read.flag("RESPONSES_STORE", True),
        responses_ttl_days=read.integer("RESPONSES_TTL_DAYS", 30, 1, 365),
    )
    if settings.auth_mode == "keys" and settings.table_name is None:
        raise ConfigError("TABLE_NAME", "is required when AUTH_MODE=keys (client keys live in the table)")
    key_problem = header_problem(settings.model_api_key) if settings.model_api_key else None
    if key_problem:
        raise ConfigError("AI_MODEL_API_KEY", key_problem)
    if settings.model_api_key and settings.model_secret_id:
        raise ConfigError("AI_MODEL_SECRET_ID", "and AI_MODEL_API_KEY are both set; set only one")
    return settings


class RotationSettings(NamedTuple):
    """The rotation function's own variables (it serves no requests, so it needs none of the above)."""

    secret_id: str
    key_store: str = "secretsmanager"
    model_endpoint: str | None = None
    issuer: str = "pool"
    openai_project_id: str | None = None
    openai_admin_key_secret_id: str | None = None
    openai_admin_base_url: str = "https://api.openai.com/v1"
    test_timeout_s: float = 10.0


def load_rotation_settings(environ: Mapping[str, str] | None = None) -> RotationSettings:
    read = EnvReader(os.environ if environ is None else environ, ConfigError)
    secret_id = read.text("AI_MODEL_SECRET_ID")
    if secret_id is None:
        raise ConfigError("AI_MODEL_SECRET_ID", "is required: it names the secret to rotate")
    issuer = read.choice("ROTATION_KEY_ISSUER", "pool", ("pool", "openai"))
    settings = RotationSettings(
        secret_id=secret_id,
        key_store=read.choice("AI_MODEL_KEY_STORE", "secretsmanager", ("secretsmanager", "ssm")),
        model_endpoint=read.url("AI_MODEL_ENDPOINT"),
        issuer=issuer,
        openai_project_id=read.text("OPENAI_PROJECT_ID"),
        openai_admin_key_secret_id=read.text("OPENAI_ADMIN_KEY_SECRET_ID"),
        openai_admin_base_url=read.url("OPENAI_ADMIN_BASE_URL") or "https://api.openai.com/v1",
        test_timeout_s=read.number("ROTATION_TEST_TIMEOUT_S", 10.0, 0.1, 60.0),
    )
    if settings.model_endpoint is None:
        raise ConfigError("AI_MODEL_ENDPOINT", "is required: testSecret proves the new key against it")
    if issuer == "openai":
        for name, value in (
            ("OPENAI_PROJECT_ID", settings.openai_project_id),
            ("OPENAI_ADMIN_KEY_SECRET_ID", settings.openai_admin_key_secret_id),
        ):
            if value is None:
                raise ConfigError(name, "is required when ROTATION_KEY_ISSUER=openai")
    return settings
