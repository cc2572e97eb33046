"""The lab's network: a router namespace, one namespace per pod, a veth between each pod and it.

    pod namespace (one per pod)            router namespace
    eth0  <ip>/32 (or /128)  <--- veth --->  v<N>  169.254.1.1/32, fe80::1/64
    default via 169.254.1.1 (or fe80::1)     route <ip>/32 dev v<N>, ip_forward=1

Policies are enforced by the ruleset loaded into the router (`ruleset.apply_ruleset`), on the
forward hook, where every pod-to-pod packet passes. MAC addresses are fixed and neighbour
entries permanent on both sides: ARP would otherwise overflow the neighbour table that all
namespaces share (gc_thresh3 = 1024) once a lab holds about a thousand pods.

A lab only ever deletes what it recorded creating: names start with a per-lab prefix
(`np-` and a random id), and creation refuses to reuse a name that already exists.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import os
import re
import resource
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import FrameType, TracebackType
from typing import Literal

from netpolicy.lab._netns import existing_namespaces, run_in_netns, write_sysctls
from netpolicy.lab.errors import LabError
from netpolicy.lab.preflight import require_prerequisites
from netpolicy.lab.servers import (
    PodWorker,
    WorkerSetup,
    fork_workers,
    kernel_has_sctp,
    stop_workers,
    wait_ready,
    worker_count,
)

LabProtocol = Literal["TCP", "UDP", "SCTP"]
LAB_PROTOCOLS: tuple[LabProtocol, ...] = ("TCP", "UDP", "SCTP")

Progress = Callable[[str, int, int], None]
"""`progress(phase, done, total)`, called as each phase advances (for progress bars)."""

ROUTER_LINK_V4 = "169.254.1.1"
ROUTER_LINK_V6 = "fe80::1"
ROUTER_LOOPBACK_V6 = "fd6e:7000::1"  # a source for the ICMPv6 errors the router sends
DEFAULT_PREFIX_STEM = "np-"
_PREFIX_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,39}$")

# Probe connections are short: let the router's conntrack forget them quickly, so that a
# thousand-pod lab stays far below the machine-wide table size (262,144 entries).
_ROUTER_CONNTRACK = {
    "tcp_timeout_syn_sent": "5",
    "tcp_timeout_syn_recv": "5",
    "tcp_timeout_established": "60",
    "tcp_timeout_fin_wait": "2",
    "tcp_timeout_close_wait": "2",
    "tcp_timeout_last_ack": "2",
    "tcp_timeout_time_wait": "2",
    "tcp_timeout_close": "2",
    "tcp_timeout_max_retrans": "5",
    "tcp_timeout_unacknowledged": "5",
    "udp_timeout": "5",
    "udp_timeout_stream": "10",
    "sctp_timeout_closed": "2",
    "sctp_timeout_cookie_wait": "5",
    "sctp_timeout_cookie_echoed": "5",
    "icmp_timeout": "5",
    "icmpv6_timeout": "5",
}
# No ICMP rate limit: a denied probe must fail at once, not after the limiter's pause. An
# empty ratemask also keeps ICMP errors out of the host-wide limit (icmp_msgs_per_sec).
_NO_ICMP_RATE_LIMIT = {
    "net.ipv4.icmp_ratelimit": "0",
    "net.ipv4.icmp_ratemask": "0",
    "net.ipv6.icmp.ratelimit": "0",
    "net.ipv6.icmp.ratemask": "\n",
}
ROUTER_SYSCTLS: dict[str, str] = {
    "net.ipv4.ip_forward": "1",
    "net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.default.rp_filter": "0",
    "net.ipv6.conf.all.forwarding": "1",
    **_NO_ICMP_RATE_LIMIT,
    **{f"net.netfilter.nf_conntrack_{k}": v for k, v in _ROUTER_CONNTRACK.items()},
}
POD_SYSCTLS: dict[str, str] = dict(_NO_ICMP_RATE_LIMIT)


def new_prefix() -> str:
    """A fresh lab prefix: `np-` and six random hex digits, then `-`."""
    return f"{DEFAULT_PREFIX_STEM}{secrets.token_hex(3)}-"


@dataclass(frozen=True, slots=True)
class LabPod:
    """One endpoint of the lab: a key (e.g. `ns/name`), its IP, and the ports it serves."""

    key: str
    ip: str
    ports: tuple[tuple[int, LabProtocol], ...] = ()

    @property
    def version(self) -> int:
        return ipaddress.ip_address(self.ip).version


@dataclass(frozen=True, slots=True)
class LabSpec:
    """What to build: the pods, and the prefix of every namespace the lab creates."""

    pods: tuple[LabPod, ...]
    prefix: str = field(default_factory=new_prefix)
    probed_ports: frozenset[tuple[int, LabProtocol]] = frozenset()
    """Every port the lab probes on some pod, served there or not (`lab verify`'s undeclared
    ports are probed on every pod).

    A pod's own probing socket never takes one of them: a datagram to it would reach that
    socket, which neither echoes it nor lets the kernel answer "port unreachable".
    """

    def __post_init__(self) -> None:
        problems = _spec_problems(self)
        if problems:
            raise LabError("invalid lab: " + "; ".join(problems))


def _spec_problems(spec: LabSpec) -> list[str]:
    problems: list[str] = []
    if not _PREFIX_RE.match(spec.prefix):
        problems.append(
            f"prefix {spec.prefix!r} must be 2-40 letters, digits, '.', '_' or '-' "
            "and start with a letter or digit"
        )
    keys: set[str] = set()
    ips: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    for pod in spec.pods:
        if pod.key in keys:
            problems.append(f"pod {pod.key!r} appears twice")
        keys.add(pod.key)
        try:
            address = ipaddress.ip_address(pod.ip)
        except ValueError:
            problems.append(f"pod {pod.key!r}: {pod.ip!r} is not an IP address")
            continue
        if address in ips:
            problems.append(f"pod {pod.key!r}: IP {pod.ip} is used by another pod")
        ips.add(address)
        if address.is_loopback or address.is_multicast or address.is_unspecified:
            problems.append(f"pod {pod.key!r}: IP {pod.ip} cannot be a pod address")
        if address.version == 6 and address.is_link_local:
            problems.append(f"pod {pod.key!r}: link-local {pod.ip} cannot be a pod address")
        if str(address) in (ROUTER_LINK_V4, ROUTER_LOOPBACK_V6):
            problems.append(f"pod {pod.key!r}: {pod.ip} is the lab router's own address")
        for port, protocol in pod.ports:
            if protocol not in LAB_PROTOCOLS:
                problems.append(f"pod {pod.key!r}: protocol {protocol!r} is not TCP, UDP or SCTP")
            if not 1 <= port <= 65535:
                problems.append(f"pod {pod.key!r}: port {port} is not in 1-65535")
    return problems


def _mac(stem: int, index: int) -> str:
    """A locally administered unicast MAC: 02:<stem>:<index as 3 bytes>."""
    return f"02:{stem >> 8 & 0xFF:02x}:{stem & 0xFF:02x}:" + ":".join(
        f"{index >> s & 0xFF:02x}" for s in (16, 8, 0)
    )


def _pod_mac(index: int) -> str:
    return _mac(0x6E70, index)  # "np"


def _router_mac(index: int) -> str:
    return _mac(0x7274, index)  # "rt"


def _run_ip(args: list[str], batch: str, what: str) -> None:
    done = subprocess.run(
        ["ip", *args, "-batch", "-"], input=batch, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise LabError(f"{what} failed: {done.stderr.strip() or f'ip exit {done.returncode}'}")


def _raise_fd_limit(pods: int) -> None:
    """One control socket per pod worker; lift the soft limit to the hard one if that helps."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < pods + 256:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Within the block, SIGTERM/SIGHUP raise SystemExit and SIGINT KeyboardInterrupt.

    So `finally`/`with` cleanup runs on Ctrl-C or `kill` as on any error. Outside the main
    thread Python cannot take signals, and the block changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _exit(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = {
        signal.SIGTERM: signal.signal(signal.SIGTERM, _exit),
        signal.SIGHUP: signal.signal(signal.SIGHUP, _exit),
        signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Defer SIGINT/SIGTERM/SIGHUP so a second Ctrl-C cannot cut a teardown short."""
    held = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class Lab:
    """A built lab: its namespaces, its running pod workers, and the time each phase took.

    Use it as a context manager (or call `teardown()`); teardown also runs at interpreter
    exit and, inside `with`, on SIGINT/SIGTERM.
    """

    def __init__(self, spec: LabSpec) -> None:
        self.spec = spec
        self.prefix = spec.prefix
        self.router_netns = f"{spec.prefix}router"
        self.pods: dict[str, LabPod] = {pod.key: pod for pod in spec.pods}
        self._netns: dict[str, str] = {
            pod.key: f"{spec.prefix}pod{i}" for i, pod in enumerate(spec.pods)
        }
        self._index: dict[str, int] = {pod.key: i for i, pod in enumerate(spec.pods)}
        self.timings: dict[str, float] = {}
        self.sctp_probe_method = (
            "kernel SCTP sockets"
            if kernel_has_sctp()
            else "raw sockets: INIT answered by INIT-ACK (no SCTP sockets in this kernel)"
        )
        self._created: list[str] = []
        self._processes: list[PodWorker] = []
        self._workers: dict[str, PodWorker] = {}
        self._torn_down = False
        self._signals: contextlib.ExitStack | None = None

    # ---- public --------------------------------------------------------------------------

    @property
    def namespaces(self) -> tuple[str, ...]:
        """Every namespace this lab created (and will delete)."""
        return tuple(self._created)

    @property
    def workers(self) -> Mapping[str, PodWorker]:
        """The worker process of each pod (a worker serves and probes for several pods)."""
        return self._workers

    @property
    def processes(self) -> tuple[PodWorker, ...]:
        """Every worker process, each once."""
        return tuple(self._processes)

    def pod_index(self, pod_key: str) -> int:
        """The pod's position in the spec (probes name their source by it)."""
        try:
            return self._index[pod_key]
        except KeyError:
            raise LabError(f"no pod {pod_key!r} in this lab") from None

    def netns(self, pod_key: str) -> str:
        """The namespace of pod `pod_key`."""
        try:
            return self._netns[pod_key]
        except KeyError:
            raise LabError(f"no pod {pod_key!r} in this lab") from None

    def exec(
        self, pod_key: str, argv: list[str], *, capture_output: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run `argv` inside the pod's namespace (for `netpolicy lab exec POD -- CMD`)."""
        self._require_up()
        if not argv:
            raise LabError("no command to run")
        try:
            return subprocess.run(
                ["ip", "netns", "exec", self.netns(pod_key), *argv],
                capture_output=capture_output,
                text=True,
                check=False,
            )
        except OSError as exc:
            raise LabError(f"cannot run ip netns exec: {exc}") from exc

    def teardown(self, progress: Progress | None = None) -> None:
        """Stop the workers and delete exactly the namespaces this lab created. Idempotent."""
        if self._torn_down:
            return
        started = time.monotonic()
        with _signals_held():
            workers = self._processes
            total = len(workers) + len(self._created)
            stop_workers(workers)
            if progress is not None:
                progress("teardown", len(workers), total)
            present = existing_namespaces()
            doomed = [name for name in self._created if name in present]
            if doomed:
                # -force: carry on past a namespace someone else already removed.
                with contextlib.suppress(LabError):
                    _run_ip(["-force"], "".join(f"netns del {n}\n" for n in doomed), "netns del")
            left = sorted(set(doomed) & existing_namespaces())
            self._torn_down = True
            atexit.unregister(self.teardown)
            if progress is not None:
                progress("teardown", total, total)
        self.timings["teardown"] = time.monotonic() - started
        if left:
            raise LabError(f"could not delete namespaces: {', '.join(left)}")

    def __enter__(self) -> Lab:
        self._signals = contextlib.ExitStack()
        self._signals.enter_context(signals_raise())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.teardown()
        finally:
            if self._signals is not None:
                self._signals.close()
                self._signals = None

    def __repr__(self) -> str:
        state = "torn down" if self._torn_down else "up"
        return f"<Lab {self.prefix} pods={len(self.pods)} {state}>"

    # ---- building ------------------------------------------------------------------------

    def _require_up(self) -> None:
        if self._torn_down:
            raise LabError(f"lab {self.prefix} has been torn down")

    def _phase(self, name: str, started: float) -> None:
        self.timings[name] = time.monotonic() - started

    def _create_namespaces(self, progress: Progress | None) -> None:
        started = time.monotonic()
        names = [self.router_netns, *self._netns.values()]
        clash = sorted(set(names) & existing_namespaces())
        if clash:
            raise LabError(
                f"namespaces already exist with this lab's prefix {self.prefix!r}: "
                f"{', '.join(clash[:5])} (netpolicy lab down {self.prefix} removes them)"
            )
        chunk = 200
        for start in range(0, len(names), chunk):
            part = names[start : start + chunk]
            self._created.extend(part)  # recorded first: teardown removes half-made ones too
            _run_ip([], "".join(f"netns add {name}\n" for name in part), "netns add")
            if progress is not None:
                progress("namespaces", start + len(part), len(names))
        self._phase("namespaces", started)

    def _wire_router(self, progress: Progress | None) -> None:
        started = time.monotonic()
        run_in_netns(self.router_netns, write_sysctls, ROUTER_SYSCTLS)
        lines = ["link set lo up\n"]
        if any(pod.version == 6 for pod in self.spec.pods):
            lines.append(f"addr add {ROUTER_LOOPBACK_V6}/128 dev lo nodad\n")
        _run_ip(["-n", self.router_netns], "".join(lines), "router setup")
        pods = self.spec.pods
        chunk = 100
        for start in range(0, len(pods), chunk):
            batch = []
            for index in range(start, min(start + chunk, len(pods))):
                pod = pods[index]
                dev = f"v{index}"
                batch.append(
                    f"link add {dev} address {_router_mac(index)} type veth peer name eth0 "
                    f"address {_pod_mac(index)} netns {self._netns[pod.key]}\n"
                )
                if pod.version == 4:
                    batch.append(
                        f"link set {dev} up\n"
                        f"addr add {ROUTER_LINK_V4}/32 dev {dev}\n"
                        f"route add {pod.ip}/32 dev {dev}\n"
                    )
                else:
                    batch.append(
                        f"link set {dev} addrgenmode none\n"
                        f"link set {dev} up\n"
                        f"addr add {ROUTER_LINK_V6}/64 dev {dev} nodad\n"
                        f"route add {pod.ip}/128 dev {dev}\n"
                    )
                batch.append(
                    f"neigh replace {pod.ip} lladdr {_pod_mac(index)} dev {dev} nud permanent\n"
                )
            _run_ip(["-n", self.router_netns], "".join(batch), "veth setup")
            if progress is not None:
                progress("links", min(start + chunk, len(pods)), len(pods))
        self._phase("links", started)

    def _pod_batch(self, index: int, pod: LabPod) -> str:
        lines = ["link set lo up", "link set eth0 up"]
        if pod.version == 4:
            lines += [
                f"addr add {pod.ip}/32 dev eth0",
                f"route add {ROUTER_LINK_V4} dev eth0 scope link",
                f"route add default via {ROUTER_LINK_V4} dev eth0",
                f"neigh replace {ROUTER_LINK_V4} lladdr {_router_mac(index)} dev eth0 "
                "nud permanent",
            ]
        else:
            lines += [
                f"addr add {pod.ip}/128 dev eth0 nodad",
                f"route add ::/0 via {ROUTER_LINK_V6} dev eth0",
                f"neigh replace {ROUTER_LINK_V6} lladdr {_router_mac(index)} dev eth0 "
                "nud permanent",
            ]
        return "".join(line + "\n" for line in lines)

    def _start_pods(self, progress: Progress | None, timeout: float | None) -> None:
        started = time.monotonic()
        setups = [
            WorkerSetup(
                key=pod.key,
                index=index,
                netns=self._netns[pod.key],
                ip=pod.ip,
                ports=tuple(pod.ports),
                ip_batch=self._pod_batch(index, pod),
                sysctls=POD_SYSCTLS,
                avoid_udp=frozenset(
                    port for port, protocol in self.spec.probed_ports if protocol == "UDP"
                ),
            )
            for index, pod in enumerate(self.spec.pods)
        ]
        count = worker_count(len(setups))
        groups = [setups[i::count] for i in range(count)] if setups else []
        fork_workers(groups, self._processes)
        for worker in self._processes:
            for key in worker.pods:
                self._workers[key] = worker
        total = len(setups)

        def ready(done: int) -> None:
            if progress is not None:
                progress("pods", done, total)

        wait_ready(
            self._processes,
            on_ready=ready,
            timeout=timeout if timeout is not None else 60.0 + 0.1 * total,
        )
        if progress is not None and total == 0:
            progress("pods", 0, 0)
        self._phase("pods", started)


def build_lab(
    spec: LabSpec, progress: Progress | None = None, *, timeout: float | None = None
) -> Lab:
    """Create the namespaces, the veths and the pod workers of `spec`; `LabError` on failure.

    Whatever was created before a failure (or Ctrl-C, or SIGTERM) is removed again.
    Phases, in order, for `progress` and `Lab.timings`: namespaces, links, pods.
    """
    require_prerequisites()
    _raise_fd_limit(len(spec.pods))
    lab = Lab(spec)
    atexit.register(lab.teardown)
    with signals_raise():
        try:
            lab._create_namespaces(progress)
            lab._wire_router(progress)
            lab._start_pods(progress, timeout)
        except BaseException:
            with contextlib.suppress(LabError):
                lab.teardown()
            raise
    lab.timings["setup"] = sum(lab.timings[p] for p in ("namespaces", "links", "pods"))
    return lab


def lab_namespaces(prefix: str = DEFAULT_PREFIX_STEM) -> list[str]:
    """Existing namespaces whose name starts with `prefix` (by default every netpolicy lab's)."""
    return sorted(name for name in existing_namespaces() if name.startswith(prefix))


def lab_down(prefix: str) -> list[str]:
    """Remove leftover namespaces named `prefix...` and the processes inside them.

    For `netpolicy lab down`: a lab killed with SIGKILL cannot clean up after itself.
    Returns the names removed.
    """
    require_prerequisites()
    if len(prefix) < 3:
        raise LabError(f"refusing to remove namespaces by the short prefix {prefix!r}")
    names = lab_namespaces(prefix)
    for name in names:
        pids = subprocess.run(
            ["ip", "netns", "pids", name], capture_output=True, text=True, check=False
        ).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ValueError, PermissionError):
                if int(pid) != os.getpid():
                    os.kill(int(pid), signal.SIGKILL)
    if names:
        _run_ip(["-force"], "".join(f"netns del {name}\n" for name in names), "netns del")
    left = set(lab_namespaces(prefix)) & set(names)
    if left:
        raise LabError(f"could not delete namespaces: {', '.join(sorted(left))}")
    return names
