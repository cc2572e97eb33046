"""Lab pieces that need no root: SCTP packets, spec validation, preflight."""

from __future__ import annotations

import pytest

from netpolicy.lab import LabError, LabPod, LabSpec, check_prerequisites, new_prefix, sctp
from netpolicy.lab._ipc import FrameReader


def test_crc32c_check_value() -> None:
    assert sctp.crc32c(b"123456789") == 0xE3069283


def test_init_and_init_ack_round_trip() -> None:
    init = sctp.parse_packet(sctp.init_packet(40000, 7, initiate_tag=0xDEADBEEF, tsn=1))
    assert init == sctp.SctpPacket(40000, 7, 0, sctp.CHUNK_INIT, 0, 0xDEADBEEF)
    ack = sctp.parse_packet(sctp.init_ack_packet(init, initiate_tag=5, tsn=9))
    assert ack == sctp.SctpPacket(7, 40000, 0xDEADBEEF, sctp.CHUNK_INIT_ACK, 0, 5)
    abort = sctp.parse_packet(sctp.abort_packet(7, 40000, 0xDEADBEEF))
    assert abort is not None
    assert abort.chunk_type == sctp.CHUNK_ABORT
    assert abort.vtag == 0xDEADBEEF


def test_corrupt_sctp_packet_is_ignored() -> None:
    packet = bytearray(sctp.init_packet(1, 2, 3, 4))
    packet[-1] ^= 0xFF
    assert sctp.parse_packet(bytes(packet)) is None
    assert sctp.parse_packet(b"short") is None


def test_frames_survive_arbitrary_chunking() -> None:
    import pickle

    from netpolicy.lab._ipc import _HEADER

    stream = b"".join(
        _HEADER.pack(len(body)) + body for body in (pickle.dumps(m) for m in ("a", [1, 2], None))
    )
    reader = FrameReader()
    got = []
    for i in range(len(stream)):
        got += reader.feed(stream[i : i + 1])
    assert got == ["a", [1, 2], None]


def test_spec_rejects_duplicates_and_bad_values() -> None:
    with pytest.raises(LabError) as caught:
        LabSpec(
            (
                LabPod("a", "10.0.0.1", ((80, "TCP"),)),
                LabPod("a", "10.0.0.1", ((0, "TCP"), (53, "ICMP"))),  # type: ignore[arg-type]
                LabPod("b", "not-an-ip"),
                LabPod("c", "169.254.1.1"),
            ),
            prefix="np-x-",
        )
    message = str(caught.value)
    for part in ("appears twice", "used by another pod", "port 0", "'ICMP'", "not an IP", "router"):
        assert part in message


def test_prefixes_are_fresh_and_valid() -> None:
    first, second = new_prefix(), new_prefix()
    assert first != second
    assert first.startswith("np-")
    LabSpec((), prefix=first)
    with pytest.raises(LabError):
        LabSpec((), prefix="bad prefix")


def test_prerequisites_are_sentences() -> None:
    problems = check_prerequisites()
    assert all(isinstance(p, str) and p for p in problems)
