"""`analyze`: the first view a person wants of a cluster's policies."""

from __future__ import annotations

from dataclasses import dataclass, field

from netpolicy.analysis.connectivity import Connectivity
from netpolicy.analysis.connlist import Connection, ConnectionRows
from netpolicy.analysis.exposure import Exposure, compute_exposure
from netpolicy.analysis.grouped import GroupedConnections, GroupedOverview, grouped_connections
from netpolicy.analysis.lint import CHECKS, Finding, lint
from netpolicy.analysis.owners import split_owners
from netpolicy.model import Cluster


@dataclass(frozen=True, slots=True)
class NamespaceIsolation:
    namespace: str
    pods: int
    ingress_isolated: int
    egress_isolated: int


@dataclass(slots=True)
class Summary:
    cluster: Cluster
    connectivity: Connectivity
    pods: int
    workloads: int
    isolation: list[NamespaceIsolation]
    connections: list[Connection]
    findings: list[Finding] = field(default_factory=list)
    """The lint findings at warning and above."""
    exposure: Exposure | None = None
    """What each workload is exposed to beyond the input (`connlist --exposure`)."""
    grouped: GroupedConnections | None = None
    """At scale (more than GROUPED_ABOVE endpoints), the grouped view instead of the list."""
    overview: GroupedOverview | None = None
    """What analyze shows of the grouped view."""
    connection_count: int = 0
    """How many connections the full list (by workload) has."""


_BELOW_WARNING = tuple(c.id for c in CHECKS if c.severity == "info")
"""analyze shows lint's warnings and errors: the info checks are not run."""

SHOWN = 25
"""Grouped connections analyze shows."""

GROUPED_ABOVE = 40
"""Endpoints (workloads and outside ranges) beyond which analyze shows the grouped view."""


def _replicas(cluster: Cluster) -> dict[tuple[str, str, str], int]:
    return {(w.namespace, w.name, w.kind): max(w.replicas, 1) for w in cluster.workloads}


def summarize(cluster: Cluster, result: Connectivity) -> Summary:
    """Counts, isolation per namespace, workload-level connections and lint's warnings."""
    replicas = _replicas(cluster)
    per_ns: dict[str, list[int]] = {ns.name: [0, 0, 0] for ns in cluster.namespaces}
    owners: set[tuple[str, str]] = set()
    total = 0
    for cls in result.classes:
        for pod in cls.pods:
            weight = 1
            if pod.from_template and pod.owner is not None:
                weight = replicas.get((pod.namespace, pod.owner.name, pod.owner.kind), 1)
            owner = pod.owner.name if pod.owner is not None else pod.name
            owners.add((pod.namespace, owner))
            row = per_ns.setdefault(pod.namespace, [0, 0, 0])
            row[0] += weight
            row[1] += weight * result.isolated_ingress[cls.index]
            row[2] += weight * result.isolated_egress[cls.index]
            total += weight
    isolation = [NamespaceIsolation(ns, *counts) for ns, counts in sorted(per_ns.items())]
    split = split_owners(result)[0]
    rows = ConnectionRows(result, workloads=True, split=split)
    connections: list[Connection] = []
    grouped = overview = None
    if len(rows.names) > GROUPED_ABOVE:
        grouped = grouped_connections(result, workloads=True, split=split)
        overview = grouped.overview(SHOWN)
        count = overview.pairs
    else:
        connections = list(rows.connections())
        count = len(connections)
    return Summary(
        cluster,
        result,
        total,
        len(owners),
        isolation,
        connections,
        lint(cluster, connectivity=result, disable=_BELOW_WARNING).at_or_above("warning"),
        compute_exposure(result),
        grouped,
        overview,
        count,
    )
