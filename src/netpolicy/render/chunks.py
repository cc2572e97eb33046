"""Text handed out in bounded chunks, so that no single write is oversized."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

Text = TypeVar("Text", str, bytes)


def chunked(pieces: Iterable[Text], size: int) -> Iterator[Text]:
    """The text of `pieces` in chunks of about `size` characters (or bytes).

    Short pieces are gathered; a longer piece of text is split; a longer piece of bytes goes
    out whole, for the writer to cut into writes without copying it (`write_chunks`)."""
    buffer: list[Text] = []
    held = 0
    for piece in pieces:
        if len(piece) > size:
            if buffer:
                yield piece[:0].join(buffer)
                buffer, held = [], 0
            if isinstance(piece, bytes):
                yield piece
            else:
                for i in range(0, len(piece), size):
                    yield piece[i : i + size]
            continue
        buffer.append(piece)
        held += len(piece)
        if held >= size:
            yield piece[:0].join(buffer)
            buffer, held = [], 0
    if buffer:
        yield buffer[0][:0].join(buffer)
