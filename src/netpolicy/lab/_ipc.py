"""Length-prefixed pickle frames between the lab and its forked pod workers (same program)."""

from __future__ import annotations

import pickle
import socket
import struct
from typing import Any

_HEADER = struct.Struct("!I")


def send_msg(sock: socket.socket, message: Any) -> None:
    """Send one message; blocks until the kernel has taken all of it."""
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_HEADER.pack(len(body)) + body)


class FrameReader:
    """Reassembles frames from the byte chunks a stream socket hands out."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[Any]:
        """Add a chunk; return every message now complete, in order."""
        self._buffer += chunk
        messages: list[Any] = []
        while len(self._buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buffer)
            end = _HEADER.size + size
            if len(self._buffer) < end:
                break
            messages.append(pickle.loads(bytes(self._buffer[_HEADER.size : end])))
            del self._buffer[:end]
        return messages
