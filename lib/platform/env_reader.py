"""Typed, bounded reads of environment variables (whole numbers, numbers, choices, flags, URLs, lists,
origins, prices, the blocklist's pattern), each failure naming the variable. config.py reads every
variable through it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from lib.platform.blocklist import compile_blocklist


class EnvReader:
    """Typed, bounded reads of environment variables; every failure names the variable."""

    def __init__(self, environ: Mapping[str, str], error: Callable[[str, str], Exception]) -> None:
        self._environ = environ
        # What a bad variable raises, made from (variable, problem): config.py passes its ConfigError,
        # which lives there beside the settings it describes, so this module imports nothing back.
        self._error = error

    def text(self, name: str) -> str | None:
        value = self._environ.get(name, "").strip()
        return value or None

    def integer(self, name: str, default: int, minimum: int, maximum: int) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise self._error(name, f"must be a whole number, got {raw!r}") from None
        if not minimum <= value <= maximum:
            raise self._error(name, f"must be between {minimum} and {maximum}, got {value}")
        return value

    def optional_integer(self, name: str, minimum: int, maximum: int) -> int | None:
        return self.integer(name, 0, minimum, maximum) if self.text(name) is not None else None

    def number(self, name: str, default: float, minimum: float, maximum: float) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise self._error(name, f"must be a number, got {raw!r}") from None
        if not minimum <= value <= maximum:
            raise self._error(name, f"must be between {minimum} and {maximum}, got {value}")
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = (self.text(name) or default).lower()
        if value not in choices:
            raise self._error(name, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self.text(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise self._error(name, f"must be true or false, got {raw!r}")

    def url(self, name: str) -> str | None:
        raw = self.text(name)
        if raw is None:
            return None
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise self._error(name, "must be an http(s) URL such as https://api.openai.com/v1")
        return raw.rstrip("/")

    def pattern(self, name: str, default: str) -> re.Pattern[str] | None:
        raw = self._environ.get(name)
        source = default if raw is None else raw.strip()
        if not source:
            return None  # explicitly emptied: no blocklist
        try:
            return compile_blocklist(source)
        except ValueError as exc:
            raise self._error(name, str(exc)) from None

    def names(self, name: str) -> tuple[str, ...] | None:
        """A comma-separated list; None when the variable is absent (set but empty: an empty list)."""
        raw = self._environ.get(name)
        if raw is None:
            return None
        return tuple(item.strip() for item in raw.split(",") if item.strip())

    def origins(self, name: str) -> tuple[str, ...]:
        """A comma-separated list of browser origins (`https://app.example.com`), or `*` for any."""
        origins = tuple(origin.rstrip("/") for origin in self.names(name) or ())
        for origin in origins:
            parts = urlsplit(origin)
            if origin != "*" and (
                parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query
            ):
                raise self._error(
                    name, f"must list origins like https://app.example.com (or *), got {origin!r}"
                )
        return origins

    def prices(self, name: str) -> dict[str, float]:
        raw = self.text(name)
        if raw is None:
            return {}
        try:
            parsed = json.loads(raw)
        except ValueError:
            raise self._error(name, 'must be JSON like {"gpt-4o-mini": 0.0006, "*": 0}') from None
        if not isinstance(parsed, dict) or not all(
            isinstance(price, int | float) and not isinstance(price, bool) and price >= 0
            for price in parsed.values()
        ):
            raise self._error(name, "must map model names to non-negative USD prices per 1,000 tokens")
        return {str(model): float(price) for model, price in parsed.items()}
