"""The stages every model request passes, whatever its format or entry point: body and field
validation, text rules, admission (limits and cache), the call through routing, settlement, streaming,
and the one access line and metrics per request (telemetry).

May import lib.routing, lib.callers and the layers below them; never a caller format (lib.apis).
"""
