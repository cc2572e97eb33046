"""Pod workers: a few forked processes, each serving and probing for a share of the pods.

A worker enters each of its pods' namespaces in turn with `setns()` to finish the pod side of
the network and to open the pod's sockets there (a socket stays in the namespace it was made
in), then runs one event loop (epoll) over the sockets of all its pods. A process per CPU
rather than per pod: a thousand pods would otherwise be a thousand processes taking turns.

Servers, on each pod's declared ports:
- TCP: a listener that accepts and closes (for `lab exec`; probes never complete a handshake);
- UDP: a socket that echoes each datagram back;
- SCTP: the kernel has no SCTP sockets here, so a raw IPPROTO_SCTP socket answers an INIT to a
  declared port with INIT-ACK and to any other port with ABORT (what a kernel does for a closed
  port). On a kernel with SCTP sockets, kernel listeners answer instead.

Probes leave from raw sockets of the source pod, so that no socket is made per probe and the
destination's answer is read where it arrives:
- TCP: a SYN. A SYN-ACK means the destination's listening socket answered ("connected"; the
  source pod's kernel, which knows no such connection, resets it), a RST "refused";
- UDP: a datagram from the pod's probe socket; "connected" when the echo comes back;
- SCTP: an INIT; "connected" on INIT-ACK (then an ABORT closes it), "refused" on ABORT;
- any protocol: an ICMP error quoting the probe (raw ICMP socket): refused, prohibited or
  unreachable. No answer: resent a few times, then "timeout".

Messages on the control socket (pickled frames, see `_ipc`):
  lab → worker  ("probe", batch, ProbeBatch)   ("stop",)
  worker → lab  ("ready", pods_ready) | ("error", text)
                ("results", batch, index bytes, code bytes, seconds bytes, {index: detail})
                ("done", batch)
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import ipaddress
import os
import random
import resource
import select
import signal
import socket
import struct
import subprocess
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from netpolicy.lab import sctp
from netpolicy.lab._ipc import FrameReader, send_msg
from netpolicy.lab._netns import die_with_parent, enter_netns, write_sysctls
from netpolicy.lab.errors import LabError

_IPPROTO_SCTP = 132
_IPV6_CHECKSUM = 7  # not in Python's socket module
_SO_ATTACH_FILTER = 26
_RAW_BUFFER = 4 << 20
_LISTEN_BACKLOG = 4096
_FIRST_PORT, _PORTS = 32768, 28232  # source ports of TCP and SCTP probes: 32768-60999

CONNECTED = "connected"
REFUSED = "refused"
PROHIBITED = "prohibited"
UNREACHABLE = "unreachable"
TIMEOUT = "timeout"
DETAILS: tuple[str, ...] = (CONNECTED, REFUSED, PROHIBITED, UNREACHABLE, TIMEOUT)
"""The outcome codes workers report: a probe's code is its index here."""
ERROR_CODE = len(DETAILS)
"""The code of a probe that failed locally; its text travels beside the codes."""
PROTOCOL_CODES: dict[str, int] = {"TCP": 0, "UDP": 1, "SCTP": 2}
_TCP, _UDP, _SCTP = 0, 1, 2
_CODE = {detail: code for code, detail in enumerate(DETAILS)}
_QUOTED = {socket.IPPROTO_TCP: _TCP, socket.IPPROTO_UDP: _UDP, _IPPROTO_SCTP: _SCTP}

_ERRNO_DETAIL = {
    errno.ECONNREFUSED: REFUSED,
    errno.ECONNRESET: REFUSED,
    errno.ENOPROTOOPT: REFUSED,
    errno.EHOSTUNREACH: UNREACHABLE,
    errno.ENETUNREACH: UNREACHABLE,
    errno.EACCES: PROHIBITED,
    errno.EPERM: PROHIBITED,
}


def _errno_detail(code: int) -> str:
    return _ERRNO_DETAIL.get(code, f"error: {errno.errorcode.get(code, code)}")


