"""`analyze`: the first view a person wants of a cluster's policies."""

from __future__ import annotations

from dataclasses import dataclass, field

from netpolicy.analysis.connectivity import Connectivity
from netpolicy.analysis.connlist import Connection, connection_list
from netpolicy.analysis.lint import Finding, lint
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
    return Summary(
        cluster,
        result,
        total,
        len(owners),
        isolation,
        connection_list(result, workloads=True),
        lint(cluster, connectivity=result).at_or_above("warning"),
    )
