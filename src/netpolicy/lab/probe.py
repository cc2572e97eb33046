"""Real packets between lab pods: each worker sends its pods' probes, many at once.

What "connected" means, per protocol (see `servers` for how):
- TCP: the destination answered the SYN with SYN-ACK (its listening socket took the
  connection; nftables decides on the SYN, everything after it is "established");
- UDP: the datagram came back from the destination's echo server;
- SCTP: the destination answered the INIT with INIT-ACK (this kernel has no SCTP sockets; the
  lab speaks the first step of the handshake from raw sockets). `Lab.sctp_probe_method` says
  so, for the output.
`detail` is one of connected, refused, prohibited, unreachable, timeout, or `error: ...`.

`probe_columns` runs probes given as columns (what `lab verify` needs for millions of them);
`probe_all` runs a list of `Probe`s.
"""

from __future__ import annotations

import itertools
import math
import os
import select
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from netpolicy.lab.errors import LabError
from netpolicy.lab.servers import (
    DETAILS,
    ERROR_CODE,
    PROTOCOL_CODES,
    TIMEOUT,
    PodWorker,
    ProbeBatch,
)
from netpolicy.lab.topology import LAB_PROTOCOLS, LabProtocol, Progress

if TYPE_CHECKING:
    from netpolicy.lab.topology import Lab

