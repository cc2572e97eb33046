"""Cluster-wide policies (AdminNetworkPolicy, BaselineAdminNetworkPolicy, ClusterNetworkPolicy)
compiled once into matchers, and the tier chain that decides a direction with them.

Per direction, as the network-policy-api types specify:

1. the Admin tier (ANPs and Admin CNPs) by ascending priority, rules in written order: the
   first rule matching the peer and the port decides it: Allow/Accept and Deny are final,
   Pass skips the rest of the tier;
2. then NetworkPolicy: if any NetworkPolicy selects the pod in that direction, it decides;
3. otherwise the Baseline tier (the BANP, Baseline CNPs), first match again (Pass there goes
   to the next tier: the default);
4. otherwise the connection is allowed.

Verdicts differ per port, so a tier answers with port sets: what it allows, and what it
decides at all (allowed, denied or passed); the rest falls through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from netpolicy.model import AdminPeer, AdminPort, ClusterPolicy, SourceRef
from netpolicy.semantics.addresses import network_set
from netpolicy.semantics.compile import Direction, Endpoint, External, PodInfo, peers_addresses
from netpolicy.semantics.connections import ConnectionSet
from netpolicy.semantics.intervals import IntervalSet
from netpolicy.semantics.selectors import selector_matches


@dataclass(frozen=True, slots=True)
class CompiledAdminPeer:
    """One `from`/`to` entry of a cluster-wide rule as a matcher."""

    index: int
    peer: AdminPeer
    addresses: IntervalSet
    """The networks' addresses (empty for other peer kinds)."""

    @property
    def is_network(self) -> bool:
        return bool(self.peer.networks)

    def matches_pod(self, pod: PodInfo) -> bool:
        peer = self.peer
        if peer.networks:
            # "cluster-internal traffic will be checked against the rule as well": by pod IP
            return pod.address is not None and pod.address in self.addresses
        if peer.namespace_selector is None:
            # nodes and domainNames: undecidable from the input, taken to match nothing
            # (the loader warns that the verdicts they touch are open)
            return False
        if pod.host_network:
            # "Note that host-networked pods are not included in this type of peer"
            return False
        # "Namespaces defines a way to select all pods within a set of Namespaces";
        # "Pods defines a way to select a set of pods in a set of namespaces"
        if not selector_matches(peer.namespace_selector, pod.namespace_labels):
            return False
        return peer.pod_selector is None or selector_matches(peer.pod_selector, pod.labels)

    def matched_addresses(self, addresses: IntervalSet) -> IntervalSet:
        """The part of `addresses` (outside the pods) this peer matches."""
        return addresses & self.addresses if self.peer.networks else IntervalSet.empty()


def admin_port_connections(port: AdminPort, destination: Endpoint) -> ConnectionSet:
    """The ports one entry selects towards `destination` (named ports resolve on pods)."""
    if isinstance(port.port, int):
        # portNumber / portRange (start..end inclusive); protocol defaults to TCP
        return ConnectionSet.port(port.protocol or "TCP", port.port, port.end_port or port.port)
    if isinstance(destination, External):
        # "there are no namedPorts for networks/nodes/domainNames"
        return ConnectionSet.none()
    # "NamedPort selects a port on a pod(s) based on name": any protocol of that name
    out = ConnectionSet.none()
    for cp in destination.ports:
        if cp.name == port.port:
            out = out | ConnectionSet.port(cp.protocol, cp.port)
    return out


@dataclass(frozen=True, slots=True)
class CompiledAdminRule:
    policy: ClusterPolicy
    direction: Direction
    index: int
    action: str
    name: str
    peers: tuple[CompiledAdminPeer, ...]
    ports: tuple[AdminPort, ...]
    source: SourceRef

    @property
    def allows(self) -> bool:
        # Allow (v1alpha1) and Accept (v1alpha2) are the same final decision
        return self.action in ("Allow", "Accept")

    @property
    def id(self) -> str:
        named = f" ({self.name})" if self.name else ""
        return f"{self.policy.key} {self.direction} rule #{self.index + 1}{named}"

    @property
    def has_named_ports(self) -> bool:
        return any(isinstance(p.port, str) for p in self.ports)

    def connections_for(self, destination: Endpoint) -> ConnectionSet:
        """The ports this rule selects towards `destination`; no ports = every port."""
        if not self.ports:
            # "If Ports is not set then the rule does not filter traffic via port"
            return ConnectionSet.all()
        return ConnectionSet.union(admin_port_connections(p, destination) for p in self.ports)

    def static_connections(self) -> ConnectionSet:
        """The ports selected whatever the destination (named ports left out)."""
        if not self.ports:
            return ConnectionSet.all()
        return ConnectionSet.union(
            admin_port_connections(p, External(IntervalSet.empty()))
            for p in self.ports
            if isinstance(p.port, int)
        )

    def matches(self, endpoint: Endpoint) -> bool:
        """Whether a peer of this rule matches `endpoint` (all of the range, for outside)."""
        if isinstance(endpoint, PodInfo):
            return any(p.matches_pod(endpoint) for p in self.peers)
        return any(
            endpoint.addresses.is_subset(p.matched_addresses(endpoint.addresses))
            for p in self.peers
        )

    def peer_addresses(self) -> IntervalSet:
        return peers_addresses(self.peers)


