"""Stored responses (the Responses API's `store`, `previous_response_id`, retrieve, delete, input items).

One partition per conversation, one item per turn: pk="RESPONSES#<conversation>", sk=<turn> (the
time it began in milliseconds, then random digits, so a partition reads in the order it was written).
A response id says where its turn is: "resp_" + the conversation (20 hex digits) + the turn (20).
Each item holds the caller who made it, the turn it continues (`previous`), the response object and
its input items (JSON text), and `expires_at` (RESPONSES_TTL_DAYS on). Continuing a conversation is
one strongly consistent Query of its partition, then a walk back along `previous` from the turn
named: branches (two turns continuing the same one) share the partition and never mix.

An item must stay under DynamoDB's 400 KB: a turn that cannot (its input and echoed fields, plus an
allowance for its output) is a 400 before the model is called. Reads treat an item past
`expires_at` as absent (TTL deletion is late, or never on emulators); another caller's turn is absent
too. Only PutItem (new items only), GetItem, DeleteItem (conditional) and Query are used.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

from lib.platform.config import Settings
from lib.platform.errors import InvalidRequest, StoreUnavailable
from lib.platform.store import ConditionFailed, StoreError, Table

PARTITION_PREFIX = "RESPONSES#"
_RESPONSE_ID = re.compile(r"resp_([0-9a-f]{20})([0-9a-f]{20})")
# DynamoDB's item limit is 400 KB, key and attribute names included: the two JSON texts get this much.
MAX_TURN_BYTES = 380 * 1024
# What one output token may take in the stored JSON, for the allowance checked before the call.
OUTPUT_BYTES_PER_TOKEN = 4
_ECHO_ALLOWANCE_BYTES = 4096  # the response object's own fields, usage, ids


class StoredTurn(NamedTuple):
    response: dict[str, Any]
    input_items: list[dict[str, Any]]


class Conversation(NamedTuple):
    """Where a new turn goes, and the items of the turns before it (inputs and outputs, in order)."""

    conversation: str
    previous_turn: str | None
    items: list[dict[str, Any]]


class ResponseStore:
    def __init__(
        self,
        table: Table | None,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        on_store_error: Callable[[str], None] | None = None,
    ) -> None:
        self._table = table if settings.responses_store else None
        self._ttl_s = settings.responses_ttl_days * 86_400
        self._clock = clock
        self._on_store_error = on_store_error or (lambda _message: None)

    @property
    def enabled(self) -> bool:
        return self._table is not None

    def conversation(self, previous_response_id: str | None, caller_id: str) -> Conversation:
        """A new conversation, or the one `previous_response_id` continues (one Query)."""
        if previous_response_id is None:
            return Conversation(uuid.uuid4().hex[:20], None, [])
        if self._table is None:
            raise InvalidRequest(
                "previous_response_id needs stored responses, which are off on this gateway "
                "(RESPONSES_STORE=off, or no TABLE_NAME): send the whole conversation as input",
                param="previous_response_id",
                code="unsupported_parameter",
            )
        located = _locate(previous_response_id)
        if located is None:
            raise _previous_not_found(previous_response_id)
        conversation, turn = located
        try:
            items = self._table.query_partition(PARTITION_PREFIX + conversation, consistent=True)
        except StoreError as exc:
            self._on_store_error(str(exc))
            raise StoreUnavailable("stored responses cannot be read right now; try again") from None
        turns = {item["sk"]: item for item in items if self._visible(item, caller_id)}
        chain: list[dict[str, Any]] = []
        at: str | None = turn
        while at is not None:
            item = turns.pop(at, None)  # popped: a loop in the links cannot go round twice
            if item is None:
                raise _previous_not_found(previous_response_id, earlier=bool(chain))
            chain.append(item)
            at = item.get("previous")
        history: list[dict[str, Any]] = []
        for item in reversed(chain):
            history += json.loads(item["input"])
            history += json.loads(item["response"]).get("output") or []
        return Conversation(conversation, turn, history)

    def new_response_id(self, conversation: Conversation) -> str:
        turn = f"{int(self._clock() * 1000):011x}{uuid.uuid4().hex[:9]}"
        return f"resp_{conversation.conversation}{turn}"

    def check_fits(self, echoed: Any, input_items: list[dict[str, Any]], max_output_tokens: int) -> None:
        """A 400 now for a turn whose item could not be written after the call."""
        if self._table is None:
            return
        size = _size(echoed) + _size(input_items) + _ECHO_ALLOWANCE_BYTES
        size += max_output_tokens * OUTPUT_BYTES_PER_TOKEN
        if size > MAX_TURN_BYTES:
            raise InvalidRequest(
                f"this turn is too large to store: its input and fields take about {size // 1024} KB with "
                f"room for max_output_tokens, and a stored turn may take {MAX_TURN_BYTES // 1024} KB; "
                "send store: false, or less input",
                param="input",
                code="request_too_large_to_store",
            )

    def save(
        self,
        response: dict[str, Any],
        input_items: list[dict[str, Any]],
        caller_id: str,
        conversation: Conversation,
    ) -> bool:
        """Keep one turn; False when it was not kept (the store failed, or it grew past the limit)."""
        assert self._table is not None
        located = _locate(response["id"])
        assert located is not None
        response_text = json.dumps(response, ensure_ascii=False, separators=(",", ":"))
        input_text = json.dumps(input_items, ensure_ascii=False, separators=(",", ":"))
        if len(response_text.encode()) + len(input_text.encode()) > MAX_TURN_BYTES:
            return False
        now = int(self._clock())
        attributes: dict[str, Any] = {
            "caller": caller_id,
            "response": response_text,
            "input": input_text,
            "created_at": now,
            "expires_at": now + self._ttl_s,
        }
        if conversation.previous_turn is not None:
            attributes["previous"] = conversation.previous_turn
        try:
            self._table.put_new(_key(*located), attributes)
        except (StoreError, ConditionFailed) as exc:
            self._on_store_error(str(exc))
            return False
        return True

    def get(self, response_id: str, caller_id: str) -> StoredTurn | None:
        located = _locate(response_id)
        if self._table is None or located is None:
            return None
        try:
            item = self._table.get(_key(*located))
        except StoreError as exc:
            self._on_store_error(str(exc))
            raise StoreUnavailable("stored responses cannot be read right now; try again") from None
        if item is None or not self._visible(item, caller_id):
            return None
        return StoredTurn(json.loads(item["response"]), json.loads(item["input"]))

    def delete(self, response_id: str, caller_id: str) -> bool:
        """Delete the caller's own live turn; False when there is none (absent, expired, another's)."""
        located = _locate(response_id)
        if self._table is None or located is None:
            return False
        try:
            self._table.delete(
                _key(*located),
                "#caller = :caller AND #expires > :now",
                {"#caller": "caller", "#expires": "expires_at"},
                {":caller": caller_id, ":now": int(self._clock())},
            )
        except ConditionFailed:
            return False
        except StoreError as exc:
            self._on_store_error(str(exc))
            raise StoreUnavailable("stored responses cannot be changed right now; try again") from None
        return True

    def _visible(self, item: dict[str, Any], caller_id: str) -> bool:
        return item.get("caller") == caller_id and int(item.get("expires_at", 0)) > self._clock()


def _locate(response_id: str) -> tuple[str, str] | None:
    """(conversation, turn) from one of our response ids; None for any other text."""
    match = _RESPONSE_ID.fullmatch(response_id)
    return (match.group(1), match.group(2)) if match else None


def _key(conversation: str, turn: str) -> dict[str, str]:
    return {"pk": PARTITION_PREFIX + conversation, "sk": turn}


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))


def _previous_not_found(response_id: str, *, earlier: bool = False) -> InvalidRequest:
    where = "a response earlier in its conversation" if earlier else "it"
    return InvalidRequest(
        f"previous response {response_id[:64]!r} cannot be continued: {where} was not found (it is another "
        "caller's, was deleted, or expired after RESPONSES_TTL_DAYS)",
        param="previous_response_id",
        code="previous_response_not_found",
    )
