"""`keys create|list|disable|enable`: the client keys in the table. A new key is printed once, by
`create`, and never again: the table holds only its SHA-256."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, TextIO

from lib.admin.text_table import print_table
from lib.callers.identity import caller_id_for_hash, hash_key, new_client_key
from lib.platform.store import KeyRecords


def create_key(records: KeyRecords, args: argparse.Namespace, out: TextIO) -> None:
    key = new_client_key()
    key_hash = hash_key(key)
    attributes: dict[str, Any] = {
        "name": args.name,
        "enabled": True,
        "caller_id": caller_id_for_hash(key_hash),
        "created_at": int(time.time()),
    }
    for field in ("rpm", "burst", "daily_tokens"):
        if getattr(args, field) is not None:
            attributes[field] = getattr(args, field)
    records.create(key_hash, attributes)
    print(f"key id:  {attributes['caller_id']}", file=out)
    print(f"key:     {key}", file=out)
    print("Store the key now: it is not kept and cannot be shown again.", file=out)
    # `make run`'s own setting, from its .make-run.env (with its local table's endpoint): never a
    # deployed stack's, whatever the operator's shell exports.
    if os.environ.get("AUTH_MODE") == "none" and os.environ.get("AWS_ENDPOINT_URL"):
        print(
            "note: the gateway serving this table runs with AUTH_MODE=none and does not check keys: "
            "start it with AUTH_MODE=keys make run for this key to count",
            file=sys.stderr,
        )


def list_keys(records: KeyRecords, out: TextIO) -> None:
    rows = [
        [
            item.get("caller_id", ""),
            item.get("name", ""),
            "yes" if item.get("enabled", True) else "no",
            str(item.get("rpm", "default")),
            str(item.get("burst", "default")),
            str(item.get("daily_tokens", "default")),
            time.strftime("%Y-%m-%d", time.gmtime(int(item.get("created_at", 0)))),
        ]
        for item in sorted(records.all(), key=lambda item: int(item.get("created_at", 0)))
    ]
    print_table(["key id", "name", "enabled", "rpm", "burst", "daily tokens", "created"], rows, out)


def set_enabled(records: KeyRecords, key_id: str, enabled: bool, out: TextIO) -> int:
    prefix = key_id.removeprefix("key_")
    if len(prefix) != 12 or any(c not in "0123456789abcdef" for c in prefix):
        print(
            f"error: {key_id!r} is not a key id (key_ followed by 12 hex digits; see `keys list`)",
            file=sys.stderr,
        )
        return 2
    matches = records.find_by_prefix(prefix)
    if not matches:
        print(f"error: no key with id {key_id}", file=sys.stderr)
        return 1
    for item in matches:
        records.set_enabled(item["sk"], enabled)
    print(f"{key_id}: {'enabled' if enabled else 'disabled'}", file=out)
    return 0