def _icmp4_detail(icmp_type: int, code: int) -> str | None:
    if icmp_type != 3:  # destination unreachable
        return None
    if code in (2, 3):  # protocol / port unreachable
        return REFUSED
    if code in (9, 10, 13):  # administratively prohibited
        return PROHIBITED
    return UNREACHABLE


def _icmp6_detail(icmp_type: int, code: int) -> str | None:
    if icmp_type == 1:  # destination unreachable
        return {4: REFUSED, 1: PROHIBITED}.get(code, UNREACHABLE)
    if icmp_type == 4 and code == 1:  # parameter problem: unknown next header
        return REFUSED
    return None


def kernel_has_sctp() -> bool:
    """Whether this kernel has SCTP sockets (not on the machines the lab was built on).

    Where it has, the kernel answers every INIT itself (ABORT on a port nobody listens on),
    so the raw responder would race it: workers then serve with kernel sockets.
    """
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, _IPPROTO_SCTP).close()
    except OSError:
        return False
    return True


# ---- TCP SYNs from a raw socket ----------------------------------------------------------

_TCP_HEADER = struct.Struct("!HHIIHHHH")  # ports, seq, ack, offset+flags, window, sum, urgent
_SYN_FLAGS = (5 << 12) | 0x02
_SYN_ACK, _RST_ACK = 0x12, 0x14


def _word_sum(packed: bytes) -> int:
    """The sum of the 16-bit words of an address (for the TCP pseudo-header checksum)."""
    return sum(struct.unpack(f"!{len(packed) // 2}H", packed))


def tcp_syn(src_sum: int, dst_sum: int, sport: int, dport: int, seq: int) -> bytes:
    """A TCP SYN header; with IPv4 word sums of the addresses its checksum is right.

    (IPv6 raw sockets fill the checksum themselves: `IPV6_CHECKSUM`; pass zero sums.)
    """
    if src_sum == 0:
        return _TCP_HEADER.pack(sport, dport, seq, 0, _SYN_FLAGS, 0xFFFF, 0, 0)
    total = src_sum + dst_sum + 6 + 20 + sport + dport + (seq >> 16) + (seq & 0xFFFF)
    total += _SYN_FLAGS + 0xFFFF
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return _TCP_HEADER.pack(sport, dport, seq, 0, _SYN_FLAGS, 0xFFFF, ~total & 0xFFFF, 0)


def _bpf(*instructions: tuple[int, int, int, int]) -> bytes:
    return b"".join(struct.pack("HBBI", *i) for i in instructions)


def _answers_only(ipv4: bool) -> bytes:
    """A socket filter keeping SYN-ACK and RST-ACK segments, the answers to a SYN.

    A pod's raw TCP socket would otherwise wake its worker for every SYN other pods send to
    its servers, and for the resets that end them.
    """
    ld_b_ind, ld_b_abs, ldx_msh = 0x50, 0x30, 0xB1
    and_k, jeq_k, ret_k = 0x54, 0x15, 0x06
    load = (ld_b_ind, 0, 0, 13) if ipv4 else (ld_b_abs, 0, 0, 13)  # TCP flags
    header = [(ldx_msh, 0, 0, 0)] if ipv4 else []  # X = length of the IPv4 header
    return _bpf(
        *header,
        load,
        (and_k, 0, 0, _SYN_ACK),
        (jeq_k, 4, 0, _SYN_ACK),  # -> accept
        load,
        (and_k, 0, 0, _RST_ACK),
        (jeq_k, 1, 0, _RST_ACK),  # -> accept
        (ret_k, 0, 0, 0),
        (ret_k, 0, 0, 0x40000),
    )


def _attach_filter(sock: socket.socket, program: bytes) -> None:
    buffer = ctypes.create_string_buffer(program)
    fprog = struct.pack("HL", len(program) // 8, ctypes.addressof(buffer))
    sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)


# ---- the worker's side -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkerSetup:
    """What a worker needs for one of its pods: its namespace and the pod side of the network."""

    key: str
    index: int
    """The pod's position in the lab (probes name their source by it)."""
    netns: str
    ip: str
    ports: tuple[tuple[int, str], ...]
    ip_batch: str
    sysctls: Mapping[str, str]
    avoid_udp: frozenset[int] = frozenset()
    """UDP ports the pod's probe socket must not take (other pods probe them here)."""


