"""The Responses API's stream: the stream format lib/stages/streaming.py writes for `POST /v1/responses`
with `stream: true` (its `StreamFormat`: a writer per stream, and `replay` for a whole answer).

Every event has its `sequence_number`, and the sequence is OpenAI's: `response.created`,
`response.in_progress`; per output item `response.output_item.added`, then for a message
`response.content_part.added`, `response.output_text.delta`..., `response.output_text.done`,
`response.content_part.done`, or for a function call `response.function_call_arguments.delta`...,
`.done`; `response.output_item.done`; then `response.completed` (`response.incomplete` when the token
limit cut it). A stream that breaks off after its first event ends with `response.failed`, never a
clean end. From a route that passes the request through, the provider's own item events are sent on
(renumbered), so reasoning and hosted tools' events reach the caller too.

The finished response is kept (when it is to be stored) before its last event goes out, so a caller
that continues it at once finds it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from lib.apis.openai_responses import ResponsesCall
from lib.apis.openai_responses_items import new_item_id
from lib.apis.openai_responses_replies import (
    Turn,
    function_call_item,
    message_item,
    reply,
    response_object,
    usage_object,
)
from lib.core.answer import Usage
from lib.core.pieces import ChunkHeader, StreamPiece
from lib.core.request import ModelRequest
from lib.providers.upstream_stream import StreamFault

# Keeps the finished response (stored responses); says whether it was kept.
Keep = Callable[[dict[str, Any]], bool]
# The provider's own events a writer does not send on: it writes the response's beginning and end itself.
_OWN_EVENTS = frozenset(
    {
        "response.created",
        "response.in_progress",
        "response.completed",
        "response.incomplete",
        "response.failed",
    }
)
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


class ResponsesStream:
    """The stream format of one Responses request (it knows the response's id and how to keep it)."""

    def __init__(self, call: ResponsesCall, turn: Turn, keep: Keep) -> None:
        self.call = call
        self.turn = turn
        self.keep = keep

    def writer(self, request: ModelRequest, header: ChunkHeader) -> ResponsesStreamWriter:
        return ResponsesStreamWriter(self, request, header.model or self.turn.model)

    def replay(self, body: Mapping[str, Any], request: ModelRequest, usage: Usage) -> bytes:
        """A whole answer (a cached one, or from a provider that cannot stream) as the full sequence."""
        writer = self.writer(
            request, ChunkHeader(self.turn.response_id, self.turn.created_at, self.turn.model)
        )
        whole = reply(body, request, usage, self.call, writer.turn)
        events = [writer.start(), *(writer.whole_item(item) for item in whole["output"])]
        events.append(writer.finish(whole))
        return b"".join(events)


class ResponsesStreamWriter:
    def __init__(self, stream: ResponsesStream, request: ModelRequest, model: str) -> None:
        self.turn = stream.turn._replace(model=model)
        self._stream = stream
        self._request = request
        self._sequence = 0
        self._output: list[dict[str, Any]] = []
        self._message: dict[str, Any] | None = None  # the open message item, and its text so far
        self._calls: dict[int, dict[str, Any]] = {}  # the chat tool-call index -> its open item
        self._finish_reason: str | None = None
        self._native_final: dict[str, Any] | None = None  # a passing-through provider's own last response

    def start(self) -> bytes:
        response = self._response(output=[], status="in_progress")
        return self._event("response.created", response=response) + self._event(
            "response.in_progress", response=response
        )

    def piece(self, piece: StreamPiece) -> bytes:
        native = getattr(piece, "event", None)
        if isinstance(native, dict):
            return self._forward(native)
        events = []
        if piece.text:
            if self._message is None:
                events.append(self._open_message())
            events.append(self._text(piece.text))
        for delta in piece.tool_calls or []:
            events.append(self._tool_call(delta))
        self._finish_reason = piece.finish_reason or self._finish_reason
        return b"".join(events)

    def end(self, usage: Usage) -> bytes:
        # An empty answer is still a message, as in a whole reply.
        opening = self._open_message() if not self._output else b""
        closing = opening + self._close_message() + self._close_calls()
        final = self._native_final or {}
        incomplete = _INCOMPLETE.get(self._finish_reason or "")
        if final.get("status") == "incomplete":
            reason = final.get("incomplete_details") or {}
            incomplete = reason.get("reason") if isinstance(reason, dict) else "max_output_tokens"
        output = final.get("output") if isinstance(final.get("output"), list) else self._output
        response = self._response(
            output=output,
            status="incomplete" if incomplete else "completed",
            incomplete=incomplete,
            usage=usage_object(usage, final["usage"] if isinstance(final.get("usage"), dict) else {}),
        )
        return closing + self.finish(response)

    def fail(self, fault: StreamFault) -> bytes:
        error = {"code": "server_error", "message": f"the model's stream broke off: {fault}"}
        response = self._response(output=self._output, status="failed", error=error)
        return self._event("response.failed", response=response)

    def finish(self, response: dict[str, Any]) -> bytes:
        """The last event, after the response is kept (if it is to be)."""
        if response["store"]:
            response["store"] = self._stream.keep(response)
        kind = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
        return self._event(kind, response=response)

    def whole_item(self, item: dict[str, Any]) -> bytes:
        """The events of an output item that is already whole."""
        if item.get("type") == "message":
            parts = item.get("content") or []
            text = "".join(part.get("text", "") for part in parts if isinstance(part, dict))
            return self._open_message(item.get("id")) + self._text(text) + self._close_message()
        if item.get("type") == "function_call":
            function = {"name": item.get("name"), "arguments": item.get("arguments")}
            opened = self._tool_call(
                {"index": 0, "id": item.get("call_id"), "function": function}, item.get("id")
            )
            return opened + self._close_calls()
        index = len(self._output)
        self._output.append(item)
        added = self._event("response.output_item.added", output_index=index, item=item)
        return added + self._event("response.output_item.done", output_index=index, item=item)

    def _open_message(self, item_id: str | None = None) -> bytes:
        index = len(self._output)
        item = {**message_item("", "in_progress", item_id), "content": []}
        self._output.append(item)
        self._message = {"index": index, "id": item["id"], "text": []}
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        return self._event("response.output_item.added", output_index=index, item=item) + self._event(
            "response.content_part.added", item_id=item["id"], output_index=index, content_index=0, part=part
        )

    def _text(self, delta: str) -> bytes:
        assert self._message is not None
        self._message["text"].append(delta)
        where = {"item_id": self._message["id"], "output_index": self._message["index"], "content_index": 0}
        return self._event("response.output_text.delta", **where, delta=delta, logprobs=[])

    def _close_message(self) -> bytes:
        message, self._message = self._message, None
        if message is None:
            return b""
        text, index = "".join(message["text"]), message["index"]
        item = self._output[index] = message_item(text, "completed", message["id"])
        where = {"item_id": item["id"], "output_index": index, "content_index": 0}
        return (
            self._event("response.output_text.done", **where, text=text, logprobs=[])
            + self._event("response.content_part.done", **where, part=item["content"][0])
            + self._event("response.output_item.done", output_index=index, item=item)
        )

    def _tool_call(self, delta: Mapping[str, Any], item_id: str | None = None) -> bytes:
        index = delta.get("index", 0)
        function = delta.get("function") if isinstance(delta.get("function"), dict) else {}
        assert isinstance(function, dict)
        events = b""
        call = self._calls.get(index)
        if call is None:
            events += self._close_message()
            item = function_call_item(
                str(delta.get("id") or new_item_id("call")),
                str(function.get("name") or ""),
                "",
                "in_progress",
                item_id,
            )
            call = self._calls[index] = {"index": len(self._output), "item": item}
            self._output.append(item)
            events += self._event("response.output_item.added", output_index=call["index"], item=item)
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            call["item"]["arguments"] += arguments
            events += self._event(
                "response.function_call_arguments.delta",
                item_id=call["item"]["id"],
                output_index=call["index"],
                delta=arguments,
            )
        return events

    def _close_calls(self) -> bytes:
        events = b""
        for call in self._calls.values():
            item = {**call["item"], "status": "completed"}
            self._output[call["index"]] = item
            events += self._event(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=call["index"],
                name=item["name"],
                arguments=item["arguments"],
            )
            events += self._event("response.output_item.done", output_index=call["index"], item=item)
        self._calls = {}
        return events

    def _forward(self, event: dict[str, Any]) -> bytes:
        """A passing-through provider's own event, renumbered; its start and end are the writer's."""
        kind = event.get("type")
        if kind in _OWN_EVENTS:
            if kind != "response.failed" and isinstance(event.get("response"), dict):
                self._native_final = event["response"]
            return b""
        if kind == "response.output_item.done" and isinstance(event.get("item"), dict):
            self._output.append(event["item"])
        fields = {name: value for name, value in event.items() if name not in ("type", "sequence_number")}
        return self._event(str(kind), **fields)

    def _response(self, **fields: Any) -> dict[str, Any]:
        return response_object(self._stream.call, self._request, self.turn, **fields)

    def _event(self, kind: str, **fields: Any) -> bytes:
        data = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return (
            f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()
        )
