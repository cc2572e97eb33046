"""Pod workers: one forked process per pod namespace, serving its ports and running its probes.

A worker enters its pod's namespace with `setns()` (no `ip netns exec` per probe), finishes
the pod side of the network, then runs one event loop that both serves and probes:

- TCP: a listener per declared port that accepts and closes;
- UDP: a socket per declared port that echoes each datagram back;
- SCTP: the kernel has no SCTP sockets here, so a raw IPPROTO_SCTP socket answers an INIT to a
  declared port with INIT-ACK and to any other port with ABORT (what a kernel does for a closed
  port), and the prober sends INIT and waits for INIT-ACK; raw ICMP sockets catch the
  unreachables an SCTP probe provokes;
- probes: non-blocking sockets, many in flight, each with a deadline.

Messages on the control socket (pickled frames, see `_ipc`):
  parent → worker  ("probe", batch, [(index, ip, port, protocol), ...], timeout, in_flight)
  worker → parent  ("ready", None) | ("error", text)
                   ("results", batch, [(index, connected, detail, seconds), ...])
                   ("done", batch)
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import random
import resource
import selectors
import signal
import socket
import struct
import subprocess
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from netpolicy.lab import sctp
from netpolicy.lab._ipc import FrameReader, send_msg
from netpolicy.lab._netns import die_with_parent, enter_netns, write_sysctls
from netpolicy.lab.errors import LabError

_IPPROTO_SCTP = 132
_IPV6_RECVERR = 25  # not in Python's socket module
_STREAM_PROTO = {"TCP": socket.IPPROTO_TCP, "SCTP": _IPPROTO_SCTP}
_RAW_BUFFER = 4 << 20
_LISTEN_BACKLOG = 4096

CONNECTED = "connected"
REFUSED = "refused"
PROHIBITED = "prohibited"
UNREACHABLE = "unreachable"
TIMEOUT = "timeout"

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
    so the raw responder would race it: workers then serve and probe with kernel sockets.
    """
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, _IPPROTO_SCTP).close()
    except OSError:
        return False
    return True


def _packed(ip: str) -> bytes:
    return ipaddress.ip_address(ip).packed


@dataclass(slots=True, eq=False)
class _Probe:
    """One probe in flight in a worker."""

    batch: int
    index: int
    ip: str
    port: int
    protocol: str
    family: int
    start: float
    deadline: float
    resend_at: float = float("inf")
    resend_every: float = float("inf")
    sock: socket.socket | None = None
    payload: bytes = b""
    sctp_key: tuple[bytes, int, int] | None = None
    sctp_tag: int = 0


@dataclass(slots=True)
class _Batch:
    remaining: int
    timeout: float
    in_flight: int
    queue: deque[tuple[int, str, int, str]] = field(default_factory=deque)


