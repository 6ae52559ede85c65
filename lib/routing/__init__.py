"""Which route serves a request and how it is called: the choice (model, domain, keyword), the dispatch
with fallbacks inside one deadline, the circuit breaker, and the free monthly allowances.

May import lib.providers and the layers below; independent of lib.callers and lib.rotation.
"""
