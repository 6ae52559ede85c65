"""Provider-key rotation: Secrets Manager's four steps (or the scheduled SSM rotation) and where new
keys come from (issuers). Runs only in the rotation function.

May import lib.providers (to test a new key), lib.keys and the layers below; independent of
lib.routing and lib.callers.
"""
