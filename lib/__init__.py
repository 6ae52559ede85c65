"""modelgate: the gateway's logic, one module per stage of the request flow (see README)."""
