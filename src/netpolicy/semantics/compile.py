"""Policies compiled once into matchers; evaluation never reads the API objects again."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, Protocol

from netpolicy.model import (
    NAMESPACE_NAME_LABEL,
    ContainerPort,
    NetworkPolicy,
    Peer,
    PolicyPort,
    Rule,
    SourceRef,
)
from netpolicy.model import (
    Protocol as PortProtocol,
)
from netpolicy.semantics.addresses import ALL_ADDRESSES, ipblock_set
from netpolicy.semantics.connections import ConnectionSet
from netpolicy.semantics.intervals import IntervalSet
from netpolicy.semantics.selectors import selector_matches

Direction = Literal["ingress", "egress"]


@dataclass(eq=False, slots=True)
class PodInfo:
    """What policy evaluation needs to know of a pod: trimmed at the boundary."""

    namespace: str
    name: str
    labels: Mapping[str, str]
    namespace_labels: Mapping[str, str]
    ports: tuple[ContainerPort, ...] = ()
    address: int | None = None
    """The pod IP in the shared address space, if known."""
    host_network: bool = False
    """A host-network pod: its traffic is the node's, so selectors never match it."""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class External:
    """Addresses outside the cluster's pods: one range (or one address) of the address space."""

    addresses: IntervalSet


Endpoint = PodInfo | External


@dataclass(frozen=True, slots=True)
class CompiledPeer:
    """One `from`/`to` entry as a matcher; `index` is its position in the rule (0-based)."""

    index: int
    policy_namespace: str
    peer: Peer | None
    """None for the implicit "every peer" of a rule without `from`/`to`."""
    addresses: IntervalSet = field(default_factory=IntervalSet.empty)

    @property
    def is_ip_block(self) -> bool:
        return self.peer is not None and self.peer.ip_block is not None

    def matches_pod(self, pod: PodInfo) -> bool:
        peer = self.peer
        if peer is None:
            # "If this field is empty or missing, this rule matches all sources/destinations"
            return True
        if peer.ip_block is not None:
            # ipBlock against a pod: decided by the pod's IP (as the conformance tests do)
            return pod.address is not None and pod.address in self.addresses
        if pod.host_network:
            # "traffic to/from hostNetwork pods is treated the same as all other traffic to/from
            # the node IP" (the most common implementation, per the NetworkPolicy docs)
            return False
        if peer.namespace_selector is not None:
            # "namespaceSelector: selects namespaces using cluster-scoped labels"
            if not selector_matches(peer.namespace_selector, pod.namespace_labels):
                return False
        elif pod.namespace != self.policy_namespace:
            # "podSelector alone: selects pods in the same namespace as the NetworkPolicy"
            return False
        # "If namespaceSelector is also set, the peer is the pods matching podSelector in
        # the namespaces selected by namespaceSelector"; a missing podSelector means all pods
        return peer.pod_selector is None or selector_matches(peer.pod_selector, pod.labels)

    def matched_addresses(self, addresses: IntervalSet) -> IntervalSet:
        """The part of `addresses` (outside the pods) that this peer matches."""
        if self.peer is None:
            return addresses
        if self.peer.ip_block is None:
            return IntervalSet.empty()
        return addresses & self.addresses


@dataclass(frozen=True, slots=True)
class CompiledPort:
    """One `ports` entry; named ports are resolved per destination pod."""

    index: int
    port: PolicyPort

    @property
    def is_named(self) -> bool:
        return isinstance(self.port.port, str)

    def connections_for(self, destination: Endpoint) -> ConnectionSet:
        p = self.port
        if not isinstance(p.port, str):
            return _numbered(p.protocol, p.port, p.end_port)
        if isinstance(destination, External):
            # a named port can only be resolved on a pod
            return ConnectionSet.none()
        numbers = [
            cp.port for cp in destination.ports if cp.name == p.port and cp.protocol == p.protocol
        ]
        return ConnectionSet({p.protocol: IntervalSet((n, n) for n in numbers)})


@lru_cache(maxsize=1 << 16)  # policies repeat the same few port specs
def _numbered(protocol: PortProtocol, port: int | None, end_port: int | None) -> ConnectionSet:
    if port is None:
        # "If this field is not provided, this matches all port names and numbers"
        return ConnectionSet.of(protocol)
    return ConnectionSet.port(protocol, port, end_port or port)


