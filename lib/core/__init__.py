"""The neutral request and answer every layer speaks: what the caller formats (lib/apis/) parse into
and what the providers (lib/providers/) are handed, so neither knows the other.

May import lib.platform only.
"""