@dataclass(frozen=True, slots=True)
class ProbeBatch:
    """Probes for one worker, as columns: what the lab sends, and how fast."""

    index: Any  # int64: the caller's probe numbers (results name probes by them)
    src: Any  # int32: the source pod's lab index (one of the worker's pods)
    dst: Any  # int32: the destination, an index into `addresses`
    port: Any  # int32
    protocol: Any  # uint8: PROTOCOL_CODES
    addresses: tuple[str, ...]
    timeout: float
    in_flight: int


class _Pod:
    """One pod hosted by the worker: its address and its probing sockets."""

    __slots__ = (
        "family",
        "icmp",
        "index",
        "ip",
        "packed",
        "sctp",
        "sctp_cursor",
        "served",
        "sum",
        "tcp",
        "tcp_cursor",
        "udp",
        "udp_port",
    )

    def __init__(self, setup: WorkerSetup) -> None:
        address = ipaddress.ip_address(setup.ip)
        self.index = setup.index
        self.ip = setup.ip
        self.packed = address.packed
        self.family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        self.sum = _word_sum(self.packed) if address.version == 4 else 0
        self.served = {(port, _proto_code(protocol)) for port, protocol in setup.ports}
        self.tcp_cursor = random.randrange(_PORTS)
        self.sctp_cursor = random.randrange(_PORTS)
        ipv4 = address.version == 4
        self.tcp = socket.socket(self.family, socket.SOCK_RAW, socket.IPPROTO_TCP)
        _attach_filter(self.tcp, _answers_only(ipv4))
        if not ipv4:
            self.tcp.setsockopt(socket.IPPROTO_IPV6, _IPV6_CHECKSUM, 16)
        self.sctp = socket.socket(self.family, socket.SOCK_RAW, _IPPROTO_SCTP)
        icmp = socket.IPPROTO_ICMP if ipv4 else socket.IPPROTO_ICMPV6
        self.icmp = socket.socket(self.family, socket.SOCK_RAW, icmp)
        served_udp = {port for port, protocol in self.served if protocol == _UDP}
        self.udp = self._probe_socket(setup.avoid_udp | served_udp)
        self.udp_port = self.udp.getsockname()[1]
        for sock in (self.tcp, self.sctp, self.icmp, self.udp):
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RAW_BUFFER)

    def _probe_socket(self, avoid: frozenset[int]) -> socket.socket:
        """A UDP socket on a free port not in `avoid` (the pod's served UDP ports and the
        ports other pods probe here). A port in `avoid` stays held while the kernel is asked
        again, so it is not handed out twice."""
        held: list[socket.socket] = []
        try:
            while True:
                sock = socket.socket(self.family, socket.SOCK_DGRAM)
                sock.bind((self.ip, 0))
                if sock.getsockname()[1] not in avoid:
                    return sock
                held.append(sock)
        finally:
            for sock in held:
                sock.close()

    def source_port(self, protocol: int) -> int:
        """The next source port for a TCP or SCTP probe (never one the pod serves)."""
        while True:
            if protocol == _TCP:
                self.tcp_cursor = (self.tcp_cursor + 1) % _PORTS
                port = _FIRST_PORT + self.tcp_cursor
            else:
                self.sctp_cursor = (self.sctp_cursor + 1) % _PORTS
                port = _FIRST_PORT + self.sctp_cursor
            if (port, protocol) not in self.served:
                return port


def _proto_code(protocol: str) -> int:
    return PROTOCOL_CODES.get(protocol, -1)


class _Probe:
    """One probe in flight."""

    __slots__ = (
        "batch",
        "deadline",
        "dst",
        "index",
        "key",
        "payload",
        "pod",
        "port",
        "protocol",
        "seq",
        "start",
    )

    def __init__(
        self, batch: int, index: int, pod: _Pod, dst: str, port: int, protocol: int
    ) -> None:
        self.batch = batch
        self.index = index
        self.pod = pod
        self.dst = dst
        self.port = port
        self.protocol = protocol
        self.start = 0.0
        self.deadline = 0.0
        self.seq = 0
        self.payload = b""
        self.key: tuple[Any, ...] = ()