DEFAULT_TIMEOUT = 1.0
DEFAULT_RETRIES = 1
# Probes in flight across all workers. Every answer needs the destination's worker (UDP,
# SCTP) or kernel (TCP) to keep up: far more in flight than the CPUs serve turns overload
# into false timeouts.
DEFAULT_IN_FLIGHT = max(512, min(4096, 512 * (os.cpu_count() or 1)))
_SEED = 20261201  # the order in which a worker sends its probes: fixed, and spread out
_batch_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Probe:
    """One attempt to reach `dst_ip:port/protocol` from pod `src_key` (`dst_key` is a label)."""

    src_key: str
    dst_key: str
    dst_ip: str
    port: int
    protocol: LabProtocol


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What the packets said: `connected`, why not (`detail`), and how long it took (s)."""

    probe: Probe
    connected: bool
    detail: str
    elapsed: float


@dataclass(slots=True)
class ProbeColumns:
    """Probes as columns: source pod (its index in the lab), destination address, port,
    protocol (`PROTOCOL_CODES`). Row i is probe i."""

    src: NDArray[np.int32]
    dst: NDArray[np.int32]
    """An index into `addresses`."""
    port: NDArray[np.int32]
    protocol: NDArray[np.uint8]
    addresses: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.src)


@dataclass(slots=True)
class ProbeOutcomes:
    """What the packets said, per probe: a code (an index into `DETAILS`, or `ERROR_CODE`
    with its text in `errors`) and the seconds it took."""

    code: NDArray[np.uint8]
    elapsed: NDArray[np.float32]
    errors: dict[int, str] = field(default_factory=dict)

    def detail(self, index: int) -> str:
        code = int(self.code[index])
        return DETAILS[code] if code < len(DETAILS) else self.errors.get(index, "error")

    @property
    def connected(self) -> NDArray[np.bool_]:
        return self.code == 0  # type: ignore[no-any-return]


def probe_all(
    lab: Lab,
    probes: list[Probe],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    in_flight: int = DEFAULT_IN_FLIGHT,
    progress: Progress | None = None,
) -> list[ProbeResult]:
    """Run every probe; results come back in the order of `probes` (see `probe_columns`)."""
    lab._require_up()
    addresses: dict[str, int] = {}
    for index, probe in enumerate(probes):
        if probe.src_key not in lab.pods:
            raise LabError(f"probe #{index}: no pod {probe.src_key!r} in this lab")
        if probe.protocol not in LAB_PROTOCOLS:
            raise LabError(f"probe #{index}: protocol {probe.protocol!r} is not TCP, UDP or SCTP")
        if not 1 <= probe.port <= 65535:
            raise LabError(f"probe #{index}: port {probe.port} is not in 1-65535")
        addresses.setdefault(probe.dst_ip, len(addresses))
    columns = ProbeColumns(
        np.array([lab.pod_index(p.src_key) for p in probes], dtype=np.int32),
        np.array([addresses[p.dst_ip] for p in probes], dtype=np.int32),
        np.array([p.port for p in probes], dtype=np.int32),
        np.array([PROTOCOL_CODES[p.protocol] for p in probes], dtype=np.uint8),
        tuple(addresses),
    )
    outcomes = probe_columns(
        lab, columns, timeout=timeout, retries=retries, in_flight=in_flight, progress=progress
    )
    return [
        ProbeResult(probe, code == 0, outcomes.detail(i), float(took))
        for i, (probe, code, took) in enumerate(
            zip(probes, outcomes.code.tolist(), outcomes.elapsed.tolist(), strict=True)
        )
    ]


def probe_columns(
    lab: Lab,
    probes: ProbeColumns,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    in_flight: int = DEFAULT_IN_FLIGHT,
    progress: Progress | None = None,
) -> ProbeOutcomes:
    """Run every probe; outcome i is probe i's.

    Every worker sends its pods' probes at once, sharing `in_flight` outstanding probes; a
    probe with no answer fails as "timeout" after `timeout` seconds (its packet is sent
    three times meanwhile). Timed-out probes are tried again up to `retries` times, fewer at
    once, so that a "timeout" means the packets were dropped, not that the machine was busy.
    Progress phase: "probes".
    """
    lab._require_up()
    total = len(probes)
    if total and not 0 <= int(probes.src.min()) <= int(probes.src.max()) < len(lab.spec.pods):
        raise LabError("a probe's source is not a pod of this lab")
    outcomes = ProbeOutcomes(
        np.full(total, ERROR_CODE, dtype=np.uint8), np.zeros(total, dtype=np.float32)
    )
    started = time.monotonic()
    finished = 0

    def report(count: int) -> None:
        nonlocal finished
        finished += count
        if progress is not None:
            progress("probes", finished, total)

    report(0)
    todo = np.arange(total, dtype=np.int64)
    for attempt in range(max(0, retries) + 1):
        if attempt:
            in_flight = max(1, in_flight // 4)
        _run_round(lab, probes, todo, outcomes, timeout, in_flight, report if not attempt else None)
        todo = todo[outcomes.code[todo] == DETAILS.index(TIMEOUT)]
        if not len(todo):
            break
    lab.timings["probes"] = time.monotonic() - started
    return outcomes


def _run_round(
    lab: Lab,
    probes: ProbeColumns,
    todo: NDArray[np.int64],
    outcomes: ProbeOutcomes,
    timeout: float,
    in_flight: int,
    report: Callable[[int], None] | None,
) -> None:
    """Send each worker the probes of its pods among `todo`; fill `outcomes` as they come."""
    if not len(todo):
        return
    workers = lab.processes
    owner = np.empty(len(lab.spec.pods), dtype=np.int32)
    for number, worker in enumerate(workers):
        owner[[lab.pod_index(key) for key in worker.pods]] = number
    by_worker = owner[probes.src[todo]]
    # A fixed shuffle: each worker's probes go to every destination at once, not pod by pod.
    order = np.random.default_rng(_SEED).permutation(len(todo))
    shuffled = todo[order]
    mine = by_worker[order]
    share = max(1, in_flight // len(workers))
    batch_id = next(_batch_ids)
    waiting: dict[int, PodWorker] = {}
    longest = 0
    for number, worker in enumerate(workers):
        rows = shuffled[mine == number]
        batch = ProbeBatch(
            rows,
            probes.src[rows],
            probes.dst[rows],
            probes.port[rows],
            probes.protocol[rows],
            probes.addresses,
            timeout,
            share,
        )
        try:
            worker.send(("probe", batch_id, batch))
        except OSError as exc:
            raise LabError(f"the worker of pod {worker.key} is gone ({exc})") from exc
        waiting[worker.sock.fileno()] = worker
        longest = max(longest, len(rows))
    # Generous: a worker sends about `share` probes per round trip; the time out only guards
    # against a worker that stopped answering.
    deadline = time.monotonic() + timeout * (math.ceil(longest / share) + 2) + 60.0
    with select.epoll() as poller:
        for fd in waiting:
            poller.register(fd, select.EPOLLIN)
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LabError(
                    f"probes did not finish in time; still waiting for {len(waiting)} workers"
                )
            for fd, _ in poller.poll(min(left, 1.0)):
                worker = waiting[fd]
                try:
                    messages = worker.receive()
                except (EOFError, OSError) as exc:
                    raise LabError(f"the worker of pod {worker.key} died while probing") from exc
                for message in messages:
                    kind = message[0]
                    if kind == "results" and message[1] == batch_id:
                        rows = np.frombuffer(message[2], dtype=np.int64)
                        outcomes.code[rows] = np.frombuffer(message[3], dtype=np.uint8)
                        outcomes.elapsed[rows] = np.frombuffer(message[4], dtype=np.float32)
                        for row, detail in message[5].items():
                            outcomes.errors[int(row)] = detail
                        if report is not None:
                            report(len(rows))
                    elif kind == "done" and message[1] == batch_id:
                        poller.unregister(fd)
                        del waiting[fd]
                    elif kind == "error":
                        raise LabError(str(message[1]))


def protocol_code(protocol: str) -> int:
    """The code of TCP, UDP or SCTP in `ProbeColumns.protocol`."""
    return PROTOCOL_CODES[protocol]


__all__ = [
    "DEFAULT_IN_FLIGHT",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "Probe",
    "ProbeColumns",
    "ProbeOutcomes",
    "ProbeResult",
    "probe_all",
    "probe_columns",
    "protocol_code",
]
