"""Which egress-isolated pods can resolve names: UDP 53 and TCP 53 to the cluster DNS."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

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
    it (the pod's egress and the DNS pods' ingress, asked of the one-pair evaluator). Without
    them, when the pod's egress allows port 53 of that protocol to a CoreDNS pod as a cluster
    has it (kube-system, k8s-app=kube-dns; or 5353 to OpenShift's DNS pods), or port 53/5353
    to any pod or outside address of the input: the DNS pods' own ingress is not in the input.
    Needs only the rule tables, not the pairs (`compute_connectivity(pairs=False)` will do).
    """
    servers = dns_classes(result)
    isolated = [i for i, flag in enumerate(result.isolated_egress) if flag]
    if result.tier_tables is not None:
        # guardrails may restrict a class no NetworkPolicy isolates: ask of those too
        _, guarded = result.guarded()
        isolated = sorted(set(isolated) | set(np.flatnonzero(guarded).tolist()))
    if not isolated:
        return {}
    evaluator = result.evaluator
    out: dict[int, DnsReach] = {}
    if servers:
        names = tuple(sorted({_name(result, s) for s in servers}))
        for c in isolated:
            source = result.classes[c].representative
            allowed = [
                ConnectionSet.all()
                if c == s
                else result.class_pairs.get((c, s), ConnectionSet.none())
                if result.has_pairs
                else evaluator.allowed(source, result.classes[s].representative)
                for s in servers
            ]
            blocked = tuple(
                proto for proto, port in DNS_PORTS.items() if not all(a & port for a in allowed)
            )
            out[c] = DnsReach(c, blocked, names)
        return out
    reach = _egress_reach(result)
    if result.tier_tables is not None:
        # the egress side with the tier chain applied (an Admin Deny can cut what a
        # NetworkPolicy allows): every column it reaches
        for c in isolated:
            reach[c] = np.bitwise_or.reduce(result.egress_side(c), axis=0)
    dns = ANY_DNS_PORTS["UDP"] | ANY_DNS_PORTS["TCP"]
    stand_ins = [_stand_in(evaluator, *server) for server in ABSENT_SERVERS]
    # the egress side towards a stand-in depends only on the egress rules selecting the source
    rules_of = _egress_rules_per_class(result)
    towards: dict[tuple[int, ...], ConnectionSet] = {}
    for c in isolated:
        got = result.atoms.connections(reach[c]) & dns
        found = towards.get(rules_of[c])
        if found is None:
            source = result.classes[c].representative
            found = ConnectionSet.union(
                evaluator.side("egress", source, pod).allowed & dns for pod in stand_ins
            )
            towards[rules_of[c]] = found
        got = got | found
        blocked = tuple(proto for proto, port in ANY_DNS_PORTS.items() if not got & port)
        out[c] = DnsReach(c, blocked, ())
    return out


def _egress_rules_per_class(result: Connectivity) -> list[tuple[int, ...]]:
    """Per class, the egress rules (table indices) whose policy selects it."""
    table = result.rule_tables["egress"]
    out: list[list[int]] = [[] for _ in result.classes]
    for r, subjects in enumerate(table.selects):
        for c in subjects.tolist():
            out[c].append(r)
    return [tuple(rules) for rules in out]


def _egress_reach(result: Connectivity) -> NDArray[np.uint64]:
    """Per class, the ports its egress rules open towards some pod or outside address of the
    input (classes x port-atom words)."""
    table = result.rule_tables["egress"]
    reach = np.zeros((len(result.classes), result.atoms.words), dtype=np.uint64)
    for r, subjects in enumerate(table.selects):
        if not len(subjects):
            continue
        mask = np.zeros(result.atoms.words, dtype=np.uint64)
        if len(table.peers_outside[r]):
            mask |= table.static[r]
        peers = table.peers[r]
        if len(peers):
            named = table.by_destination.get(r)
            mask |= table.static[r] if named is None else np.bitwise_or.reduce(named[peers], axis=0)
        reach[subjects] |= mask
    return reach


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
