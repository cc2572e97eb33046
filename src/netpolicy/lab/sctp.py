"""SCTP packets for raw sockets: just enough to probe with INIT and answer with INIT-ACK/ABORT.

The kernel here has no SCTP sockets, so the lab speaks the first step of the handshake itself
(RFC 9260 sections 3 and 8.4). nftables' `sctp dport` and conntrack see these packets like any
other SCTP traffic, which is what a NetworkPolicy test needs.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

CHUNK_INIT = 1
CHUNK_INIT_ACK = 2
CHUNK_ABORT = 6
_PARAM_STATE_COOKIE = 7
_COMMON = struct.Struct("!HHI")  # source port, destination port, verification tag
_CHUNK = struct.Struct("!BBH")  # type, flags, length
_INIT_BODY = struct.Struct("!IIHHI")  # initiate tag, a_rwnd, out streams, in streams, TSN


def _crc32c_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), the SCTP checksum; crc32c(b"123456789") == 0xE3069283."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _packet(src_port: int, dst_port: int, vtag: int, chunks: bytes) -> bytes:
    body = _COMMON.pack(src_port, dst_port, vtag) + b"\0\0\0\0" + chunks
    # Linux stores the CRC little-endian (cpu_to_le32 of the reflected CRC).
    return body[:8] + struct.pack("<I", crc32c(body)) + body[12:]


@dataclass(frozen=True, slots=True)
class SctpPacket:
    """The parts of an SCTP packet the lab looks at: ports, tag and its first chunk."""

    src_port: int
    dst_port: int
    vtag: int
    chunk_type: int
    chunk_flags: int
    initiate_tag: int = 0
    """For INIT and INIT-ACK: the tag the sender wants to see on packets sent to it."""


def init_packet(src_port: int, dst_port: int, initiate_tag: int, tsn: int) -> bytes:
    """An INIT opening an association (verification tag 0, as RFC 9260 requires)."""
    chunk = _CHUNK.pack(CHUNK_INIT, 0, 20) + _INIT_BODY.pack(initiate_tag, 65535, 10, 10, tsn)
    return _packet(src_port, dst_port, 0, chunk)


def init_ack_packet(init: SctpPacket, initiate_tag: int, tsn: int) -> bytes:
    """The INIT-ACK answering `init`, with a (meaningless) state cookie parameter."""
    cookie = struct.pack("!HH", _PARAM_STATE_COOKIE, 12) + b"netpolcy"
    length = _CHUNK.size + _INIT_BODY.size + len(cookie)
    chunk = (
        _CHUNK.pack(CHUNK_INIT_ACK, 0, length)
        + _INIT_BODY.pack(initiate_tag, 65535, 10, 10, tsn)
        + cookie
    )
    return _packet(init.dst_port, init.src_port, init.initiate_tag, chunk)


def abort_packet(src_port: int, dst_port: int, vtag: int) -> bytes:
    """An ABORT carrying the peer's tag (T bit clear), e.g. for an INIT to a closed port."""
    return _packet(src_port, dst_port, vtag, _CHUNK.pack(CHUNK_ABORT, 0, 4))


def parse_packet(data: bytes) -> SctpPacket | None:
    """The packet in `data` (starting at the SCTP header), or None if short or corrupt."""
    if len(data) < 16:
        return None
    (checksum,) = struct.unpack_from("<I", data, 8)
    if crc32c(data[:8] + b"\0\0\0\0" + data[12:]) != checksum:
        return None
    src_port, dst_port, vtag = _COMMON.unpack_from(data)
    chunk_type, chunk_flags, _ = _CHUNK.unpack_from(data, 12)
    initiate_tag = 0
    if chunk_type in (CHUNK_INIT, CHUNK_INIT_ACK) and len(data) >= 16 + _INIT_BODY.size:
        (initiate_tag,) = struct.unpack_from("!I", data, 16)
    return SctpPacket(src_port, dst_port, vtag, chunk_type, chunk_flags, initiate_tag)
