"""Where new provider keys come from during a rotation: the `KeyIssuer` implementations.

An issuer turns the current secret value into the pending one (`issue`), and revokes what the new
value marks as retired (`revoke`). Retirement lags one rotation: rotation N makes key N current,
keeps key N-1 as `previous_api_key` (warm containers may still hold it), and retires key N-2.

Secret values are dicts; the gateway reads only `api_key`.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, Protocol

import requests
from aws_lambda_powertools import Logger

logger = Logger(child=True)


class IssuerError(Exception):
    """No new key could be had. The message never holds a key."""


class KeyIssuer(Protocol):
    def issue(self, current: dict[str, Any]) -> dict[str, Any]: ...

    def revoke(self, promoted: dict[str, Any]) -> None: ...


def key_fingerprint(key: str | None) -> str | None:
    """What logs may say about a key: a short hash, never the key."""
    # The same SHA-256 as lib.callers.identity.hash_key, computed here: rotation and callers are
    # sibling layers that import nothing of each other.
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12] if key else None


class KeyPoolIssuer:
    """Promotes the next of the spare keys the owner put in the secret (`spare_keys`): any provider,
    free tiers included. The pool cannot revoke at the provider, so `revoke` logs which key is now
    safe to delete there."""

    def issue(self, current: dict[str, Any]) -> dict[str, Any]:
        spares = current.get("spare_keys")
        if not isinstance(spares, list) or not all(isinstance(key, str) and key.strip() for key in spares):
            raise IssuerError(
                'the secret has no "spare_keys" list of keys to promote; add keys the provider issued'
            )
        if not spares:
            raise IssuerError(
                'the key pool is empty: add keys to the secret\'s "spare_keys" before the next rotation'
            )
        return {
            **current,
            "api_key": spares[0].strip(),
            "spare_keys": spares[1:],
            "previous_api_key": current["api_key"],
            "retired_api_key": current.get("previous_api_key"),
        }

    def revoke(self, promoted: dict[str, Any]) -> None:
        retired = promoted.get("retired_api_key")
        if retired:
            logger.info(
                "a pooled key left use; delete it at the provider",
                extra={"key_fingerprint": key_fingerprint(retired)},
            )


class OpenAIServiceAccountIssuer:
    """Mints a key by creating an OpenAI project service account, and revokes by deleting the account
    (OpenAI's Administration API; any provider with the same API shape works via `base_url`)."""

    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        project_id: str,
        admin_key: str,
        timeout_s: float = 10.0,
    ) -> None:
        self._session = session
        self._accounts_url = f"{base_url.rstrip('/')}/organization/projects/{project_id}/service_accounts"
        self._admin_key = admin_key
        self._timeout_s = timeout_s

    def issue(self, current: dict[str, Any]) -> dict[str, Any]:
        body = self._request("POST", self._accounts_url, json={"name": f"modelgate-{_short_stamp()}"})
        account_id = body.get("id")
        key = (body.get("api_key") or {}).get("value") if isinstance(body.get("api_key"), dict) else None
        if not isinstance(account_id, str) or not isinstance(key, str) or not key:
            raise IssuerError("the admin API answered without a service account id and key")
        return {
            **current,
            "api_key": key,
            "service_account_id": account_id,
            "previous_api_key": current["api_key"],
            "previous_service_account_id": current.get("service_account_id"),
            "retired_service_account_id": current.get("previous_service_account_id"),
        }

    def revoke(self, promoted: dict[str, Any]) -> None:
        account_id = promoted.get("retired_service_account_id")
        if account_id:
            self._request("DELETE", f"{self._accounts_url}/{account_id}", allow_missing=True)
            logger.info("retired service account deleted", extra={"service_account_id": account_id})

    def _request(
        self, method: str, url: str, json: Any = None, allow_missing: bool = False
    ) -> dict[str, Any]:
        try:
            response = self._session.request(
                method,
                url,
                json=json,
                timeout=self._timeout_s,
                headers={"Authorization": f"Bearer {self._admin_key}"},
            )
        except requests.RequestException as exc:
            raise IssuerError(f"the admin API could not be reached ({type(exc).__name__})") from None
        if allow_missing and response.status_code == 404:
            return {}  # already gone: revoking twice is fine
        if not 200 <= response.status_code < 300:
            raise IssuerError(f"the admin API answered HTTP {response.status_code} to {method}")
        try:
            parsed = response.json()
        except ValueError:
            raise IssuerError("the admin API answered with something other than JSON") from None
        return parsed if isinstance(parsed, dict) else {}


def _short_stamp() -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime())
