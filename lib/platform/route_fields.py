"""Reading one route of the routes file (lib/platform/route_table.py): each field's type and bounds,
and an error that names the route, the field and what is wrong."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from lib.platform.config import ConfigError

VARIABLE = "ROUTES_FILE"
# Characters in one keyword: the matcher of every keyword is built at a container's first request.
MAX_KEYWORD_CHARS = 64


class RouteReader:
    """One route's fields, each read and checked; a bad one is a ConfigError naming the route and field."""

    def __init__(self, name: str, entry: Mapping[str, Any]) -> None:
        self._name = name
        self._entry = entry

    def error(self, field: str, problem: str) -> ConfigError:
        return ConfigError(VARIABLE, f"route {self._name!r}: field {field!r} {problem}")

    def optional_text(self, field: str) -> str | None:
        value = self._entry.get(field)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(field, "must be a non-empty string")
        return value.strip()

    def required_text(self, field: str) -> str:
        value = self.optional_text(field)
        if value is None:
            raise self.error(field, "is required")
        return value

    def url(self, field: str, *, required: bool) -> str | None:
        value = self.optional_text(field)
        if value is None:
            if required:
                raise self.error(field, "is required: the API's base URL with its version path")
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise self.error(field, "must be an http(s) URL such as https://api.deepseek.com/v1")
        return value.rstrip("/")

    def texts(self, field: str, *, unique: bool = False) -> tuple[str, ...]:
        value = self._entry.get(field, [])
        if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
            raise self.error(field, "must be a list of non-empty strings")
        texts = tuple(item.strip() for item in value)
        repeated = [text for index, text in enumerate(texts) if text in texts[:index]]
        if unique and repeated:  # fallbacks = ["b", "b"] would call a failing route twice
            raise self.error(field, f"names {repeated[0]!r} more than once")
        return texts

    def keywords(self) -> tuple[str, ...]:
        keywords = self.texts("keywords")
        for keyword in keywords:
            if len(keyword) > MAX_KEYWORD_CHARS:
                raise self.error(
                    "keywords", f"has {keyword[:20]!r}..., longer than {MAX_KEYWORD_CHARS} characters"
                )
        return keywords

    def count(self, field: str) -> int | None:
        value = self._entry.get(field)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.error(field, f"must be a whole number of tokens (0 or more), got {value!r}")
        return value

    def price(self, field: str) -> float | None:
        value = self._entry.get(field)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1000:
            raise self.error(field, f"must be a USD price per 1,000 tokens (0 or more), got {value!r}")
        return float(value)
