"""A gateway bug LangChain's ChatAnthropic tests found (fixed), reduced to one request each way: the
same ~40 KB PNG as an image part of /v1/chat/completions and as an image block of /v1/messages. Both
leave media out of MAX_INPUT_CHARS (docs/routes-and-providers.md: the limits "count text only"); the
Messages API counted the base64 data as text and refused it with a 400 `input_too_long`."""

from __future__ import annotations

import base64

import requests

from compat.conftest import URLS, png

IMAGE = base64.b64encode(png(120, 110)).decode()  # about 53,000 base64 characters, over 32,768
QUESTION = "What is in this image?"


class TestAnImageThroughGateway:
    def test_chat_completions_takes_it(self) -> None:
        # Given an image part beside a question
        image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{IMAGE}"}}
        body = {
            "model": "capable",
            "messages": [{"role": "user", "content": [{"type": "text", "text": QUESTION}, image]}],
        }
        # When it is sent through the gateway's chat completions
        reply = requests.post(f"{URLS['gateway']}/chat/completions", json=body, timeout=30)
        # Then the model answers
        assert reply.status_code == 200, reply.text
        assert reply.json()["choices"][0]["message"]["content"]

    def test_messages_takes_it_too(self) -> None:
        # Given the same image as a Messages API image block beside the same question
        image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": IMAGE}}
        content = [{"type": "text", "text": QUESTION}, image]
        body = {"model": "capable", "max_tokens": 64, "messages": [{"role": "user", "content": content}]}
        # When it is sent through the gateway's Messages API
        reply = requests.post(
            f"{URLS['gateway']}/messages", json=body, headers={"anthropic-version": "2023-06-01"}, timeout=30
        )
        # Then the model answers, as it does through chat completions (before the fix: 400 input_too_long)
        assert reply.status_code == 200, reply.text
        assert reply.json()["content"][0]["text"]