class PodEngine:
    """The event loop of one pod worker: its servers and its probes, in its own namespace."""

    def __init__(self, ip: str, ports: Iterable[tuple[int, str]], control: socket.socket) -> None:
        self.ip = ip
        self.family = socket.AF_INET6 if ipaddress.ip_address(ip).version == 6 else socket.AF_INET
        self.control = control
        self.reader = FrameReader()
        self.selector = selectors.DefaultSelector()
        self.sctp_ports: set[int] = set()
        self.stopped = False
        self.batches: dict[int, _Batch] = {}
        self.active: list[int] = []  # batch ids with queued probes, oldest first
        self.probes: dict[int, _Probe] = {}  # id(probe) -> probe
        self.sctp_pending: dict[tuple[bytes, int, int], _Probe] = {}
        self.results: dict[int, list[tuple[int, bool, str, float]]] = {}
        self.done: list[int] = []
        self.sctp_port_cursor = random.randrange(32768, 61000)
        self.kernel_sctp = kernel_has_sctp()
        self.selector.register(control, selectors.EVENT_READ, self._on_control)
        for port, protocol in sorted(set(ports)):
            self._serve(port, protocol)
        self.raw: dict[int, socket.socket] = {}
        for family, icmp_proto in (
            (socket.AF_INET, socket.IPPROTO_ICMP),
            (socket.AF_INET6, socket.IPPROTO_ICMPV6),
        ):
            raw = socket.socket(family, socket.SOCK_RAW, _IPPROTO_SCTP)
            icmp = socket.socket(family, socket.SOCK_RAW, icmp_proto)
            for sock in (raw, icmp):
                sock.setblocking(False)
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RAW_BUFFER)
            self.raw[family] = raw
            self.selector.register(raw, selectors.EVENT_READ, self._on_sctp)
            self.selector.register(icmp, selectors.EVENT_READ, self._on_icmp)

    # ---- servers -------------------------------------------------------------------------

    def _serve(self, port: int, protocol: str) -> None:
        if protocol == "SCTP" and not self.kernel_sctp:
            self.sctp_ports.add(port)
            return
        if protocol == "UDP":
            sock = socket.socket(self.family, socket.SOCK_DGRAM)
        else:
            sock = socket.socket(self.family, socket.SOCK_STREAM, _STREAM_PROTO[protocol])
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.ip, port))
        sock.setblocking(False)
        if protocol != "UDP":
            sock.listen(_LISTEN_BACKLOG)
            self.selector.register(sock, selectors.EVENT_READ, self._on_accept)
        else:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RAW_BUFFER)
            self.selector.register(sock, selectors.EVENT_READ, self._on_datagram)

    def _on_accept(self, sock: socket.socket, _mask: int) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # the prober reset the connection before we got to it
                continue
            conn.close()

    def _on_datagram(self, sock: socket.socket, _mask: int) -> None:
        while True:
            try:
                data, peer = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            with contextlib.suppress(OSError):
                sock.sendto(data, peer)

    def _on_sctp(self, sock: socket.socket, _mask: int) -> None:
        family = sock.family
        while True:
            try:
                data, peer = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            if family == socket.AF_INET:
                header = (data[0] & 0x0F) * 4
                source, data = data[12:16], data[header:]
            else:
                source = _packed(peer[0].split("%")[0])
            packet = sctp.parse_packet(data)
            if packet is None:
                continue
            if self.kernel_sctp:
                continue  # the kernel answers for itself
            if packet.chunk_type == sctp.CHUNK_INIT:
                self._answer_init(sock, peer[0], packet)
            elif packet.chunk_type in (sctp.CHUNK_INIT_ACK, sctp.CHUNK_ABORT):
                probe = self.sctp_pending.get((source, packet.src_port, packet.dst_port))
                if probe is None or packet.vtag != probe.sctp_tag:
                    continue
                if packet.chunk_type == sctp.CHUNK_INIT_ACK:
                    # Close the half-open association so conntrack forgets it at once.
                    abort = sctp.abort_packet(packet.dst_port, packet.src_port, packet.initiate_tag)
                    with contextlib.suppress(OSError):
                        sock.sendto(abort, (peer[0], 0))
                    self._finish(probe, True, CONNECTED)
                else:
                    self._finish(probe, False, REFUSED)

    def _answer_init(self, sock: socket.socket, peer: str, init: sctp.SctpPacket) -> None:
        if init.dst_port in self.sctp_ports:
            reply = sctp.init_ack_packet(init, random.getrandbits(32) | 1, random.getrandbits(32))
        else:  # RFC 9260 8.4: an out-of-the-blue INIT is answered with ABORT, tag = its tag
            reply = sctp.abort_packet(init.dst_port, init.src_port, init.initiate_tag)
        with contextlib.suppress(OSError):
            sock.sendto(reply, (peer, 0))

    def _on_icmp(self, sock: socket.socket, _mask: int) -> None:
        while True:
            try:
                data = sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            with contextlib.suppress(struct.error, IndexError):
                self._icmp_error(sock.family, data)

    def _icmp_error(self, family: int, data: bytes) -> None:
        """Map an ICMP error quoting one of our SCTP INITs to that probe's result."""
        if family == socket.AF_INET:
            outer = (data[0] & 0x0F) * 4
            detail = _icmp4_detail(data[outer], data[outer + 1])
            inner = outer + 8
            if data[inner + 9] != _IPPROTO_SCTP:
                return
            destination = data[inner + 16 : inner + 20]
            transport = inner + (data[inner] & 0x0F) * 4
        else:
            detail = _icmp6_detail(data[0], data[1])
            inner = 8
            if data[inner + 6] != _IPPROTO_SCTP:
                return
            destination = data[inner + 24 : inner + 40]
            transport = inner + 40
        if detail is None:
            return
        src_port, dst_port = struct.unpack_from("!HH", data, transport)
        probe = self.sctp_pending.get((destination, dst_port, src_port))
        if probe is not None:
            self._finish(probe, False, detail)

    # ---- probes --------------------------------------------------------------------------

    def _on_control(self, sock: socket.socket, _mask: int) -> None:
        try:
            chunk = sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return
        if not chunk:
            self.stopped = True
            return
        for message in self.reader.feed(chunk):
            if message[0] == "probe":
                _, batch_id, items, timeout, in_flight = message
                batch = _Batch(len(items), float(timeout), max(1, int(in_flight)), deque(items))
                self.batches[batch_id] = batch
                self.results[batch_id] = []
                if items:
                    self.active.append(batch_id)
                else:
                    self.done.append(batch_id)
            elif message[0] == "stop":
                self.stopped = True

    def _start_queued(self) -> None:
        for batch_id in list(self.active):
            batch = self.batches[batch_id]
            while batch.queue and len(self.probes) < batch.in_flight:
                index, ip, port, protocol = batch.queue.popleft()
                self._start(batch_id, batch.timeout, index, ip, port, protocol)
            if not batch.queue:
                self.active.remove(batch_id)

    def _start(
        self, batch_id: int, timeout: float, index: int, ip: str, port: int, protocol: str
    ) -> None:
        now = time.monotonic()
        try:
            family = socket.AF_INET6 if ipaddress.ip_address(ip).version == 6 else socket.AF_INET
        except ValueError:
            self._result(batch_id, index, False, f"error: bad address {ip!r}", 0.0)
            return
        probe = _Probe(batch_id, index, ip, port, protocol, family, now, now + timeout)
        self.probes[id(probe)] = probe
        try:
            if protocol == "TCP":
                self._start_tcp(probe)
            elif protocol == "UDP":
                self._start_udp(probe, timeout)
            elif protocol == "SCTP" and self.kernel_sctp:
                self._start_tcp(probe)  # same non-blocking connect, kernel SCTP underneath
            elif protocol == "SCTP":
                self._start_sctp(probe, timeout)
            else:
                self._finish(probe, False, f"error: unknown protocol {protocol!r}")
        except OSError as exc:
            self._finish(probe, False, _errno_detail(exc.errno or 0))

    def _start_tcp(self, probe: _Probe) -> None:
        sock = socket.socket(probe.family, socket.SOCK_STREAM, _STREAM_PROTO[probe.protocol])
        probe.sock = sock
        sock.setblocking(False)
        # Close with RST: no TIME_WAIT, and the router's conntrack entry dies at once.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if probe.family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_RECVERR, 1)
        code = sock.connect_ex((probe.ip, probe.port))
        if code == 0:
            self._finish(probe, True, CONNECTED)
        elif code == errno.EINPROGRESS:
            self.selector.register(sock, selectors.EVENT_WRITE, self._on_tcp(probe))
        else:
            self._finish(probe, False, _errno_detail(code))

    def _on_tcp(self, probe: _Probe) -> Callable[[socket.socket, int], None]:
        def ready(sock: socket.socket, _mask: int) -> None:
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            self._finish(probe, code == 0, CONNECTED if code == 0 else _errno_detail(code))

        return ready

    def _start_udp(self, probe: _Probe, timeout: float) -> None:
        sock = socket.socket(probe.family, socket.SOCK_DGRAM)
        probe.sock = sock
        sock.setblocking(False)
        sock.connect((probe.ip, probe.port))
        probe.payload = b"netpolicy-lab " + os.urandom(8)
        probe.resend_every = timeout / 3
        self.selector.register(sock, selectors.EVENT_READ, self._on_udp(probe))
        self._send(probe)

    def _on_udp(self, probe: _Probe) -> Callable[[socket.socket, int], None]:
        def ready(sock: socket.socket, _mask: int) -> None:
            try:
                data = sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._finish(probe, False, _errno_detail(exc.errno or 0))
                return
            if data == probe.payload:
                self._finish(probe, True, CONNECTED)

        return ready

    def _start_sctp(self, probe: _Probe, timeout: float) -> None:
        packed = _packed(probe.ip)
        for _ in range(65536):
            self.sctp_port_cursor = 32768 + (self.sctp_port_cursor - 32767) % 28232
            key = (packed, probe.port, self.sctp_port_cursor)
            if key not in self.sctp_pending:
                break
        probe.sctp_key = key
        probe.sctp_tag = random.getrandbits(32) | 1
        probe.payload = sctp.init_packet(key[2], probe.port, probe.sctp_tag, probe.sctp_tag)
        probe.resend_every = timeout / 3
        self.sctp_pending[key] = probe
        self._send(probe)

    def _send(self, probe: _Probe) -> None:
        """(Re)send a UDP datagram or SCTP INIT; lost ones are resent before the deadline."""
        probe.resend_at = time.monotonic() + probe.resend_every
        try:
            if probe.protocol == "UDP" and probe.sock is not None:
                probe.sock.send(probe.payload)
            else:
                self.raw[probe.family].sendto(probe.payload, (probe.ip, 0))
        except BlockingIOError:
            pass
        except OSError as exc:
            self._finish(probe, False, _errno_detail(exc.errno or 0))

    def _finish(self, probe: _Probe, connected: bool, detail: str) -> None:
        if self.probes.pop(id(probe), None) is None:
            return  # already finished
        if probe.sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(probe.sock)
            probe.sock.close()
        if probe.sctp_key is not None:
            self.sctp_pending.pop(probe.sctp_key, None)
        self._result(probe.batch, probe.index, connected, detail, time.monotonic() - probe.start)

    def _result(self, batch_id: int, index: int, connected: bool, detail: str, took: float) -> None:
        self.results[batch_id].append((index, connected, detail, took))
        batch = self.batches[batch_id]
        batch.remaining -= 1
        if batch.remaining == 0:
            self.done.append(batch_id)

    def _timers(self) -> None:
        """Expire and resend the probes that are due."""
        now = time.monotonic()
        for probe in list(self.probes.values()):
            if probe.deadline <= now:
                self._finish(probe, False, TIMEOUT)
            elif probe.resend_at <= now:
                self._send(probe)

    def _next_timer(self) -> float:
        """Seconds until a probe is next due (at most one: the control socket wakes us too)."""
        due = min((min(p.deadline, p.resend_at) for p in self.probes.values()), default=0.0)
        return min(max(due - time.monotonic(), 0.0), 1.0) if self.probes else 1.0

    def _flush(self) -> None:
        for batch_id, rows in self.results.items():
            if rows:
                send_msg(self.control, ("results", batch_id, rows))
                self.results[batch_id] = []
        for batch_id in self.done:
            send_msg(self.control, ("done", batch_id))
            del self.batches[batch_id], self.results[batch_id]
        self.done.clear()

    def run(self) -> None:
        """Serve and probe until the lab closes the control socket or says stop."""
        while not self.stopped:
            self._timers()
            self._start_queued()
            self._flush()  # before sleeping: finished probes must not wait for the next event
            for key, mask in self.selector.select(self._next_timer()):
                key.data(key.fileobj, mask)


