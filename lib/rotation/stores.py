"""Where a rotation reads and writes the provider key's secret value: a Secrets Manager secret (the
pending value staged AWSPENDING) or an SSM SecureString parameter (the pending value in a
`<name>-pending` parameter, since a parameter has no staging labels), behind one `SecretStore` protocol
so that the four steps run the same over either.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from botocore.exceptions import ClientError

from lib.keys.secret_keys import parse_secret_value
from lib.rotation.errors import RotationError

CURRENT, PENDING = "AWSCURRENT", "AWSPENDING"


class SecretStore(Protocol):
    def current(self) -> dict[str, Any]: ...

    def pending(self, token: str) -> dict[str, Any] | None: ...

    def put_pending(self, token: str, value: dict[str, Any]) -> None: ...

    def promote(self, token: str) -> None: ...

    def discard_pending(self, token: str) -> None: ...


class SecretsManagerStore:
    def __init__(self, client: Any, secret_id: str) -> None:
        self._client = client
        self._secret_id = secret_id

    def current(self) -> dict[str, Any]:
        response = self._client.get_secret_value(SecretId=self._secret_id, VersionStage=CURRENT)
        return _parse(response.get("SecretString") or response.get("SecretBinary"))

    def pending(self, token: str) -> dict[str, Any] | None:
        try:
            response = self._client.get_secret_value(
                SecretId=self._secret_id, VersionId=token, VersionStage=PENDING
            )
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                return None
            raise
        return _parse(response.get("SecretString"))

    def put_pending(self, token: str, value: dict[str, Any]) -> None:
        self._client.put_secret_value(
            SecretId=self._secret_id,
            ClientRequestToken=token,
            SecretString=json.dumps(value),
            VersionStages=[PENDING],
        )

    def promote(self, token: str) -> None:
        versions = self._client.describe_secret(SecretId=self._secret_id).get("VersionIdsToStages", {})
        current_version = next((version for version, stages in versions.items() if CURRENT in stages), None)
        if current_version != token:
            # Secrets Manager gives the version that loses AWSCURRENT the AWSPREVIOUS label itself.
            self._client.update_secret_version_stage(
                SecretId=self._secret_id,
                VersionStage=CURRENT,
                MoveToVersionId=token,
                RemoveFromVersionId=current_version,
            )
        self.discard_pending(token)

    def discard_pending(self, token: str) -> None:
        versions = self._client.describe_secret(SecretId=self._secret_id).get("VersionIdsToStages", {})
        if PENDING in versions.get(token, []):
            self._client.update_secret_version_stage(
                SecretId=self._secret_id, VersionStage=PENDING, RemoveFromVersionId=token
            )


class SsmParameterStore:
    """A SecureString parameter; the pending value waits in `<name>-pending`, tagged with its token."""

    def __init__(self, client: Any, name: str) -> None:
        self._client = client
        self._name = name
        self._pending_name = f"{name}-pending"

    def current(self) -> dict[str, Any]:
        return _parse(self._read(self._name))

    def pending(self, token: str) -> dict[str, Any] | None:
        raw = self._read(self._pending_name, missing_ok=True)
        if raw is None:
            return None
        value = _parse(raw)
        return value if value.get("rotation_token") == token else None

    def pending_token(self) -> str | None:
        """The token of a rotation that stopped before it cleaned up its pending value, if any."""
        raw = self._read(self._pending_name, missing_ok=True)
        token = _parse(raw).get("rotation_token") if raw is not None else None
        return token if isinstance(token, str) and token else None

    def put_pending(self, token: str, value: dict[str, Any]) -> None:
        self._write(self._pending_name, {**value, "rotation_token": token})

    def promote(self, token: str) -> None:
        pending = self.pending(token)
        if pending is None:
            if self.current().get("rotation_token") == token:
                return  # promoted by an earlier run of this step
            raise RotationError("there is no pending value to promote")
        self._write(self._name, pending)
        self.discard_pending(token)

    def discard_pending(self, token: str) -> None:
        try:
            self._client.delete_parameter(Name=self._pending_name)
        except ClientError as exc:
            if _code(exc) != "ParameterNotFound":
                raise

    def _read(self, name: str, missing_ok: bool = False) -> str | None:
        try:
            value: str = self._client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
            return value
        except ClientError as exc:
            if missing_ok and _code(exc) == "ParameterNotFound":
                return None
            raise

    def _write(self, name: str, value: dict[str, Any]) -> None:
        self._client.put_parameter(Name=name, Value=json.dumps(value), Type="SecureString", Overwrite=True)


def _parse(raw: Any) -> dict[str, Any]:
    return parse_secret_value(raw)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
