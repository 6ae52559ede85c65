"""The wire formats callers speak, one module each: `/api/generate` (and its batch), OpenAI's chat
completions and legacy completions. The mirror of lib/providers/: a format parses its request into
the neutral `ModelRequest` (lib/core/) and writes the neutral answer back in its own shape.

May import lib.stages and the layers below it; never lib.http or lib.services.
"""
