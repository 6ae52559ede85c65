"""What may be sent as an HTTP header value (a provider key is sent as `Authorization: Bearer <key>`)."""

from __future__ import annotations


def header_problem(key: str) -> str | None:
    """Why `key` cannot be sent as `Authorization: Bearer <key>`, or None when it can.

    Provider keys are visible ASCII. A pasted ellipsis or curly quote (outside Latin-1) or a line
    break would otherwise fail inside the HTTP library on every request, as a 500.
    """
    for position, char in enumerate(key):
        if not "!" <= char <= "~":
            return (
                f"holds a character that cannot be sent in an HTTP header "
                f"(U+{ord(char):04X} at position {position + 1}; keys are visible ASCII)"
            )
    return None
