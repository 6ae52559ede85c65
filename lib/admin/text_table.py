"""The command's plain-text tables (`keys list`, `usage`): columns as wide as their widest cell."""

from __future__ import annotations

from typing import TextIO


def print_table(headers: list[str], rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    for row in [headers, ["-" * width for width in widths], *rows]:
        print(
            "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip(),
            file=out,
        )
