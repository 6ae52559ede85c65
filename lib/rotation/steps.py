"""Provider-key rotation: Secrets Manager's four steps, over either secret store (stores.py), and
`handle`, the rotation function's entry for both triggers.

    createSecret  the issuer makes the next key; it is stored as the pending value
    setSecret     nothing to do: the issuer already made the key valid at the provider
    testSecret    the pending key must list models (`GET /models`, no tokens spent)
    finishSecret  the pending value becomes current; the key from two rotations back is revoked

Secrets Manager calls one step per invocation with its own guards (rotation enabled, the token
staged AWSPENDING, already AWSCURRENT -> nothing to do). An SSM SecureString has no staging labels,
so its scheduled rotation (EventBridge Scheduler) runs the same four steps in one invocation, the
pending value held in a `<name>-pending` parameter. Every step checks whether its effect already
exists, so a retried step is harmless; a failure before finishSecret leaves the current key alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from aws_lambda_powertools import Logger

from lib.keys.secret_keys import SecretValueError
from lib.rotation.errors import RotationError
from lib.rotation.issuers import IssuerError, KeyIssuer, key_fingerprint
from lib.rotation.stores import CURRENT, PENDING, SecretsManagerStore, SecretStore, SsmParameterStore

logger = Logger(child=True)

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


def create_secret(store: SecretStore, token: str, issuer: KeyIssuer) -> None:
    if store.pending(token) is not None:
        logger.info("createSecret: the pending value exists already")
        return
    current = store.current()
    try:
        pending = issuer.issue(current)
    except IssuerError as exc:
        raise RotationError(f"no new key could be issued: {exc}") from None
    store.put_pending(token, pending)
    logger.info(
        "createSecret: pending key stored", extra={"key_fingerprint": key_fingerprint(pending["api_key"])}
    )


def set_secret(store: SecretStore, token: str) -> None:
    logger.info("setSecret: nothing to do, the issuer made the key valid at the provider in createSecret")


def test_secret(store: SecretStore, token: str, tester: Callable[[str], None]) -> None:
    pending = store.pending(token)
    if pending is None:
        raise RotationError("testSecret: there is no pending value for this rotation")
    tester(str(pending["api_key"]))
    logger.info("testSecret: the pending key works")


def finish_secret(store: SecretStore, token: str, issuer: KeyIssuer) -> None:
    store.promote(token)
    try:
        issuer.revoke(store.current())
    except IssuerError as exc:
        # The new key is in use; failing now would not undo that. Say what to clean up by hand.
        logger.error(
            "finishSecret: the retired key could not be revoked; revoke it at the provider",
            extra={"reason": str(exc)},
        )
    logger.info("finishSecret: the new key is current")


@dataclass
class Rotation:
    """What a rotation needs, built by the composition root (lib/services.py)."""

    secret_id: str
    key_store: str
    client: Any  # secretsmanager or ssm
    issuer: Callable[[], KeyIssuer]  # built on first need: the OpenAI issuer reads its admin key
    tester: Callable[[str], None]
    # A route's key: the tester for its provider and endpoint (a RotationError if it cannot be tested).
    tester_for: Callable[[str, str], Callable[[str], None]] | None = None


def handle(event: Mapping[str, Any], rotation: Rotation, request_id: str | None = None) -> dict[str, str]:
    """Entry for both triggers: Secrets Manager's step events, and the scheduled SSM rotation.

    `request_id` is the Lambda request id, which stays the same when Lambda retries an asynchronous
    invocation (the scheduler's): the SSM rotation uses it as its token, so a retry is recognised.
    """
    if "Step" in event or "SecretId" in event:
        if rotation.key_store != "secretsmanager":
            raise RotationError("a Secrets Manager rotation event reached a function set up for SSM")
        return _secrets_manager_step(event, rotation)
    if event.get("action") == "rotate":
        return _rotate_parameter(_for_route_key(event, rotation), request_id)
    raise RotationError('unknown event: expected a Secrets Manager rotation step or {"action": "rotate"}')


def _for_route_key(event: Mapping[str, Any], rotation: Rotation) -> Rotation:
    """`{"action": "rotate", "parameter": ..., "provider": ..., "endpoint": ...}` rotates a route's key
    (the function's IAM role limits it to the stack's key prefix) and tests it with that provider."""
    overrides = {name: event.get(name) for name in ("parameter", "provider", "endpoint")}
    if not any(overrides.values()):
        return rotation
    if not all(isinstance(value, str) and value for value in overrides.values()):
        raise RotationError("a route key's rotation needs parameter, provider and endpoint in the event")
    if rotation.tester_for is None:
        raise RotationError("this rotation function cannot test route keys")
    return replace(
        rotation,
        secret_id=str(overrides["parameter"]),
        tester=rotation.tester_for(str(overrides["provider"]), str(overrides["endpoint"])),
    )


def _secrets_manager_step(event: Mapping[str, Any], rotation: Rotation) -> dict[str, str]:
    secret_id, token, step = (event.get(name) for name in ("SecretId", "ClientRequestToken", "Step"))
    if not isinstance(secret_id, str) or not isinstance(token, str) or not token:
        raise RotationError("the rotation event needs SecretId and ClientRequestToken")
    if step not in STEPS:
        raise RotationError(f"unknown step {step!r}; expected one of {', '.join(STEPS)}")
    metadata = rotation.client.describe_secret(SecretId=secret_id)
    if rotation.secret_id not in (metadata.get("ARN"), metadata.get("Name")):
        raise RotationError(f"this function rotates {rotation.secret_id}, not {metadata.get('Name')}")
    if not metadata.get("RotationEnabled"):
        raise RotationError(f"rotation is not enabled for {metadata.get('Name')}")
    stages = metadata.get("VersionIdsToStages", {}).get(token)
    if stages is None:
        raise RotationError(f"version {token} is not staged for rotation")
    store = SecretsManagerStore(rotation.client, secret_id)
    if CURRENT in stages:
        store.discard_pending(token)  # a finishSecret retried after it moved AWSCURRENT
        logger.info("version is already AWSCURRENT; nothing to do", extra={"step": step})
        return {"step": step, "result": "already current"}
    if PENDING not in stages:
        raise RotationError(f"version {token} is not staged AWSPENDING")
    _run_step(step, store, token, rotation)
    return {"step": step, "result": "done"}


def _rotate_parameter(rotation: Rotation, request_id: str | None) -> dict[str, str]:
    store = SsmParameterStore(rotation.client, rotation.secret_id)
    # A rotation that stopped half-way (a crash, a timeout) is resumed, not started over: starting
    # over would burn another spare key and retire the previous one at once.
    token = store.pending_token() or request_id or str(uuid.uuid4())
    if store.current().get("rotation_token") == token:
        # This rotation already made its key current and stopped in finishSecret: finish only.
        _run_step("finishSecret", store, token, rotation)
        logger.info("the rotation's key is already current; finished its clean-up")
        return {"step": "finishSecret", "result": "already current"}
    for step in STEPS:
        try:
            _run_step(step, store, token, rotation)
        except RotationError:
            store.discard_pending(token)
            raise
    return {"step": "all", "result": "done"}


def _run_step(step: str, store: SecretStore, token: str, rotation: Rotation) -> None:
    try:
        if step == "createSecret":
            create_secret(store, token, rotation.issuer())
        elif step == "setSecret":
            set_secret(store, token)
        elif step == "testSecret":
            test_secret(store, token, rotation.tester)
        else:
            finish_secret(store, token, rotation.issuer())
    except (SecretValueError, IssuerError) as exc:
        raise RotationError(f"{step}: {exc}") from None
