"""The intent endpoint of a pod: its top workload (`ns/name`), or the pod itself.

Intents name workloads as `ns/name` (no kind). A pod is named by the top controller the input
holds: a ReplicaSet `<name>-<hash>` (or one whose owner reference names a loaded Deployment)
counts as that Deployment, a Job of a loaded CronJob as the CronJob, else the pod's own
controller; a pod without a controller is named by itself. Template stand-ins are named by
their workload. This is the lifting `coverage` counts workloads by.
"""

from __future__ import annotations

from netpolicy.model import Cluster, OwnerRef, Pod

_PARENTS = {"ReplicaSet": "Deployment", "Job": "CronJob"}


class WorkloadNames:
    """`ns/name` of a pod's top workload, and the workloads and pods of a cluster by name."""

    def __init__(self, cluster: Cluster) -> None:
        self._owners: dict[tuple[str, str, str], OwnerRef | None] = {
            (w.namespace, w.kind, w.name): w.owner for w in cluster.workloads
        }
        self._cache: dict[tuple[str, OwnerRef], str] = {}
        self.pods: dict[tuple[str, str], Pod] = {}
        """Live pods by (namespace, name); template stand-ins are not pods of the cluster."""
        self.workloads: dict[str, set[str]] = {}
        """Per namespace, the top workload names (from the workloads and the live pods)."""
        for pod in cluster.pods:
            if not pod.from_template:
                self.pods[pod.namespace, pod.name] = pod
            if pod.owner is not None:
                name = self.of(pod).split("/", 1)[1]
                self.workloads.setdefault(pod.namespace, set()).add(name)
        for w in cluster.workloads:
            top = self._lift(w.namespace, w.kind, w.name)
            self.workloads.setdefault(w.namespace, set()).add(top.split("/", 1)[1])

    def of(self, pod: Pod) -> str:
        """The intent endpoint of `pod`: `ns/<top workload>`, or `ns/<pod>` without owner."""
        if pod.owner is None:
            return f"{pod.namespace}/{pod.name}"
        key = (pod.namespace, pod.owner)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._lift(pod.namespace, pod.owner.kind, pod.owner.name)
        return found

    def _lift(self, namespace: str, kind: str, name: str) -> str:
        for _ in range(3):  # Pod -> ReplicaSet -> Deployment, Pod -> Job -> CronJob
            owner = self._owners.get((namespace, kind, name))
            if owner is not None and (namespace, owner.kind, owner.name) in self._owners:
                kind, name = owner.kind, owner.name
                continue
            parent = _PARENTS.get(kind)
            if parent is not None and "-" in name:
                # the controllers name their children `<parent>-<suffix>`
                base = name.rsplit("-", 1)[0]
                if (namespace, parent, base) in self._owners:
                    kind, name = parent, base
                    continue
            break
        return f"{namespace}/{name}"

    def workload_by_pod_name(self, namespace: str, pod: str) -> str | None:
        """The workload a pod not in the input belongs to, from its name: the longest
        workload name `W` of the namespace with `pod` = `W-<suffix>` (controllers name their
        pods so: `<deployment>-<hash>-<id>`, `<statefulset>-<n>`, `<daemonset>-<id>`)."""
        best = ""
        for name in self.workloads.get(namespace, ()):
            if pod.startswith(name + "-") and len(name) > len(best):
                best = name
        return f"{namespace}/{best}" if best else None

    def has_workload(self, namespace: str, name: str) -> bool:
        return name in self.workloads.get(namespace, ())