class _Batch:
    """The probes of one batch not yet started, and how many have not finished."""

    __slots__ = ("addresses", "columns", "cursor", "in_flight", "packed", "remaining", "timeout")

    def __init__(self, batch: ProbeBatch) -> None:
        self.columns = (batch.index, batch.src, batch.dst, batch.port, batch.protocol)
        self.cursor = 0
        self.remaining = len(batch.index)
        self.timeout = float(batch.timeout)
        self.in_flight = max(1, int(batch.in_flight))
        self.addresses = batch.addresses
        self.packed: dict[int, tuple[bytes, int]] = {}

    def take(self, count: int) -> list[tuple[int, int, int, int, int]]:
        """The next `count` probes: (index, source pod, destination, port, protocol)."""
        start, stop = self.cursor, min(self.cursor + count, len(self.columns[0]))
        self.cursor = stop
        parts = [column[start:stop].tolist() for column in self.columns]
        return list(zip(*parts, strict=True))

    @property
    def exhausted(self) -> bool:
        return self.cursor >= len(self.columns[0])


# Handlers of the event loop, by kind of socket.
_CONTROL, _ACCEPT, _ECHO, _RAW_TCP, _RAW_SCTP, _ICMP, _UDP_PROBE = range(7)
_FLUSH_EVERY = 0.1
_FLUSH_ROWS = 8192


