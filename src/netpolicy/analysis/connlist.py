"""The connection list: allowed connections between named endpoints (pods, workloads, ranges)."""

from __future__ import annotations

from dataclasses import dataclass

from netpolicy.analysis.connectivity import Connectivity
from netpolicy.model import Pod
from netpolicy.semantics import ConnectionSet, IntervalSet, format_range


@dataclass(frozen=True, slots=True)
class Connection:
    """Allowed traffic from `src` to `dst` (endpoint names as the output contract writes them)."""

    src: str
    dst: str
    connections: ConnectionSet


def pod_name(pod: Pod, workloads: bool) -> str:
    """`ns/name` for a pod, `ns/name[Kind]` for a workload's stand-in (or owner, on request)."""
    if pod.from_template and pod.owner is not None:
        return f"{pod.namespace}/{pod.owner.name}[{pod.owner.kind}]"
    if workloads and pod.owner is not None:
        if not pod.owner.kind:
            return f"{pod.namespace}/{pod.owner.name}"
        return f"{pod.namespace}/{pod.owner.name}[{pod.owner.kind}]"
    return f"{pod.namespace}/{pod.name}"


def endpoint_name(endpoint: Pod | IntervalSet, workloads: bool) -> str:
    if isinstance(endpoint, IntervalSet):
        lo, hi = endpoint.ranges[0]
        return format_range(lo, hi)
    return pod_name(endpoint, workloads)


def _matches_focus(name: str, focus: str) -> bool:
    """`ns/name` focus matches a pod or a workload of that name (with any kind suffix)."""
    base = name.split("[", 1)[0]
    if "/" in focus:
        return focus in (base, name)
    return base.split("/", 1)[-1] == focus


def connection_list(
    result: Connectivity,
    *,
    workloads: bool = False,
    focus: str | None = None,
    namespace: str | None = None,
) -> list[Connection]:
    """Allowed connections, aggregated per endpoint name, sorted by (src, dst)."""
    merged: dict[tuple[str, str], ConnectionSet] = {}

    def add(src: str, dst: str, conns: ConnectionSet) -> None:
        if src == dst:
            return
        if focus is not None and not (_matches_focus(src, focus) or _matches_focus(dst, focus)):
            return
        if namespace is not None and not (
            src.startswith(namespace + "/") or dst.startswith(namespace + "/")
        ):
            return
        key = (src, dst)
        prev = merged.get(key)
        merged[key] = conns if prev is None else prev | conns

    names = [sorted({pod_name(p, workloads) for p in c.pods}) for c in result.classes]
    outside = [endpoint_name(r, workloads) for r in result.outside]
    for (s, d), conns in result.class_pairs.items():
        for src in names[s]:
            for dst in names[d]:
                add(src, dst, conns)
    for (s, e), conns in result.to_outside.items():
        for src in names[s]:
            add(src, outside[e], conns)
    for (e, d), conns in result.from_outside.items():
        for dst in names[d]:
            add(outside[e], dst, conns)
    return [Connection(s, d, c) for (s, d), c in sorted(merged.items())]
