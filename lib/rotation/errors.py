"""RotationError: the one error that stops a rotation, raised by the secret stores, the key check and
the steps alike. It has a module of its own so that each of them can raise it without importing the
others (the steps import the stores and the key check)."""

from __future__ import annotations


class RotationError(Exception):
    """The rotation cannot go on. The message never holds a key."""
