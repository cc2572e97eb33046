"""Resolving what a user names (`ns/name`, `ns/name[Kind]`, an IP) to endpoints."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from netpolicy.analysis.connlist import pod_name
from netpolicy.model import Cluster, Pod
from netpolicy.semantics import Endpoint, Evaluator, external


class EndpointError(ValueError):
    """The name does not denote a pod, a workload or an address of the input."""


@dataclass(frozen=True, slots=True)
class Resolved:
    name: str
    endpoint: Endpoint
    pod: Pod | None
    note: str = ""


def _owned_by(pod: Pod, name: str, kind: str | None) -> bool:
    if pod.owner is None:
        return False
    if kind is not None and pod.owner.kind != kind and not pod.from_template:
        # a Deployment's pods are owned by its ReplicaSet `<name>-<hash>`
        return (
            kind == "Deployment"
            and pod.owner.kind == "ReplicaSet"
            and (pod.owner.name.rsplit("-", 1)[0] == name)
        )
    if pod.owner.name == name:
        return kind is None or pod.owner.kind == kind
    return pod.owner.kind == "ReplicaSet" and pod.owner.name.rsplit("-", 1)[0] == name


def resolve(cluster: Cluster, evaluator: Evaluator, text: str) -> Resolved:
    """A pod (`ns/name`), a workload (`ns/name`, `ns/name[Kind]`) or an IP address."""
    text = text.strip()
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        for pod in cluster.pods:
            if pod.ip == text and not pod.host_network:
                note = f"{text} is the IP of pod {pod.key}"
                return Resolved(pod_name(pod, False), evaluator.pod_info(pod), pod, note)
        return Resolved(text, external(text), None)
    if "/" not in text:
        if "-" in text and text.count("-") == 1:
            try:
                return Resolved(text, external(text), None)
            except ValueError:
                pass
        text = f"default/{text}"
    ns, rest = text.split("/", 1)
    kind = None
    if rest.endswith("]") and "[" in rest:
        rest, kind = rest[:-1].split("[", 1)
    candidates = [p for p in cluster.pods if p.namespace == ns and not p.host_network]
    for pod in candidates:
        kind_ok = kind in (None, "Pod") or (pod.owner is not None and pod.owner.kind == kind)
        if pod.name == rest and kind_ok:
            return Resolved(pod_name(pod, pod.from_template), evaluator.pod_info(pod), pod)
    owned = [p for p in candidates if _owned_by(p, rest, kind)]
    if owned:
        pod = owned[0]
        note = f"{len(owned)} pods of this workload; showing {pod.key}" if len(owned) > 1 else ""
        owner = pod.owner
        if owner is not None and owner.name == rest:
            label = f"{ns}/{rest}[{owner.kind}]" if owner.kind else f"{ns}/{rest}"
        else:  # pods of the Deployment's ReplicaSet `<rest>-<hash>`
            label = f"{ns}/{rest}[Deployment]"
        return Resolved(label, evaluator.pod_info(pod), pod, note)
    raise EndpointError(f"{text}: no pod, workload or address of that name in the input")
