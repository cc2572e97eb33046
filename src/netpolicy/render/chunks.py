"""Text handed out in bounded chunks, so that no single write is oversized."""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def chunked(pieces: Iterable[str], size: int) -> Iterator[str]:
    """The text of `pieces` in chunks of about `size` characters (a longer piece is split)."""
    buffer: list[str] = []
    held = 0
    for piece in pieces:
        if len(piece) > size:
            if buffer:
                yield "".join(buffer)
                buffer, held = [], 0
            for i in range(0, len(piece), size):
                yield piece[i : i + size]
            continue
        buffer.append(piece)
        held += len(piece)
        if held >= size:
            yield "".join(buffer)
            buffer, held = [], 0
    if buffer:
        yield "".join(buffer)
