"""Who calls and what they may spend: caller identity (hashed client keys or the source IP), the
token-bucket rate limit and the daily token budget, exact across every container through DynamoDB.

May import lib.core and lib.platform only; independent of lib.routing and lib.rotation.
"""
