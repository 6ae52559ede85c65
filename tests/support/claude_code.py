"""A request shaped like Claude Code's, built from its public documentation and Anthropic's Messages API
reference: `POST /v1/messages?beta=true` with beta flags, a streamed answer, system blocks marked for
prompt caching, a dozen client-side tools with JSON Schema draft-07 inputs, `metadata.user_id`, and a
user turn of several text blocks (a system reminder beside the question)."""

from __future__ import annotations

from typing import Any

BETAS = ["claude-code-20250219", "interleaved-thinking-2025-05-14", "fine-grained-tool-streaming-2025-05-14"]
CACHED = {"type": "ephemeral"}


def _tool(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
        "$schema": "http://json-schema.org/draft-07/schema#",
    }
    return {"name": name, "description": description, "input_schema": schema}


_TEXT = {"type": "string"}
_PATH = {"type": "string", "description": "The absolute path"}
TOOLS = [
    _tool(
        "Task",
        "Launch a sub-agent for a complex, multi-step task.",
        {"description": _TEXT, "prompt": _TEXT},
        ["description", "prompt"],
    ),
    _tool(
        "Bash",
        "Run a command in a persistent shell.",
        {"command": _TEXT, "timeout": {"type": "number"}},
        ["command"],
    ),
    _tool("Glob", "Find files by a glob pattern.", {"pattern": _TEXT, "path": _PATH}, ["pattern"]),
    _tool(
        "Grep",
        "Search file contents with a regular expression.",
        {"pattern": _TEXT, "path": _PATH},
        ["pattern"],
    ),
    _tool("LS", "List a directory.", {"path": _PATH}, ["path"]),
    _tool(
        "Read",
        "Read a file.",
        {"file_path": _PATH, "offset": {"type": "number"}, "limit": {"type": "number"}},
        ["file_path"],
    ),
    _tool(
        "Edit",
        "Replace a string in a file.",
        {"file_path": _PATH, "old_string": _TEXT, "new_string": _TEXT},
        ["file_path", "old_string", "new_string"],
    ),
    _tool(
        "MultiEdit",
        "Several edits to one file.",
        {"file_path": _PATH, "edits": {"type": "array", "items": {"type": "object"}}},
        ["file_path", "edits"],
    ),
    _tool("Write", "Write a file.", {"file_path": _PATH, "content": _TEXT}, ["file_path", "content"]),
    _tool(
        "WebFetch",
        "Fetch a URL and answer a question about it.",
        {"url": {"type": "string", "format": "uri"}, "prompt": _TEXT},
        ["url", "prompt"],
    ),
    _tool(
        "TodoWrite",
        "Keep the session's task list.",
        {"todos": {"type": "array", "items": {"type": "object"}}},
        ["todos"],
    ),
    _tool("WebSearch", "Search the web.", {"query": {"type": "string", "minLength": 2}}, ["query"]),
]
TOOLS[-1]["cache_control"] = CACHED  # the last tool closes the cached prefix

SYSTEM = [
    {
        "type": "text",
        "text": "You are Claude Code, Anthropic's official CLI for Claude.",
        "cache_control": CACHED,
    },
    {
        "type": "text",
        "text": "You are an interactive CLI tool that helps users with software engineering tasks. "
        "Use the tools available to you to assist the user. Keep your answers short.\n" * 20,
        "cache_control": CACHED,
    },
]


def request(model: str) -> dict[str, Any]:
    """The body, for `client.beta.messages.create(**request(model), betas=BETAS)`."""
    question = [
        {
            "type": "text",
            "text": "<system-reminder>The working directory is /home/user/project.</system-reminder>",
        },
        {"type": "text", "text": "Why does the test in tests/test_app.py fail?", "cache_control": CACHED},
    ]
    return {
        "model": model,
        "max_tokens": 32000,
        "temperature": 1,
        "system": SYSTEM,
        "tools": TOOLS,
        "messages": [{"role": "user", "content": question}],
        "metadata": {"user_id": "user_0f3c_account__session_7d2e4c1a-9a3b-4d3e-8f1e-2b1c3d4e5f60"},
        "stream": True,
    }