class PodEngine:
    """The event loop of one worker: the servers and probes of its pods."""

    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.reader = FrameReader()
        self.epoll = select.epoll()
        self.handlers: dict[int, tuple[int, Any, socket.socket]] = {}
        self.kernel_sctp = kernel_has_sctp()
        self.pods: dict[int, _Pod] = {}
        self.stopped = False
        self.batches: dict[int, _Batch] = {}
        self.waiting: deque[_Probe] = deque()  # started by a batch, not yet sent
        self.pending: dict[tuple[Any, ...], _Probe] = {}
        self.timers: deque[tuple[float, _Probe]] = deque()  # resend/expiry, in time order
        self.results: dict[int, tuple[array[int], array[int], array[float], dict[int, str]]] = {}
        self.done: list[int] = []
        self.last_flush = time.monotonic()
        self._watch(control, _CONTROL, None)

    def _watch(self, sock: socket.socket, kind: int, pod: _Pod | None) -> None:
        self.handlers[sock.fileno()] = (kind, pod, sock)
        self.epoll.register(sock.fileno(), select.EPOLLIN)

    def add_pod(self, setup: WorkerSetup) -> None:
        """Open the pod's servers and probing sockets (in the pod's namespace, entered)."""
        pod = _Pod(setup)
        self.pods[pod.index] = pod
        for port, protocol in sorted(set(setup.ports)):
            self._serve(pod, port, protocol)
        self._watch(pod.tcp, _RAW_TCP, pod)
        self._watch(pod.sctp, _RAW_SCTP, pod)
        self._watch(pod.icmp, _ICMP, pod)
        self._watch(pod.udp, _UDP_PROBE, pod)

    # ---- servers -------------------------------------------------------------------------

    def _serve(self, pod: _Pod, port: int, protocol: str) -> None:
        if protocol == "SCTP" and not self.kernel_sctp:
            return  # the raw responder answers for the pod's served SCTP ports
        if protocol == "UDP":
            sock = socket.socket(pod.family, socket.SOCK_DGRAM)
        else:
            proto = socket.IPPROTO_TCP if protocol == "TCP" else _IPPROTO_SCTP
            sock = socket.socket(pod.family, socket.SOCK_STREAM, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((pod.ip, port))
        sock.setblocking(False)
        if protocol != "UDP":
            sock.listen(_LISTEN_BACKLOG)
            self._watch(sock, _ACCEPT, pod)
        else:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RAW_BUFFER)
            self._watch(sock, _ECHO, pod)

    @staticmethod
    def _on_accept(sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # the client reset the connection before we got to it
                continue
            conn.close()

    @staticmethod
    def _on_echo(sock: socket.socket) -> None:
        while True:
            try:
                data, peer = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            with contextlib.suppress(OSError):
                sock.sendto(data, peer)

    # ---- answers to probes ---------------------------------------------------------------

    def _on_raw_tcp(self, pod: _Pod, sock: socket.socket) -> None:
        v4 = pod.family == socket.AF_INET
        while True:
            try:
                data, peer = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            if v4:
                offset = (data[0] & 0x0F) * 4
                source = data[12:16]
            else:
                offset = 0
                source = socket.inet_pton(socket.AF_INET6, peer[0].split("%")[0])
            if len(data) < offset + 14:
                continue
            sport, dport, _, ack = struct.unpack_from("!HHII", data, offset)
            probe = self.pending.get((pod.index, _TCP, source, sport, dport))
            if probe is None or ack != (probe.seq + 1) & 0xFFFFFFFF:
                continue
            if data[offset + 13] & _SYN_ACK == _SYN_ACK:
                self._finish(probe, 0)
            else:
                self._finish(probe, 1)

    def _on_raw_sctp(self, pod: _Pod, sock: socket.socket) -> None:
        while True:
            try:
                data, peer = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            if pod.family == socket.AF_INET:
                header = (data[0] & 0x0F) * 4
                source, data = data[12:16], data[header:]
            else:
                source = socket.inet_pton(socket.AF_INET6, peer[0].split("%")[0])
            packet = sctp.parse_packet(data)
            if packet is None:
                continue
            if packet.chunk_type == sctp.CHUNK_INIT:
                if not self.kernel_sctp:  # where the kernel has SCTP, it answers for itself
                    self._answer_init(pod, sock, peer[0], packet)
                continue
            if packet.chunk_type not in (sctp.CHUNK_INIT_ACK, sctp.CHUNK_ABORT):
                continue
            probe = self.pending.get((pod.index, _SCTP, source, packet.src_port, packet.dst_port))
            if probe is None or packet.vtag != probe.seq:
                continue
            if packet.chunk_type == sctp.CHUNK_INIT_ACK:
                # Close the half-open association so that conntrack forgets it at once.
                abort = sctp.abort_packet(packet.dst_port, packet.src_port, packet.initiate_tag)
                with contextlib.suppress(OSError):
                    sock.sendto(abort, (peer[0], 0))
                self._finish(probe, 0)
            else:
                self._finish(probe, 1)

    @staticmethod
    def _answer_init(pod: _Pod, sock: socket.socket, peer: str, init: sctp.SctpPacket) -> None:
        if (init.dst_port, _SCTP) in pod.served:
            reply = sctp.init_ack_packet(init, random.getrandbits(32) | 1, random.getrandbits(32))
        else:  # RFC 9260 8.4: an out-of-the-blue INIT is answered with ABORT, tag = its tag
            reply = sctp.abort_packet(init.dst_port, init.src_port, init.initiate_tag)
        with contextlib.suppress(OSError):
            sock.sendto(reply, (peer, 0))

    def _on_udp_probe(self, pod: _Pod, sock: socket.socket) -> None:
        family = pod.family
        while True:
            try:
                data, peer = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            source = socket.inet_pton(family, peer[0].split("%")[0])
            probe = self.pending.get((pod.index, _UDP, source, peer[1], pod.udp_port))
            if probe is not None and data == probe.payload:
                self._finish(probe, 0)

    def _on_icmp(self, pod: _Pod, sock: socket.socket) -> None:
        while True:
            try:
                data = sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            with contextlib.suppress(struct.error, IndexError):
                self._icmp_error(pod, data)

    def _icmp_error(self, pod: _Pod, data: bytes) -> None:
        """Map an ICMP error quoting one of the pod's probes to that probe's result."""
        if pod.family == socket.AF_INET:
            outer = (data[0] & 0x0F) * 4
            detail = _icmp4_detail(data[outer], data[outer + 1])
            inner = outer + 8
            quoted = data[inner + 9]
            destination = data[inner + 16 : inner + 20]
            transport = inner + (data[inner] & 0x0F) * 4
        else:
            detail = _icmp6_detail(data[0], data[1])
            inner = 8
            quoted = data[inner + 6]
            destination = data[inner + 24 : inner + 40]
            transport = inner + 40
        protocol = _QUOTED.get(quoted)
        if detail is None or protocol is None:
            return
        src_port, dst_port = struct.unpack_from("!HH", data, transport)
        probe = self.pending.get((pod.index, protocol, destination, dst_port, src_port))
        if probe is not None:
            self._finish(probe, _CODE[detail])

    # ---- probes --------------------------------------------------------------------------

    def _on_control(self) -> None:
        try:
            chunk = self.control.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return
        if not chunk:
            self.stopped = True
            return
        for message in self.reader.feed(chunk):
            if message[0] == "probe":
                _, batch_id, batch = message
                state = _Batch(batch)
                self.batches[batch_id] = state
                self.results[batch_id] = (array("q"), array("B"), array("f"), {})
                if state.remaining == 0:
                    self.done.append(batch_id)
            elif message[0] == "stop":
                self.stopped = True

    def _start_queued(self) -> None:
        """Start probes up to each batch's share of in-flight probes, oldest batch first."""
        for batch_id, batch in self.batches.items():
            room = batch.in_flight - len(self.pending)
            if room <= 0:
                return
            if batch.exhausted:
                continue
            for index, src, dst, port, protocol in batch.take(room):
                self._start(batch_id, batch, index, src, dst, port, protocol)

    def _start(
        self, batch_id: int, batch: _Batch, index: int, src: int, dst: int, port: int, proto: int
    ) -> None:
        pod = self.pods.get(src)
        if pod is None:
            self._result(batch_id, index, ERROR_CODE, 0.0, f"error: pod #{src} is not here")
            return
        address = batch.addresses[dst]
        target = batch.packed.get(dst)
        if target is None:
            try:
                packed = ipaddress.ip_address(address).packed
            except ValueError:
                packed = b""
            target = batch.packed[dst] = (packed, _word_sum(packed) if len(packed) == 4 else 0)
        packed, dst_sum = target
        if len(packed) != len(pod.packed):
            detail = f"error: {address!r} is not an address of the pod's family"
            self._result(batch_id, index, ERROR_CODE, 0.0, detail)
            return
        probe = _Probe(batch_id, index, pod, address, port, proto)
        if proto == _UDP:
            probe.key = (pod.index, _UDP, packed, port, pod.udp_port)
            if probe.key in self.pending:  # the same probe twice at once: wait for the first
                self.waiting.append(probe)
                return
            probe.payload = b"netpolicy-lab " + os.urandom(8)
        elif proto == _TCP:
            sport = pod.source_port(_TCP)
            probe.key = (pod.index, _TCP, packed, port, sport)
            probe.seq = random.getrandbits(32)
            probe.payload = tcp_syn(pod.sum, dst_sum, sport, port, probe.seq)
        elif proto == _SCTP:
            sport = pod.source_port(_SCTP)
            probe.key = (pod.index, _SCTP, packed, port, sport)
            probe.seq = random.getrandbits(32) | 1
            probe.payload = sctp.init_packet(sport, port, probe.seq, probe.seq)
        else:
            self._result(batch_id, index, ERROR_CODE, 0.0, f"error: protocol #{proto}")
            return
        now = time.monotonic()
        probe.start = now
        probe.deadline = now + batch.timeout
        self.pending[probe.key] = probe
        self._send(probe, now, batch.timeout / 3)

    def _send(self, probe: _Probe, now: float, every: float) -> None:
        """(Re)send the probe's packet; a lost one is sent again before the deadline."""
        pod = probe.pod
        try:
            if probe.protocol == _TCP:
                pod.tcp.sendto(probe.payload, (probe.dst, 0))
            elif probe.protocol == _UDP:
                pod.udp.sendto(probe.payload, (probe.dst, probe.port))
            else:
                pod.sctp.sendto(probe.payload, (probe.dst, 0))
        except BlockingIOError:
            pass
        except OSError as exc:
            detail = _errno_detail(exc.errno or 0)
            self._finish(probe, _CODE.get(detail, ERROR_CODE), detail)
            return
        self.timers.append((min(now + every, probe.deadline), probe))

    def _finish(self, probe: _Probe, code: int, detail: str = "") -> None:
        if self.pending.get(probe.key) is not probe:
            return  # already finished
        del self.pending[probe.key]
        self._result(probe.batch, probe.index, code, time.monotonic() - probe.start, detail)

    def _result(self, batch_id: int, index: int, code: int, took: float, detail: str) -> None:
        indices, codes, seconds, errors = self.results[batch_id]
        indices.append(index)
        codes.append(code)
        seconds.append(took)
        if code == ERROR_CODE:
            errors[index] = detail
        batch = self.batches[batch_id]
        batch.remaining -= 1
        if batch.remaining == 0:
            self.done.append(batch_id)

    def _timers(self) -> None:
        """Expire and resend the probes that are due (the queue is in time order)."""
        now = time.monotonic()
        timers = self.timers
        while timers and timers[0][0] <= now:
            _, probe = timers.popleft()
            if self.pending.get(probe.key) is not probe:
                continue
            if probe.deadline <= now:
                self._finish(probe, _CODE[TIMEOUT])
            else:
                self._send(probe, now, self.batches[probe.batch].timeout / 3)
        while self.waiting and self.waiting[0].key not in self.pending:
            probe = self.waiting.popleft()
            batch = self.batches[probe.batch]
            probe.payload = b"netpolicy-lab " + os.urandom(8)
            probe.start = now
            probe.deadline = now + batch.timeout
            self.pending[probe.key] = probe
            self._send(probe, now, batch.timeout / 3)

    def _next_timer(self) -> float:
        """Seconds until a probe is next due (at most one: the control socket wakes us too)."""
        if self.waiting:
            return 0.01
        if not self.timers:
            return 1.0
        return min(max(self.timers[0][0] - time.monotonic(), 0.0), 1.0)

    def _flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if not (force or self.done or now - self.last_flush >= _FLUSH_EVERY):
            full = any(len(rows[0]) >= _FLUSH_ROWS for rows in self.results.values())
            if not full:
                return
        self.last_flush = now
        for batch_id, (indices, codes, seconds, errors) in self.results.items():
            if indices:
                message = (
                    "results",
                    batch_id,
                    indices.tobytes(),
                    codes.tobytes(),
                    seconds.tobytes(),
                    dict(errors),
                )
                send_msg(self.control, message)
                self.results[batch_id] = (array("q"), array("B"), array("f"), {})
        for batch_id in self.done:
            send_msg(self.control, ("done", batch_id))
            del self.batches[batch_id], self.results[batch_id]
        self.done.clear()

    def run(self) -> None:
        """Serve and probe until the lab closes the control socket or says stop."""
        handlers = self.handlers
        while not self.stopped:
            self._timers()
            self._start_queued()
            self._flush()
            for fd, _ in self.epoll.poll(self._next_timer()):
                kind, pod, sock = handlers[fd]
                if kind == _RAW_TCP:
                    self._on_raw_tcp(pod, sock)
                elif kind == _ICMP:
                    self._on_icmp(pod, sock)
                elif kind == _UDP_PROBE:
                    self._on_udp_probe(pod, sock)
                elif kind == _RAW_SCTP:
                    self._on_raw_sctp(pod, sock)
                elif kind == _ECHO:
                    self._on_echo(sock)
                elif kind == _ACCEPT:
                    self._on_accept(sock)
                else:
                    self._on_control()


# ---- the lab's side ----------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class PodWorker:
    """The lab's handle on one forked worker and the pods it hosts."""

    pods: tuple[str, ...]
    pid: int
    sock: socket.socket
    reader: FrameReader = field(default_factory=FrameReader)
    reaped: bool = False

    @property
    def key(self) -> str:
        """The worker's first pod, to name it in messages."""
        return self.pods[0] if self.pods else "-"

    def send(self, message: Any) -> None:
        send_msg(self.sock, message)

    def receive(self) -> list[Any]:
        """Whatever whole messages have arrived (blocks only until some bytes do)."""
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError(f"the worker of pods {self.key}... has exited")
        return self.reader.feed(chunk)


def _setup_pod(setup: WorkerSetup) -> None:
    """Finish the pod side of the network: addresses, routes, neighbours, sysctls."""
    enter_netns(setup.netns)
    done = subprocess.run(
        ["ip", "-batch", "-"], input=setup.ip_batch, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise LabError(f"ip -batch failed: {done.stderr.strip()}")
    write_sysctls(setup.sysctls)


def _worker_main(setups: Sequence[WorkerSetup], control: socket.socket) -> NoReturn:
    code = 0
    current = ""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the lab's to handle
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        die_with_parent()
        try:
            _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            random.seed()  # not the lab's random state, which every fork would share
            engine = PodEngine(control)
            for ready, setup in enumerate(setups, 1):
                current = setup.key
                _setup_pod(setup)
                engine.add_pod(setup)
                if ready % 50 == 0 or ready == len(setups):
                    send_msg(control, ("ready", ready))
            current = ""
        except Exception as exc:
            where = f"pod {current}: " if current else ""
            send_msg(control, ("error", f"{where}{type(exc).__name__}: {exc}"))
            raise
        if not setups:
            send_msg(control, ("ready", 0))
        try:
            engine.run()
        except Exception as exc:
            with contextlib.suppress(OSError):
                send_msg(control, ("error", f"a pod worker failed: {type(exc).__name__}: {exc}"))
            raise
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def worker_count(pods: int) -> int:
    """How many worker processes serve `pods` pods: one per CPU, at most one per pod."""
    return max(1, min(pods, os.cpu_count() or 1))


def fork_workers(groups: Iterable[Sequence[WorkerSetup]], started: list[PodWorker]) -> None:
    """Fork one worker per group of pods into `started` (filled as it goes, for teardown)."""
    parent_ends: list[socket.socket] = [w.sock for w in started]
    for setups in groups:
        parent_end, child_end = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            try:
                parent_end.close()
                for sock in parent_ends:  # so EOF reaches each worker when the lab closes
                    sock.close()
            finally:
                _worker_main(setups, child_end)
        child_end.close()
        parent_ends.append(parent_end)
        started.append(PodWorker(tuple(s.key for s in setups), pid, parent_end))


def wait_ready(
    workers: Sequence[PodWorker],
    *,
    on_ready: Callable[[int], None] | None = None,
    timeout: float = 120.0,
) -> None:
    """Block until every worker has set up all its pods; `LabError` with the first failure.

    `on_ready(pods)` is told how many pods are ready so far, across all workers.
    """
    waiting = {w.sock.fileno(): w for w in workers}
    ready: dict[int, int] = {}
    deadline = time.monotonic() + timeout
    with select.epoll() as poller:
        for fd in waiting:
            poller.register(fd, select.EPOLLIN)
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                pending = ", ".join(sorted(w.key for w in waiting.values())[:5])
                raise LabError(f"pod workers did not start within {timeout:.0f} s: {pending}")
            for fd, _ in poller.poll(min(left, 1.0)):
                worker = waiting[fd]
                try:
                    messages = worker.receive()
                except (EOFError, OSError) as exc:
                    raise LabError(f"the worker of pod {worker.key} died while starting") from exc
                for message in messages:
                    if message[0] == "error":
                        raise LabError(f"could not start {message[1]}")
                    if message[0] == "ready":
                        ready[fd] = int(message[1])
                        if on_ready is not None:
                            on_ready(sum(ready.values()))
                        if ready[fd] == len(worker.pods):
                            poller.unregister(fd)
                            del waiting[fd]
                            break


def stop_workers(workers: Iterable[PodWorker]) -> None:
    """Kill and reap every worker (they hold no state worth a polite goodbye)."""
    workers = [w for w in workers if not w.reaped]  # a reaped pid may belong to someone else
    for worker in workers:
        with contextlib.suppress(OSError):
            worker.sock.close()
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, signal.SIGKILL)
    for worker in workers:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(worker.pid, 0)
        worker.reaped = True
