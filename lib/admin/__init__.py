"""The operators' command (`python -m lib.admin`, behind `make keys-*`, `make usage`, `make set-key`,
`make rotate`): client keys, usage and the provider key, straight from the stack's table and stores.

Never imported by a function (deploy/package.py leaves it out). May import every layer but lib.http.
"""
