"""The provider key from a secret store (Secrets Manager, or SSM Parameter Store SecureString).

Read through powertools `parameters` with an in-memory cache (`max_age`), so a warm request makes no
store call, and a rotated key is picked up within `max_age` seconds without a redeploy, or at once
when the upstream answers 401 (`refresh=True` bypasses the cache).

The stored value is either the key itself or JSON with an `api_key` field (the rotation function
writes JSON: it also keeps the previous key and, for a key pool, the spare keys).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError

from lib.platform.errors import NotConfigured
from lib.platform.header_values import header_problem
from lib.platform.redaction import remember

logger = Logger(child=True)


# What template.yaml puts in a new Secrets Manager secret until `make set-key` replaces it.
PLACEHOLDER_KEY = "replace-me-with-make-set-key"


class SecretValueError(Exception):
    """The stored value is not a usable key. The message never holds the value."""


def parse_secret_value(raw: Any) -> dict[str, Any]:
    """The secret as a dict with a non-empty `api_key` (a plain-string secret becomes {"api_key": it})."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SecretValueError("the secret is binary, not text") from None
    if not isinstance(raw, str) or not raw.strip():
        raise SecretValueError("the secret is empty")
    text = raw.strip()
    if not text.startswith("{"):
        problem = header_problem(text)
        if problem:
            raise SecretValueError(f"the key {problem}")
        return {"api_key": text}
    try:
        value = json.loads(text)
    except ValueError:
        raise SecretValueError("the secret looks like JSON but does not parse") from None
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("api_key"), str)
        or not value["api_key"].strip()
    ):
        raise SecretValueError('the secret is JSON without a non-empty "api_key" string')
    problem = header_problem(value["api_key"].strip())
    if problem:
        raise SecretValueError(f"the api_key {problem}")
    return value


# After a failed re-read, a warm container uses its key this long before asking the store again, so
# an outage costs one slow request per interval instead of one per request.
RETRY_AFTER_FAILURE_S = 30.0


class SecretKeySource:
    """`KeySource` over a powertools provider (SecretsProvider or SSMProvider)."""

    def __init__(
        self,
        provider: Any,
        name: str,
        max_age_s: int,
        *,
        ssm: bool = False,
        label: str = "AI_MODEL_SECRET_ID",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._label = label  # what error messages call this key's setting
        self._clock = clock
        self._quiet_until = 0.0
        self._provider = provider
        self._name = name
        self._max_age_s = max_age_s
        # AWSCURRENT is Secrets Manager's default; saying it also makes emulators that keep an old
        # default version (moto) serve the rotated key.
        self._options: dict[str, Any] = {"decrypt": True} if ssm else {"VersionStage": "AWSCURRENT"}
        self._last_key: str | None = None

    def get_key(self, *, refresh: bool = False) -> str | None:
        if self._last_key is not None and not refresh and self._clock() < self._quiet_until:
            return self._last_key
        try:
            raw = self._provider.get(
                self._name, max_age=self._max_age_s, force_fetch=refresh, **self._options
            )
        except (GetParameterError, TransformParameterError) as exc:
            if self._last_key is not None:
                # A warm container keeps serving with the key it has; the store may be back next time.
                self._quiet_until = self._clock() + RETRY_AFTER_FAILURE_S
                logger.warning(
                    "provider key could not be re-read; using the cached one",
                    extra={"error_type": type(exc.__cause__ or exc).__name__},
                )
                return self._last_key
            raise NotConfigured(
                f"the provider key could not be read from {self._label} (the store is unreachable, "
                "access is denied, or it is not set yet: `make set-key STACK=<stack>` sets it)"
            ) from None
        try:
            key = str(parse_secret_value(raw)["api_key"]).strip()
        except SecretValueError as exc:
            raise NotConfigured(f"{self._label} does not hold a usable provider key: {exc}") from None
        if key == PLACEHOLDER_KEY:
            raise NotConfigured("the provider key has not been set yet: run `make set-key STACK=<stack>`")
        remember(key)  # scrubbed from replies and logs from now on
        self._last_key = key
        return key

    def __repr__(self) -> str:
        return f"SecretKeySource(name={self._name!r})"
