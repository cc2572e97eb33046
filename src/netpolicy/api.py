"""The library surface: everything a command does, callable from Python."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TextIO

from netpolicy.analysis.connectivity import Connectivity, compute_connectivity
from netpolicy.analysis.connlist import Connection, connection_list
from netpolicy.analysis.endpoints import resolve
from netpolicy.analysis.summary import Summary, summarize
from netpolicy.load import LoadResult, gc_paused, load_manifests, load_text
from netpolicy.model import Cluster, Diagnostic, Protocol
from netpolicy.semantics import Decision, Evaluator, HostNetworkMode

DEMO_NAME = "shop"


@dataclass(slots=True)
class Timings:
    """Seconds spent per phase, for `--profile`."""

    phases: dict[str, float] = field(default_factory=dict)

    def add(self, phase: str, started: float) -> float:
        now = time.perf_counter()
        self.phases[phase] = self.phases.get(phase, 0.0) + now - started
        return now


@dataclass(slots=True)
class Input:
    cluster: Cluster
    diagnostics: tuple[Diagnostic, ...]
    demo: bool
    description: str

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)

    @property
    def is_empty(self) -> bool:
        c = self.cluster
        return not (c.pods or c.policies or c.namespaces)


def load_demo() -> LoadResult:
    text = resources.files("netpolicy.demo").joinpath("shop.yaml").read_text()
    return load_text(text, filename="demo/shop.yaml", cluster_name=DEMO_NAME)


def load_input(paths: Sequence[str | Path], stdin: TextIO | None = None) -> Input:
    """The manifests at `paths` (`-` is stdin), or the embedded demo when none are given."""
    if not paths:
        demo = load_demo()
        return Input(
            demo.cluster, demo.diagnostics, True, f'the embedded demo cluster "{DEMO_NAME}"'
        )
    result = load_manifests(list(paths), stdin=stdin)
    return Input(result.cluster, result.diagnostics, False, ", ".join(str(p) for p in paths))


def analyze(cluster: Cluster, host_network: HostNetworkMode = "node") -> Summary:
    with gc_paused():
        return summarize(cluster, compute_connectivity(cluster, host_network=host_network))


def connectivity(cluster: Cluster, host_network: HostNetworkMode = "node") -> Connectivity:
    with gc_paused():
        return compute_connectivity(cluster, host_network=host_network)


AUTO_WORKLOADS = 1000
"""Above this many pods, connlist aggregates pods to their workloads unless told otherwise."""


def prefers_workloads(cluster: Cluster) -> bool:
    """At scale, replicas are listed once per workload, never pod by pod."""
    return len(cluster.pods) > AUTO_WORKLOADS and any(
        p.owner is not None and not p.from_template for p in cluster.pods
    )


def connlist(
    cluster: Cluster,
    *,
    workloads: bool | None = None,
    focus: str | None = None,
    namespace: str | None = None,
    timings: Timings | None = None,
    host_network: HostNetworkMode = "node",
) -> list[Connection]:
    with gc_paused():
        started = time.perf_counter()
        result = compute_connectivity(cluster, host_network=host_network)
        if timings is not None:
            timings.phases.update(result.timings)
            started = time.perf_counter()
        if workloads is None:
            workloads = prefers_workloads(cluster)
        conns = connection_list(result, workloads=workloads, focus=focus, namespace=namespace)
        if timings is not None:
            timings.add("aggregate", started)
        return conns


@dataclass(frozen=True, slots=True)
class Explanation:
    src: str
    dst: str
    decision: Decision
    notes: tuple[str, ...] = ()


def explain(
    cluster: Cluster,
    src: str,
    dst: str,
    protocol: Protocol = "TCP",
    port: int | str | None = None,
    evaluator: Evaluator | None = None,
    host_network: HostNetworkMode = "node",
) -> Explanation:
    """The verdict for one connection (or, without a port, every port) with its reasons."""
    evaluator = evaluator or Evaluator(cluster, host_network)
    a = resolve(cluster, evaluator, src)
    b = resolve(cluster, evaluator, dst)
    notes = tuple(n for n in (a.note, b.note) if n) + tuple(
        f"{r.name} uses the host network: "
        + (
            "treated as the node's traffic (selectors ignore it; --host-network pod to change)"
            if host_network == "node"
            else "policies apply to it as to any pod (--host-network pod)"
        )
        for r in (a, b)
        if r.pod is not None and r.pod.host_network
    )
    if port is None:
        decision = evaluator.decide_all(a.endpoint, b.endpoint)
    else:
        decision = evaluator.decide(a.endpoint, b.endpoint, protocol, port)
    return Explanation(a.name, b.name, decision, notes)
