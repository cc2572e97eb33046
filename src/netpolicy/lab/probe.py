"""Real packets between lab pods: each source pod's worker runs its probes concurrently.

What "connected" means, per protocol:
- TCP: the three-way handshake completed (a RST or ICMP error, or no answer in time, fails);
- UDP: the datagram came back from the destination's echo server;
- SCTP: an INIT sent from a raw socket was answered with INIT-ACK (the kernel here has no SCTP
  sockets; see `servers`), an ABORT means "refused". On a kernel with SCTP sockets, the
  association was set up as for TCP. `Lab.sctp_probe_method` says which, for the output.
`detail` is one of connected, refused, prohibited, unreachable, timeout, or `error: ...`.
"""

from __future__ import annotations

import itertools
import math
import os
import selectors
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netpolicy.lab.errors import LabError
from netpolicy.lab.servers import TIMEOUT
from netpolicy.lab.topology import LAB_PROTOCOLS, LabProtocol, Progress

if TYPE_CHECKING:
    from netpolicy.lab.topology import Lab

DEFAULT_TIMEOUT = 1.0
DEFAULT_RETRIES = 1
# Probes in flight across all pods. Every answer needs the destination's worker to run, so
# more in flight than the CPUs can serve turns overload into false timeouts (seen at 100
# pods on 2 CPUs with 8192 in flight; none with 512).
DEFAULT_IN_FLIGHT = max(256, min(4096, 256 * (os.cpu_count() or 1)))
_MAX_IN_FLIGHT_PER_POD = 512
_batch_ids = itertools.count(1)

Row = tuple[bool, str, float]


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


def probe_all(
    lab: Lab,
    probes: list[Probe],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    in_flight: int = DEFAULT_IN_FLIGHT,
    progress: Progress | None = None,
) -> list[ProbeResult]:
    """Run every probe; results come back in the order of `probes`.

    Every source pod probes at once, sharing `in_flight` outstanding probes (at most 512
    each); a probe with no answer fails as "timeout" after `timeout` seconds. Timed-out
    probes are tried again up to `retries` times, fewer at once, so that a "timeout" means
    the packets were dropped, not that the machine was busy. Progress phase: "probes".
    """
    lab._require_up()
    started = time.monotonic()
    for index, probe in enumerate(probes):
        if probe.src_key not in lab.pods:
            raise LabError(f"probe #{index}: no pod {probe.src_key!r} in this lab")
        if probe.protocol not in LAB_PROTOCOLS:
            raise LabError(f"probe #{index}: protocol {probe.protocol!r} is not TCP, UDP or SCTP")
        if not 1 <= probe.port <= 65535:
            raise LabError(f"probe #{index}: port {probe.port} is not in 1-65535")
    rows: list[Row | None] = [None] * len(probes)
    total = len(probes)
    finished = 0

    def report(count: int) -> None:
        nonlocal finished
        finished += count
        if progress is not None:
            progress("probes", finished, total)

    report(0)
    todo = list(range(len(probes)))
    for attempt in range(max(0, retries) + 1):
        if attempt:
            in_flight = max(1, in_flight // 4)
        _run_round(lab, probes, todo, rows, timeout, in_flight, report if attempt == 0 else None)
        todo = [i for i in todo if (row := rows[i]) is not None and row[1] == TIMEOUT]
        if not todo:
            break
    lab.timings["probes"] = time.monotonic() - started
    results = []
    for probe, row in zip(probes, rows, strict=True):
        if row is None:  # cannot happen unless a worker lost a probe
            raise LabError(f"no result for probe {probe}")
        results.append(ProbeResult(probe, *row))
    return results


def _run_round(
    lab: Lab,
    probes: list[Probe],
    todo: list[int],
    rows: list[Row | None],
    timeout: float,
    in_flight: int,
    report: Callable[[int], None] | None,
) -> None:
    """Send each source pod its share of `todo`; fill `rows` as results arrive."""
    by_source: dict[str, list[tuple[int, str, int, str]]] = defaultdict(list)
    for index in todo:
        probe = probes[index]
        by_source[probe.src_key].append((index, probe.dst_ip, probe.port, probe.protocol))
    if not by_source:
        return
    per_pod = max(1, min(_MAX_IN_FLIGHT_PER_POD, in_flight // len(by_source)))
    longest = max(len(items) for items in by_source.values())
    deadline = time.monotonic() + timeout * (math.ceil(longest / per_pod) + 2) + 30.0
    batch = next(_batch_ids)
    waiting = {}
    for src_key, items in by_source.items():
        worker = lab.workers[src_key]
        try:
            worker.send(("probe", batch, items, timeout, per_pod))
        except OSError as exc:
            raise LabError(f"the worker of pod {src_key} is gone ({exc})") from exc
        waiting[src_key] = worker

    with selectors.DefaultSelector() as selector:
        for worker in waiting.values():
            selector.register(worker.sock, selectors.EVENT_READ, worker)
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LabError(
                    f"probes did not finish in time; still waiting for {len(waiting)} pods"
                )
            for key, _ in selector.select(min(left, 1.0)):
                worker = key.data
                try:
                    messages = worker.receive()
                except (EOFError, OSError) as exc:
                    raise LabError(f"the worker of pod {worker.key} died while probing") from exc
                for message in messages:
                    kind = message[0]
                    if kind == "results" and message[1] == batch:
                        for index, connected, detail, took in message[2]:
                            rows[index] = (connected, detail, took)
                        if report is not None:
                            report(len(message[2]))
                    elif kind == "done" and message[1] == batch:
                        selector.unregister(worker.sock)
                        del waiting[worker.key]
                    elif kind == "error":
                        raise LabError(str(message[1]))