@lru_cache(maxsize=1 << 16)
def _static(numbered: tuple[tuple[PortProtocol, int | None, int | None], ...]) -> ConnectionSet:
    return ConnectionSet.union(_numbered(*spec) for spec in numbered)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    policy: NetworkPolicy
    direction: Direction
    index: int
    peers: tuple[CompiledPeer, ...]
    ports: tuple[CompiledPort, ...]
    source: SourceRef

    @property
    def id(self) -> str:
        return f"{self.policy.key} {self.direction} rule #{self.index + 1}"

    @property
    def has_named_ports(self) -> bool:
        return any(p.is_named for p in self.ports)

    @property
    def all_ports(self) -> bool:
        return not self.ports

    def connections_for(self, destination: Endpoint) -> ConnectionSet:
        """The ports this rule opens towards `destination` (the pod whose ports are named)."""
        if not self.ports:
            # "If this field is empty or missing, this rule matches all ports"
            return ConnectionSet.all()
        return ConnectionSet.union(p.connections_for(destination) for p in self.ports)

    static: ConnectionSet = field(init=False, compare=False, repr=False)
    """The ports opened regardless of the destination (named ports left out)."""

    def __post_init__(self) -> None:
        numbered = tuple(
            (p.port.protocol, p.port.port, p.port.end_port) for p in self.ports if not p.is_named
        )
        static = _static(numbered) if self.ports else ConnectionSet.all()
        object.__setattr__(self, "static", static)

    def static_connections(self) -> ConnectionSet:
        """The ports opened regardless of the destination (named ports left out)."""
        return self.static

    def matching_peers(self, endpoint: Endpoint) -> list[CompiledPeer]:
        """The peers of this rule that match `endpoint` (all of the range, for outside)."""
        if isinstance(endpoint, PodInfo):
            return [p for p in self.peers if p.matches_pod(endpoint)]
        return [
            p
            for p in self.peers
            if endpoint.addresses.is_subset(p.matched_addresses(endpoint.addresses))
        ]

    def peer_addresses(self) -> IntervalSet:
        """The outside addresses this rule's peers match."""
        return peers_addresses(self.peers)


class HasAddresses(Protocol):
    def matched_addresses(self, addresses: IntervalSet) -> IntervalSet: ...


def peers_addresses(peers: Iterable[HasAddresses]) -> IntervalSet:
    """The outside addresses any of `peers` matches (NetworkPolicy and guardrail rules)."""
    out = IntervalSet.empty()
    for p in peers:
        out = out | p.matched_addresses(ALL_ADDRESSES)
    return out


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    policy: NetworkPolicy
    ingress: tuple[CompiledRule, ...]
    egress: tuple[CompiledRule, ...]

    @property
    def key(self) -> str:
        return self.policy.key

    def selects(self, pod: PodInfo) -> bool:
        # "podSelector selects the pods to which this NetworkPolicy object applies ...
        # An empty podSelector selects all pods in this namespace"; host-network pods are
        # ignored by podSelector in the common implementation
        return (
            not pod.host_network
            and pod.namespace == self.policy.namespace
            and selector_matches(self.policy.pod_selector, pod.labels)
        )

    def rules(self, direction: Direction) -> tuple[CompiledRule, ...]:
        return self.ingress if direction == "ingress" else self.egress

    def isolates(self, direction: Direction) -> bool:
        return self.policy.affects_ingress if direction == "ingress" else self.policy.affects_egress


def _compile_rule(
    policy: NetworkPolicy, rule: Rule, direction: Direction, index: int
) -> CompiledRule:
    if rule.peers:
        peers = tuple(
            CompiledPeer(
                i,
                policy.namespace,
                peer,
                ipblock_set(peer.ip_block) if peer.ip_block is not None else IntervalSet.empty(),
            )
            for i, peer in enumerate(rule.peers)
        )
    else:
        peers = (CompiledPeer(0, policy.namespace, None),)
    ports = tuple(CompiledPort(i, p) for i, p in enumerate(rule.ports))
    return CompiledRule(policy, direction, index, peers, ports, rule.source)


def compile_policy(policy: NetworkPolicy) -> CompiledPolicy:
    """A validated NetworkPolicy as matchers. Rules of a policy type not in effect are dropped."""
    ingress = (
        tuple(_compile_rule(policy, r, "ingress", i) for i, r in enumerate(policy.ingress))
        if policy.affects_ingress
        else ()
    )
    egress = (
        tuple(_compile_rule(policy, r, "egress", i) for i, r in enumerate(policy.egress))
        if policy.affects_egress
        else ()
    )
    return CompiledPolicy(policy, ingress, egress)


def namespace_labels(name: str, labels: Mapping[str, str] | None) -> dict[str, str]:
    """A namespace's labels including the automatic `kubernetes.io/metadata.name`."""
    out = dict(labels or {})
    out[NAMESPACE_NAME_LABEL] = name
    return out
