"""Which egress-isolated pods can resolve names: UDP 53 and TCP 53 to the cluster DNS."""

from __future__ import annotations

from dataclasses import dataclass

from netpolicy.analysis.connectivity import Connectivity
from netpolicy.model import ContainerPort, Protocol
from netpolicy.semantics import ConnectionSet, Evaluator, PodInfo

DNS_NAMESPACE = "kube-system"
DNS_LABEL = ("k8s-app", "kube-dns")
"""How CoreDNS and kube-dns pods are labelled in every common distribution."""

DNS_PORTS: dict[Protocol, ConnectionSet] = {
    "UDP": ConnectionSet.port("UDP", 53),
    "TCP": ConnectionSet.port("TCP", 53),
}
ANY_DNS_PORTS: dict[Protocol, ConnectionSet] = {
    "UDP": ConnectionSet.port("UDP", 53) | ConnectionSet.port("UDP", 5353),
    "TCP": ConnectionSet.port("TCP", 53) | ConnectionSet.port("TCP", 5353),
}
"""Without DNS pods in the input: 53, or 5353 where OpenShift's DNS pods listen (policies see
the pod's port, after the service's port 53 is translated)."""


@dataclass(frozen=True, slots=True)
class DnsReach:
    """What one egress-isolated class can reach of DNS; `blocked` lists the protocols it cannot."""

    cls: int
    blocked: tuple[Protocol, ...]
    targets: tuple[str, ...]
    """The DNS pods (`ns/name` or workload) checked, or () when any address counts."""

    @property
    def ok(self) -> bool:
        return not self.blocked


def dns_classes(result: Connectivity) -> list[int]:
    """The classes of the cluster DNS pods (kube-system, k8s-app=kube-dns), if the input has any."""
    key, value = DNS_LABEL
    return [
        c.index
        for c in result.classes
        if c.representative.namespace == DNS_NAMESPACE
        and c.representative.labels.get(key) == value
        and not c.representative.host_network
    ]


def dns_reach(result: Connectivity) -> dict[int, DnsReach]:
    """For every class isolated for egress: which DNS protocols its pods cannot use.

    With DNS pods in the input, a protocol counts as reachable when every DNS class allows
    it (both the pod's egress and the DNS pods' ingress, as the engine decided). Without them,
    when the pod's egress allows port 53 of that protocol to a CoreDNS pod as the cluster has
    it (kube-system, k8s-app=kube-dns; or 5353 to OpenShift's DNS pods), or port 53/5353 to
    any pod or outside address of the input.
    """
    servers = dns_classes(result)
    isolated = [i for i, flag in enumerate(result.isolated_egress) if flag]
    if not isolated:
        return {}
    out: dict[int, DnsReach] = {}
    if servers:
        names = tuple(sorted({_name(result, s) for s in servers}))
        for c in isolated:
            blocked = tuple(
                proto
                for proto, port in DNS_PORTS.items()
                if not all(
                    c == s or result.class_pairs.get((c, s), ConnectionSet.none()) & port
                    for s in servers
                )
            )
            out[c] = DnsReach(c, blocked, names)
        return out
    reach: dict[int, ConnectionSet] = {}
    dns = ANY_DNS_PORTS["UDP"] | ANY_DNS_PORTS["TCP"]
    wanted = set(isolated)
    for (s, _d), conns in result.class_pairs.items():
        if s in wanted:
            reach[s] = reach.get(s, ConnectionSet.none()) | (conns & dns)
    for (s, _e), conns in result.to_outside.items():
        if s in wanted:
            reach[s] = reach.get(s, ConnectionSet.none()) | (conns & dns)
    stand_ins = [_stand_in(result.evaluator, *server) for server in ABSENT_SERVERS]
    for c in isolated:
        got = reach.get(c, ConnectionSet.none())
        source = result.classes[c].representative
        for pod in stand_ins:
            got = got | (result.evaluator.side("egress", source, pod).allowed & dns)
        blocked = tuple(proto for proto, port in ANY_DNS_PORTS.items() if not got & port)
        out[c] = DnsReach(c, blocked, ())
    return out


ABSENT_SERVERS: tuple[tuple[str, str, tuple[tuple[str, str], ...], int], ...] = (
    (DNS_NAMESPACE, "coredns", (DNS_LABEL,), 53),
    (
        "openshift-dns",
        "dns-default",
        (("dns.operator.openshift.io/daemonset-dns", "default"),),
        5353,
    ),
)
"""The DNS pods a cluster has even when the input leaves them out: CoreDNS in kube-system, and
OpenShift's in openshift-dns (port 5353)."""


def _stand_in(
    evaluator: Evaluator, namespace: str, name: str, labels: tuple[tuple[str, str], ...], port: int
) -> PodInfo:
    """A DNS pod the input does not hold, as egress rules would see it."""
    ports = (ContainerPort(port, "UDP", "dns"), ContainerPort(port, "TCP", "dns-tcp"))
    return PodInfo(namespace, name, dict(labels), evaluator.namespace_labels(namespace), ports)


def _name(result: Connectivity, cls: int) -> str:
    pod = result.classes[cls].pods[0]
    if pod.owner is not None:
        return f"{pod.namespace}/{pod.owner.name}"
    return f"{pod.namespace}/{pod.name}"
