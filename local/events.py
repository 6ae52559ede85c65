"""The event builders live in lib/http/events.py (the HTTP server that streams on AWS uses them too)."""

from lib.http.events import LambdaContext, http_api_event

__all__ = ["LambdaContext", "http_api_event"]
