"""The library surface: everything a command does, callable from Python."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TextIO

from netpolicy.analysis.connectivity import Connectivity, compute_connectivity
from netpolicy.analysis.connlist import Connection, ConnectionRows
from netpolicy.analysis.coverage import Coverage
from netpolicy.analysis.coverage import coverage as compute_coverage
from netpolicy.analysis.endpoints import resolve
from netpolicy.analysis.lint import CHECK_IDS, LintReport
from netpolicy.analysis.summary import Summary, summarize
from netpolicy.load import LoadResult, gc_paused, load_manifests, load_text
from netpolicy.load.config import LintConfig, LintConfigResult, find_lint_config, load_lint_config
from netpolicy.model import Cluster, Diagnostic, Protocol, Severity
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


def coverage(
    cluster: Cluster, host_network: HostNetworkMode = "node", *, timings: Timings | None = None
) -> Coverage:
    """The adoption dashboard: per namespace the workloads isolated for ingress, egress, both,
    neither and the adoption step reached; then the workloads to do next (reachable from every
    pod or from outside), most reachable first. See `netpolicy.analysis.coverage`."""
    with gc_paused():
        result = compute_connectivity(cluster, host_network=host_network)
        started = time.perf_counter()
        found = compute_coverage(result)
        found.timings.update(result.timings)
        found.timings["coverage"] = time.perf_counter() - started
        if timings is not None:
            timings.phases.update(found.timings)
        return found


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
    """Every allowed connection as a list (for answers that fit in memory)."""
    with gc_paused():
        rows = connection_rows(
            cluster,
            workloads=workloads,
            focus=focus,
            namespace=namespace,
            timings=timings,
            host_network=host_network,
        )
        return list(rows.connections())


def connection_rows(
    cluster: Cluster,
    *,
    workloads: bool | None = None,
    focus: str | None = None,
    namespace: str | None = None,
    timings: Timings | None = None,
    host_network: HostNetworkMode = "node",
) -> ConnectionRows:
    """Every allowed connection as rows made while they are read: for any size of answer."""
    started = time.perf_counter()
    result = compute_connectivity(cluster, host_network=host_network)
    if timings is not None:
        timings.phases.update(result.timings)
        started = time.perf_counter()
    if workloads is None:
        workloads = prefers_workloads(cluster)
    rows = ConnectionRows(result, workloads=workloads, focus=focus, namespace=namespace)
    if timings is not None:
        timings.add("endpoints", started)
    return rows


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


def lint(
    cluster: Cluster,
    *,
    disable: Sequence[str] = (),
    severity: dict[str, Severity] | None = None,
    host_network: HostNetworkMode = "node",
) -> LintReport:
    """The classic NetworkPolicy mistakes in `cluster`, each finding located and explained.

    `disable` leaves checks out; `severity` overrides a check's default severity. Unknown
    check IDs raise `KeyError`.
    """
    from netpolicy.analysis.lint import lint as run_lint

    with gc_paused():
        return run_lint(cluster, disable=disable, severity=severity, host_network=host_network)


def lint_config(path: str | Path | None = None) -> LintConfigResult:
    """The lint settings in `path`, else in `.netpolicy.yaml` of the current directory.

    Without `path` and without that file the config is empty. A missing `path` or any mistake
    in the file is a located error diagnostic of the result, never an exception.
    """
    if path is None:
        path = find_lint_config()
        if path is None:
            return LintConfigResult(LintConfig())
    return load_lint_config(path, CHECK_IDS)