# ---- the lab's side ----------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class PodWorker:
    """The lab's handle on one forked pod worker."""

    key: str
    pid: int
    sock: socket.socket
    reader: FrameReader = field(default_factory=FrameReader)
    reaped: bool = False

    def send(self, message: Any) -> None:
        send_msg(self.sock, message)

    def receive(self) -> list[Any]:
        """Whatever whole messages have arrived (blocks only until some bytes do)."""
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError(f"the worker of pod {self.key} has exited")
        return self.reader.feed(chunk)


@dataclass(frozen=True, slots=True)
class WorkerSetup:
    """What one worker needs: its pod, its namespace and the pod side of the network."""

    key: str
    netns: str
    ip: str
    ports: tuple[tuple[int, str], ...]
    ip_batch: str
    sysctls: Mapping[str, str]


def _worker_main(setup: WorkerSetup, control: socket.socket) -> NoReturn:
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the lab's to handle
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        die_with_parent()
        try:
            _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            enter_netns(setup.netns)
            done = subprocess.run(
                ["ip", "-batch", "-"],
                input=setup.ip_batch,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise LabError(f"ip -batch failed: {done.stderr.strip()}")
            write_sysctls(setup.sysctls)
            engine = PodEngine(setup.ip, setup.ports, control)
        except Exception as exc:
            send_msg(control, ("error", f"pod {setup.key}: {type(exc).__name__}: {exc}"))
            raise
        send_msg(control, ("ready", None))
        try:
            engine.run()
        except Exception as exc:
            with contextlib.suppress(OSError):
                send_msg(control, ("error", f"pod {setup.key}: {type(exc).__name__}: {exc}"))
            raise
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def fork_workers(setups: list[WorkerSetup], started: dict[str, PodWorker]) -> None:
    """Fork one worker per setup into `started` (filled as it goes, for teardown's sake)."""
    parent_ends: list[socket.socket] = [w.sock for w in started.values()]
    for setup in setups:
        parent_end, child_end = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            try:
                parent_end.close()
                for sock in parent_ends:  # so EOF reaches each worker when the lab closes
                    sock.close()
            finally:
                _worker_main(setup, child_end)
        child_end.close()
        parent_ends.append(parent_end)
        started[setup.key] = PodWorker(setup.key, pid, parent_end)


def wait_ready(
    workers: Mapping[str, PodWorker],
    *,
    on_ready: Callable[[int], None] | None = None,
    timeout: float = 120.0,
) -> None:
    """Block until every worker reports ready; `LabError` with the first failure otherwise."""
    waiting = {w.sock.fileno(): w for w in workers.values()}
    ready = 0
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        for worker in waiting.values():
            selector.register(worker.sock, selectors.EVENT_READ, worker)
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                pending = ", ".join(sorted(w.key for w in waiting.values())[:5])
                raise LabError(f"pod workers did not start within {timeout:.0f} s: {pending}")
            for key, _ in selector.select(left):
                worker = key.data
                try:
                    messages = worker.receive()
                except (EOFError, OSError) as exc:
                    raise LabError(f"the worker of pod {worker.key} died while starting") from exc
                for message in messages:
                    if message[0] == "error":
                        raise LabError(f"could not start {message[1]}")
                    if message[0] == "ready":
                        selector.unregister(worker.sock)
                        del waiting[worker.sock.fileno()]
                        ready += 1
                        if on_ready is not None:
                            on_ready(ready)


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
