"""What the checks share: the cluster, its evaluator, the class engine and names of things."""

from __future__ import annotations

from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from netpolicy.analysis.connectivity import (
    Connectivity,
    TierTable,
    _tier_table,
    compute_connectivity,
)
from netpolicy.model import Cluster, NetworkPolicy, Pod, SourceRef, Workload
from netpolicy.semantics import CompiledPeer, CompiledPolicy, Evaluator, HostNetworkMode
from netpolicy.semantics.columns import PodColumns
from netpolicy.semantics.tiers import CompiledAdminRule

Bools = NDArray[np.bool_]
_PARENTS = {"ReplicaSet": "Deployment", "Job": "CronJob"}
"""The controllers that name their children `<parent>-<suffix>`."""


class LintContext:
    """One lint run's view of the input; everything costly is computed once, on first use."""

    def __init__(
        self,
        cluster: Cluster,
        host_network: HostNetworkMode = "node",
        connectivity: Connectivity | None = None,
    ) -> None:
        self.cluster = cluster
        self.evaluator = (
            connectivity.evaluator if connectivity else Evaluator(cluster, host_network)
        )
        if connectivity is not None:
            self.__dict__["connectivity"] = connectivity
        self._workloads = {(w.namespace, w.name, w.kind): w for w in cluster.workloads}
        self._selected: dict[int, Bools] = {}
        self._labels: dict[tuple[str, ...], set[tuple[str, str]]] = {}

    @cached_property
    def connectivity(self) -> Connectivity:
        # lint asks about rules, not about every pair: the pairs are never built
        return compute_connectivity(self.cluster, self.evaluator, pairs=False)

    @cached_property
    def columns(self) -> PodColumns:
        """The class representatives as columns: selectors decided for all classes at once."""
        return PodColumns([c.representative for c in self.connectivity.classes])

    @cached_property
    def tier_tables(self) -> dict[str, TierTable]:
        """Per direction, the class engine's table of the cluster-wide rules (evaluation order;
        empty without any)."""
        result = self.connectivity
        if result.tier_tables is not None:
            return result.tier_tables
        return {
            # lint computes no pairs, so the engine has not built them: the same function does
            d: _tier_table(
                self.evaluator.tiers, d, self.columns, result.classes, result.outside, result.atoms
            )
            for d in ("ingress", "egress")
        }

    @cached_property
    def tier_rules(self) -> dict[str, list[CompiledAdminRule]]:
        """Per direction, the cluster-wide rules in the order of `tier_tables`' rows."""
        tiers = self.evaluator.tiers
        return {
            d: [r for cp in (*tiers.admin, *tiers.baseline) for r in cp.rules(d)]  # type: ignore[arg-type]
            for d in ("ingress", "egress")
        }

    @cached_property
    def sizes(self) -> NDArray[np.int64]:
        """Pods per class."""
        return np.array([len(c.pods) for c in self.connectivity.classes], dtype=np.int64)

    @property
    def has_pods(self) -> bool:
        """Whether the input holds pods or workloads at all (else selectors cannot be judged)."""
        return bool(self.cluster.pods)

    @cached_property
    def namespaces_with_pods(self) -> frozenset[str]:
        return frozenset(p.namespace for p in self.cluster.pods)

    @cached_property
    def pods_by_namespace(self) -> dict[str, list[Pod]]:
        """The pods (and workload stand-ins) of each namespace, host-network pods left out."""
        out: dict[str, list[Pod]] = {}
        for p in self.cluster.pods:
            if not p.host_network:
                out.setdefault(p.namespace, []).append(p)
        return out

    def labels_in(self, namespaces: list[str]) -> set[tuple[str, str]]:
        """Every pod label of `namespaces`."""
        key = tuple(sorted(namespaces))
        found = self._labels.get(key)
        if found is None:
            found = {
                kv for ns in key for p in self.pods_by_namespace.get(ns, ()) for kv in p.labels
            }
            self._labels[key] = found
        return found

    @cached_property
    def policies_by_namespace(self) -> dict[str, list[NetworkPolicy]]:
        out: dict[str, list[NetworkPolicy]] = {}
        for p in self.cluster.policies:
            out.setdefault(p.namespace, []).append(p)
        return out

    def selected(self, cp: CompiledPolicy) -> Bools:
        """The classes `cp` selects."""
        found = self._selected.get(id(cp))
        if found is None:
            found = self._selected[id(cp)] = self.columns.selected_by(cp)
        return found

    @cached_property
    def isolating(self) -> dict[str, NDArray[np.int64]]:
        """Per direction and class, how many policies isolate it."""
        n = len(self.connectivity.classes)
        out = {}
        for direction in ("ingress", "egress"):
            count = np.zeros(n, dtype=np.int64)
            for cp in self.evaluator.policies:
                if cp.isolates(direction):  # type: ignore[arg-type]
                    count += self.selected(cp)
            out[direction] = count
        return out

    def isolated_only_by(self, cp: CompiledPolicy, direction: str) -> Bools:
        """The classes that `cp` alone isolates in `direction` (none if it does not isolate)."""
        if not cp.isolates(direction):  # type: ignore[arg-type]
            return np.zeros(len(self.connectivity.classes), dtype=bool)
        return self.selected(cp) & (self.isolating[direction] == 1)

    def matched(self, peer: CompiledPeer) -> Bools:
        """The classes `peer` matches."""
        return self.columns.matched_by(peer)

    def owner_of(self, pod: Pod) -> tuple[str, str, SourceRef]:
        """The object a person edits for `pod`: its workload (name, kind, where) or the pod.

        A ReplicaSet `<deployment>-<hash>` (a Job `<cronjob>-<n>`) that the input leaves out
        stands for its Deployment (CronJob) when the input has that, as the loader decides.
        """
        if pod.owner is not None and pod.owner.kind:
            key = (pod.namespace, pod.owner.name, pod.owner.kind)
            workload = self._workloads.get(key)
            parent = _PARENTS.get(pod.owner.kind)
            if workload is None and parent is not None and "-" in pod.owner.name:
                workload = self._workloads.get(
                    (pod.namespace, pod.owner.name.rsplit("-", 1)[0], parent)
                )
            if workload is not None:
                top = self._top(workload)
                return f"{top.namespace}/{top.name}", top.kind, top.source
            # the controller is not in the input: still name it, located at its pod
            return f"{pod.namespace}/{pod.owner.name}", pod.owner.kind, pod.source
        return pod.key, "Pod", pod.source

    def _top(self, workload: Workload) -> Workload:
        """A ReplicaSet's Deployment, a Job's CronJob, when the input has them."""
        seen = 0
        while workload.owner is not None and seen < 4:
            parent = self._workloads.get(
                (workload.namespace, workload.owner.name, workload.owner.kind)
            )
            if parent is None:
                break
            workload, seen = parent, seen + 1
        return workload

    def class_owners(self, classes: NDArray[np.int64] | list[int]) -> list[str]:
        """The workload (or pod) names of the pods of `classes`, sorted, each once."""
        names: set[str] = set()
        for c in classes:
            for pod in self.connectivity.classes[int(c)].pods:
                names.add(self.owner_of(pod)[0])
        return sorted(names)

    def compiled(self, policy: NetworkPolicy) -> CompiledPolicy:
        for cp in self.evaluator.namespace_policies(policy.namespace):
            if cp.policy is policy:
                return cp
        raise KeyError(policy.key)


def listing(names: list[str], limit: int = 3) -> str:
    """`a, b, c and 4 more`."""
    if len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[:limit])} and {len(names) - limit} more"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"
