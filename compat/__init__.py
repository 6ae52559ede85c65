"""Clients' own test suites against the gateway: `make compat` (compat/conftest.py)."""
