"""Pod controllers (Deployment, ..., CronJob) and the stand-in pods their templates imply."""

from __future__ import annotations

from collections.abc import Iterable

from netpolicy.model import OwnerRef, Pod, Workload, labels_of

from .fields import ObjectContext, Raw
from .pods import read_container_ports, read_labels, read_meta, read_owner
from .positions import FieldPath

TEMPLATE_PATHS: dict[str, FieldPath] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
"""Where each workload kind keeps its pod template."""

_REPLICA_PATHS: dict[str, FieldPath | None] = {
    "Deployment": ("spec", "replicas"),
    "StatefulSet": ("spec", "replicas"),
    "ReplicaSet": ("spec", "replicas"),
    "ReplicationController": ("spec", "replicas"),
    "DaemonSet": None,
    "Job": ("spec", "parallelism"),
    "CronJob": ("spec", "jobTemplate", "spec", "parallelism"),
}


def _walk(ctx: ObjectContext, obj: Raw, path: FieldPath, *, report: bool = True) -> object:
    """The value at `path`, None when a level is missing or is not a mapping.

    `report` says whether a non-mapping level is reported; walks along a prefix that an
    earlier walk already checked pass False so that one mistake gives one diagnostic.
    """
    value: object = obj
    for i, key in enumerate(path):
        if i and report:
            value = ctx.mapping(value, path[:i])
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def convert_workload(ctx: ObjectContext, obj: Raw, kind: str) -> Workload | None:
    """A workload with its template's labels and container ports; None when invalid."""
    start = ctx.errors
    meta = read_meta(ctx, obj)
    if meta is None:
        return None
    template_path = TEMPLATE_PATHS[kind]
    template = ctx.mapping(_walk(ctx, obj, template_path), template_path) or {}
    template_meta = ctx.mapping(template.get("metadata"), (*template_path, "metadata")) or {}
    labels = read_labels(ctx, template_meta.get("labels"), (*template_path, "metadata", "labels"))
    if not labels and kind == "ReplicationController":
        # The API defaults an RC's template labels from its (map) selector.
        labels = read_labels(
            ctx, _walk(ctx, obj, ("spec", "selector"), report=False), ("spec", "selector")
        )
    pod_spec = ctx.mapping(template.get("spec"), (*template_path, "spec"))
    ports = read_container_ports(ctx, pod_spec, (*template_path, "spec"))
    replicas = 1
    replica_path = _REPLICA_PATHS[kind]
    if replica_path is not None:
        value = ctx.integer(_walk(ctx, obj, replica_path, report=False), replica_path)
        replicas = 1 if value is None else value
    owner = read_owner(ctx, obj)
    if ctx.errors > start:
        return None
    return Workload(
        meta.namespace,
        meta.name,
        kind,
        labels_of(labels),
        ports,
        replicas,
        owner,
        ctx.ref(),
    )


def stand_in_pods(workloads: Iterable[Workload], pods: Iterable[Pod]) -> list[Pod]:
    """One template pod for each workload that nothing loaded is owned by.

    A workload counts as covered when a live pod or another loaded workload (a Deployment's
    ReplicaSet, a CronJob's Job) names it as controller; that one then stands for its pods.
    Pods owned by a ReplicaSet `<deployment>-<hash>` or a Job `<cronjob>-<n>` that was not
    loaded cover that Deployment or CronJob (the controllers name their children so).
    """
    workloads = list(workloads)
    owned = {(p.namespace, p.owner) for p in pods if p.owner is not None}
    owned |= {(w.namespace, w.owner) for w in workloads if w.owner is not None}
    parents = {"ReplicaSet": "Deployment", "Job": "CronJob"}
    owned |= {
        (ns, OwnerRef(parents[o.kind], o.name.rsplit("-", 1)[0]))
        for ns, o in list(owned)
        if o is not None and o.kind in parents and "-" in o.name
    }
    stand_ins = []
    for w in workloads:
        owner = OwnerRef(w.kind, w.name)
        if (w.namespace, owner) in owned:
            continue
        stand_ins.append(
            Pod(
                w.namespace,
                w.name,
                w.labels,
                ip=None,
                ports=w.ports,
                owner=owner,
                from_template=True,
                source=w.source,
            )
        )
    return stand_ins
