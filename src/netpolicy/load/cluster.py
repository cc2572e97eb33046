"""Documents → a `Cluster`: Lists expanded, kinds dispatched, duplicates and namespaces settled."""

from __future__ import annotations

from typing import Any

from netpolicy.model import (
    NAMESPACE_NAME_LABEL,
    Cluster,
    ClusterPolicy,
    Duplicate,
    Namespace,
    NetworkPolicy,
    Pod,
    SourceRef,
    Workload,
)

from .admin import (
    ADMIN_GROUP,
    convert_cluster_policy,
    warn_same_priority,
    warn_what_the_input_leaves_open,
)
from .fields import Document, ObjectContext, Report
from .pods import SharedParts, convert_namespace, convert_pod
from .policies import convert_policy
from .workloads import convert_workload, stand_in_pods

_WORKLOAD_GROUPS = {"apps", "extensions"}
_ADMIN_VERSIONS = {
    "AdminNetworkPolicy": ("v1alpha1",),
    "BaselineAdminNetworkPolicy": ("v1alpha1",),
    "ClusterNetworkPolicy": ("v1alpha2",),
}
"""The versions of policy.networking.k8s.io whose schema is read here."""
API_GROUPS: dict[str, set[str]] = {
    "Namespace": {""},
    "Pod": {""},
    "ReplicationController": {""},
    "NetworkPolicy": {"networking.k8s.io", "extensions"},
    "Deployment": _WORKLOAD_GROUPS,
    "StatefulSet": _WORKLOAD_GROUPS,
    "DaemonSet": _WORKLOAD_GROUPS,
    "ReplicaSet": _WORKLOAD_GROUPS,
    "Job": {"batch"},
    "CronJob": {"batch"},
}
"""The API groups whose objects of each kind have the schema read here."""


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


class ClusterBuilder:
    """Collects objects in input order; the later of two objects with one identity wins."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.namespaces: list[Namespace] = []
        self.pods: list[Pod] = []
        self.workloads: list[Workload] = []
        self.policies: list[NetworkPolicy] = []
        self.cluster_policies: list[ClusterPolicy] = []
        self._seen: dict[tuple[str, str, str], tuple[SourceRef, int]] = {}
        self.duplicates: list[Duplicate] = []
        self._referenced: dict[str, SourceRef] = {}
        self._shared = SharedParts()

    def add(self, doc: Document) -> None:
        """Add one document: an object, or a List whose items are added in turn."""
        value = doc.value
        if value is None:
            return
        ctx = ObjectContext(doc, self.report)
        if not isinstance(value, dict):
            ctx.warning(
                (), f"not a Kubernetes object ({_describe(value)}); skipped", "not-an-object"
            )
            return
        kind = value.get("kind")
        if not isinstance(kind, str) or not kind:
            ctx.warning((), "object has no kind; skipped", "not-an-object")
            return
        if kind.endswith("List") and "items" in value:
            items = ctx.sequence(value["items"], ("items",)) or []
            item_kind = kind.removesuffix("List")
            for i, item in enumerate(items):
                if item_kind and isinstance(item, dict) and "kind" not in item:
                    # The API server leaves kind and apiVersion out of the items of a typed list.
                    item = {"kind": item_kind, "apiVersion": value.get("apiVersion"), **item}
                self.add(doc.item(item, ("items", i)))
            return
        api_version = value.get("apiVersion")
        if kind in _ADMIN_VERSIONS and isinstance(api_version, str):
            if _group(api_version) != ADMIN_GROUP:
                ctx.info((), f"skipping object with kind {kind} of apiVersion {api_version}")
                return
            if api_version.rpartition("/")[2] not in _ADMIN_VERSIONS[kind]:
                ctx.warning(
                    ("apiVersion",),
                    f"skipping {kind} of apiVersion {api_version}: only "
                    f"{ADMIN_GROUP}/{_ADMIN_VERSIONS[kind][0]} is read",
                    "skipped-kind",
                )
                return
            admin = convert_cluster_policy(ctx, value, kind)  # type: ignore[arg-type]
            if admin is not None:
                self._keep(ctx, kind, "", admin.name, admin.source, self.cluster_policies, admin)
            return
        groups = API_GROUPS.get(kind)
        if groups is None or (isinstance(api_version, str) and _group(api_version) not in groups):
            of = f" of apiVersion {api_version}" if groups is not None else ""
            ctx.info((), f"skipping object with kind {kind}{of}", "skipped-kind")
            return
        if kind == "Namespace":
            namespace = convert_namespace(ctx, value)
            if namespace is not None:
                self._keep(
                    ctx, kind, "", namespace.name, namespace.source, self.namespaces, namespace
                )
        elif kind == "Pod":
            pod = convert_pod(ctx, value, self._shared)
            if pod is not None:
                self._keep(ctx, kind, pod.namespace, pod.name, pod.source, self.pods, pod)
                self._reference(pod.namespace, pod.source)
        elif kind == "NetworkPolicy":
            policy = convert_policy(ctx, value)
            if policy is not None:
                self._keep(
                    ctx, kind, policy.namespace, policy.name, policy.source, self.policies, policy
                )
                self._reference(policy.namespace, policy.source)
        else:
            workload = convert_workload(ctx, value, kind)
            if workload is not None:
                self._keep(
                    ctx,
                    kind,
                    workload.namespace,
                    workload.name,
                    workload.source,
                    self.workloads,
                    workload,
                )
                self._reference(workload.namespace, workload.source)

    def _keep(
        self,
        ctx: ObjectContext,
        kind: str,
        namespace: str,
        name: str,
        source: SourceRef,
        into: list[Any],
        obj: object,
    ) -> None:
        """Add `obj`; a second object of one identity replaces the first, as in a cluster."""
        key = (kind, namespace, name)
        seen = self._seen.get(key)
        if seen is None:
            self._seen[key] = (source, len(into))
            into.append(obj)
            return
        first, position = seen
        into[position] = obj
        self._seen[key] = (source, position)
        self.duplicates.append(Duplicate(kind, namespace, name, first, source))
        shown = f"{namespace}/{name}" if namespace else name
        ctx.warning(
            (),
            f"duplicate {kind} {shown} (also defined at {first}); the later definition wins, "
            "as when both are applied to a cluster",
            "duplicate",
        )

    def _reference(self, namespace: str, source: SourceRef) -> None:
        self._referenced.setdefault(namespace, source)

    def build(self, name: str = "") -> Cluster:
        """The cluster: undeclared namespaces added, stand-in pods for workloads without pods."""
        namespaces = {ns.name: ns for ns in self.namespaces}
        for ns_name, source in sorted(self._referenced.items()):
            if ns_name in namespaces:
                continue
            namespaces[ns_name] = Namespace(
                ns_name, ((NAMESPACE_NAME_LABEL, ns_name),), source.at(""), declared=False
            )
            self.report.add(
                "info",
                f"namespace {ns_name} is used but not declared; assuming it with no labels "
                f"but {NAMESPACE_NAME_LABEL}",
                source.at(""),
                "undeclared-namespace",
            )
        pods = (*self.pods, *stand_in_pods(self.workloads, self.pods))
        warn_same_priority(self.cluster_policies, self.report)
        warn_what_the_input_leaves_open(self.cluster_policies, pods, self.workloads, self.report)
        return Cluster(
            namespaces=tuple(namespaces[n] for n in sorted(namespaces)),
            pods=pods,
            workloads=tuple(self.workloads),
            policies=tuple(self.policies),
            name=name,
            duplicates=tuple(self.duplicates),
            cluster_policies=tuple(self.cluster_policies),
        )


def _describe(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__} value"