@dataclass(frozen=True, slots=True)
class CompiledClusterPolicy:
    policy: ClusterPolicy
    ingress: tuple[CompiledAdminRule, ...]
    egress: tuple[CompiledAdminRule, ...]

    @property
    def key(self) -> str:
        return self.policy.key

    def selects(self, pod: PodInfo) -> bool:
        # "Note that host-networked pods are not included in subject selection"
        if pod.host_network:
            return False
        if not selector_matches(self.policy.namespace_selector, pod.namespace_labels):
            return False
        selector = self.policy.pod_selector
        return selector is None or selector_matches(selector, pod.labels)

    def rules(self, direction: Direction) -> tuple[CompiledAdminRule, ...]:
        return self.ingress if direction == "ingress" else self.egress


def compile_cluster_policy(policy: ClusterPolicy) -> CompiledClusterPolicy:
    def rules(direction: Direction) -> tuple[CompiledAdminRule, ...]:
        written = policy.ingress if direction == "ingress" else policy.egress
        return tuple(
            CompiledAdminRule(
                policy,
                direction,
                i,
                rule.action,
                rule.name,
                tuple(
                    CompiledAdminPeer(
                        j,
                        peer,
                        _networks(peer.networks),
                    )
                    for j, peer in enumerate(rule.peers)
                ),
                rule.ports,
                rule.source,
            )
            for i, rule in enumerate(written)
        )

    return CompiledClusterPolicy(policy, rules("ingress"), rules("egress"))


@dataclass(frozen=True, slots=True)
class TierStep:
    """One link of a direction's chain: who decided which ports, and how."""

    tier: str
    """`Admin`, `NetworkPolicy`, `Baseline` or `default`."""
    rule: str
    action: str
    """`Allow`, `Accept`, `Deny`, `Pass`; for the NetworkPolicy tier `Allow` or `Deny`."""
    connections: ConnectionSet
    source: SourceRef = field(default_factory=SourceRef)

    def describe(self) -> str:
        return f"{self.rule} {self.action}"


@dataclass(frozen=True, slots=True)
class TierOutcome:
    """What one tier decided for a direction: the ports it allows and those it denies (what
    it passes or no rule matches falls through to the next tier), with the rules that
    decided, in precedence order."""

    allowed: ConnectionSet
    denied: ConnectionSet
    steps: tuple[TierStep, ...]

    @property
    def through(self) -> ConnectionSet:
        """The ports left to the next tier (passed, or matched by no rule)."""
        return ConnectionSet.all() - self.allowed - self.denied


Rule = TypeVar("Rule")


class Tiers:
    """The cluster-wide policies of a cluster, compiled and ordered for evaluation."""

    def __init__(self, policies: tuple[ClusterPolicy, ...]) -> None:
        compiled = [compile_cluster_policy(p) for p in policies]
        # "Policies with lower priority values have higher precedence"; one priority: input
        # order (the API leaves it undefined, and the loader warns where it matters)
        self.admin = tuple(sorted((c for c in compiled if c.policy.tier == "Admin"), key=_priority))
        self.baseline = tuple(
            sorted((c for c in compiled if c.policy.tier == "Baseline"), key=_priority)
        )
        self.all = (*self.admin, *self.baseline)

    def __bool__(self) -> bool:
        return bool(self.all)

    def tier(self, name: str) -> tuple[CompiledClusterPolicy, ...]:
        return self.admin if name == "Admin" else self.baseline

    def outcome(
        self,
        name: str,
        direction: Direction,
        subject: PodInfo,
        other: Endpoint,
        destination: Endpoint,
    ) -> TierOutcome:
        """First match per port over the tier's policies selecting `subject`."""
        allowed = denied = ConnectionSet.none()
        steps: list[TierStep] = []
        matching = (
            rule
            for cp in self.tier(name)
            if cp.selects(subject)
            for rule in cp.rules(direction)
            if rule.matches(other)
        )
        for rule, hit in first_matches(
            matching, lambda r: r.connections_for(destination), ConnectionSet.all()
        ):
            if hit.is_empty():
                continue
            if rule.allows:
                allowed = allowed | hit
            elif rule.action == "Deny":
                denied = denied | hit
            steps.append(TierStep(name, rule.id, rule.action, hit, rule.source))
        return TierOutcome(allowed, denied, tuple(steps))


def first_matches(
    rules: Iterable[Rule],
    ports: Callable[[Rule], ConnectionSet],
    remaining: ConnectionSet,
    *,
    every_rule: bool = False,
) -> Iterator[tuple[Rule, ConnectionSet]]:
    """Within one tier, the first matching rule decides each port: for each matching rule
    in precedence order, the ports of `remaining` it decides (possibly none: an earlier rule
    took them). Allow/Accept and Deny are final, Pass "skips all further rules in the
    current tier"; either way a later rule never sees those ports. Stops once every port
    of `remaining` is decided, unless `every_rule` (a caller that also keeps what ports
    cannot say, like unresolved port names)."""
    for rule in rules:
        if remaining.is_empty() and not every_rule:
            return
        hit = ports(rule) & remaining
        remaining = remaining - hit
        yield rule, hit


def _networks(cidrs: tuple[str, ...]) -> IntervalSet:
    out = IntervalSet.empty()
    for cidr in cidrs:
        out = out | network_set(cidr)
    return out


def _priority(cp: CompiledClusterPolicy) -> int:
    return cp.policy.priority


def describe_chain(steps: tuple[TierStep, ...], probe: ConnectionSet | None = None) -> str:
    """`ANP deny-tenants ingress rule #2 Pass -> NP x/backend ingress rule #1 Allow`: the
    links that decided (part of) `probe` (default: every port), in evaluation order."""
    shown = [s for s in steps if probe is None or s.connections & probe]
    return " -> ".join(s.describe() for s in shown)
