"""The one-pair evaluator: a Decision with the reasons that decided it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from netpolicy.model import Cluster, NetworkPolicy, Pod, Protocol, SourceRef
from netpolicy.semantics.addresses import address_value, parse_range
from netpolicy.semantics.compile import (
    CompiledPolicy,
    CompiledRule,
    Direction,
    Endpoint,
    External,
    PodInfo,
    compile_policy,
    namespace_labels,
)
from netpolicy.semantics.connections import ConnectionSet
from netpolicy.semantics.intervals import IntervalSet
from netpolicy.semantics.selectors import selector_matches
from netpolicy.semantics.tiers import Tiers, TierStep


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """A rule that allowed (part of) a connection: which peer matched, which ports it opened."""

    rule_id: str
    policy: str
    direction: Direction
    rule_index: int
    peer_index: int
    connections: ConnectionSet
    source: SourceRef


@dataclass(frozen=True, slots=True)
class RuleMiss:
    """A rule of a selecting policy that did not allow the probe, and what did not match."""

    rule_id: str
    policy: str
    rule_index: int
    peer_matched: bool
    port_matched: bool
    why: str
    source: SourceRef


@dataclass(frozen=True, slots=True)
class Side:
    """The verdict of one direction: egress of the source or ingress of the destination."""

    direction: Direction
    applies: bool
    """False when the side is outside the cluster (no policy can govern it)."""
    isolated: bool
    policies: tuple[str, ...]
    allowed: ConnectionSet
    matches: tuple[RuleMatch, ...] = ()
    misses: tuple[RuleMiss, ...] = ()
    chain: tuple[TierStep, ...] = ()
    """With cluster-wide policies: the tiers' links that decided, in evaluation order
    (Admin rules, then NetworkPolicy or Baseline rules, then the default)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether src may open a connection to dst on one (protocol, port), and why."""

    allowed: bool
    protocol: Protocol | None
    port: int | str | None
    egress: Side
    ingress: Side
    self_traffic: bool = False
    notes: tuple[str, ...] = field(default=())
    port_number: int | None = None
    """The number a named `port` resolved to on the destination, if it did."""

    @property
    def connections(self) -> ConnectionSet:
        return self.egress.allowed & self.ingress.allowed


HostNetworkMode = Literal["node", "pod"]
"""How host-network pods are treated; the NetworkPolicy docs allow both:
`node`: "ignored by podSelector and namespaceSelector; traffic treated as traffic to/from the
node IP" (the most common implementation); `pod`: "policies applied just like pod-network pods"."""


class Evaluator:
    """Compiles a cluster's policies once and answers questions about pairs of endpoints.

    Policies are compiled on first use, namespace by namespace, so that one question about a
    large cluster (`explain`) does not pay for compiling every policy.
    """

    def __init__(self, cluster: Cluster, host_network: HostNetworkMode = "node") -> None:
        self.cluster = cluster
        self.host_network = host_network
        self._ns_labels = {
            ns.name: namespace_labels(ns.name, dict(ns.labels)) for ns in cluster.namespaces
        }
        self._raw_by_namespace: dict[str, list[NetworkPolicy]] = {}
        for p in cluster.policies:
            self._raw_by_namespace.setdefault(p.namespace, []).append(p)
        self._compiled: dict[int, CompiledPolicy] = {}
        self._by_namespace: dict[str, list[CompiledPolicy]] = {}
        self._all: tuple[CompiledPolicy, ...] | None = None
        self.tiers = Tiers(cluster.cluster_policies)

    def _compile(self, policy: NetworkPolicy) -> CompiledPolicy:
        found = self._compiled.get(id(policy))
        if found is None:
            found = compile_policy(policy)
            self._compiled[id(policy)] = found
        return found

    @property
    def policies(self) -> tuple[CompiledPolicy, ...]:
        """Every policy of the cluster, compiled, in input order."""
        if self._all is None:
            self._all = tuple(self._compile(p) for p in self.cluster.policies)
        return self._all

    def namespace_policies(self, namespace: str) -> list[CompiledPolicy]:
        found = self._by_namespace.get(namespace)
        if found is None:
            found = [self._compile(p) for p in self._raw_by_namespace.get(namespace, ())]
            self._by_namespace[namespace] = found
        return found

    def namespace_labels(self, name: str) -> dict[str, str]:
        return self._ns_labels.get(name) or namespace_labels(name, None)

    def pod_info(self, pod: Pod) -> PodInfo:
        address = None
        if pod.ip:
            try:
                address = address_value(pod.ip)
            except ValueError:
                address = None
        return PodInfo(
            pod.namespace,
            pod.name,
            dict(pod.labels),
            self.namespace_labels(pod.namespace),
            pod.ports,
            address,
            pod.host_network and self.host_network == "node",
        )

    def policies_selecting(self, pod: PodInfo, direction: Direction) -> list[CompiledPolicy]:
        """The policies that select `pod` and isolate it in `direction`."""
        return [
            cp
            for cp in self.namespace_policies(pod.namespace)
            if cp.isolates(direction) and cp.selects(pod)
        ]

    def side(self, direction: Direction, subject: Endpoint, other: Endpoint) -> Side:
        """What `subject`'s policies allow towards (egress) or from (ingress) `other`."""
        side_ = self._np_side(direction, subject, other)
        if not self.tiers or isinstance(subject, External):
            return side_
        return self._tier_side(side_, subject, other)

    def _tier_side(self, np_side: Side, subject: PodInfo, other: Endpoint) -> Side:
        """The tier chain: Admin first match, then NetworkPolicy where it selects the pod,
        else Baseline first match, then allow."""
        direction = np_side.direction
        destination = other if direction == "egress" else subject
        admin = self.tiers.outcome("Admin", direction, subject, other, destination)
        rest = admin.through
        steps = list(admin.steps)
        if np_side.isolated:
            # "v1.NetworkPolicy always makes a final decision for selected pods"
            after = np_side.allowed
            for m in np_side.matches:
                if m.connections & rest:
                    steps.append(
                        TierStep(
                            "NetworkPolicy",
                            f"NP {m.rule_id}",
                            "Allow",
                            m.connections & rest,
                            m.source,
                        )
                    )
            denied = rest - after
            if denied:
                steps.append(
                    TierStep(
                        "NetworkPolicy",
                        f"NP {', '.join(np_side.policies)} (isolated, no rule)",
                        "Deny",
                        denied,
                    )
                )
        else:
            baseline = self.tiers.outcome("Baseline", direction, subject, other, destination)
            # a Baseline Pass goes on to the default, as does what no rule decided
            after = ConnectionSet.all() - baseline.denied
            steps += [
                TierStep(s.tier, s.rule, s.action, s.connections & rest, s.source)
                for s in baseline.steps
                if s.connections & rest
            ]
            open_ = rest & baseline.through
            if open_ and steps:
                steps.append(TierStep("default", "default", "Allow", open_))
        allowed = admin.allowed | (rest & after)
        return Side(
            direction,
            True,
            np_side.isolated,
            np_side.policies,
            allowed,
            np_side.matches,
            np_side.misses,
            tuple(steps),
        )

    def _np_side(self, direction: Direction, subject: Endpoint, other: Endpoint) -> Side:
        """What `subject`'s NetworkPolicies allow towards (egress) or from (ingress) `other`."""
        if isinstance(subject, External):
            return Side(direction, False, False, (), ConnectionSet.all())
        selecting = self.policies_selecting(subject, direction)
        if not selecting:
            # "By default, a pod is non-isolated"
            return Side(direction, True, False, (), ConnectionSet.all())
        destination = other if direction == "egress" else subject
        allowed = ConnectionSet.none()
        matches: list[RuleMatch] = []
        for cp in selecting:
            for rule in cp.rules(direction):
                peers = rule.matching_peers(other)
                if not peers:
                    continue
                conns = rule.connections_for(destination)
                if conns.is_empty():
                    continue
                allowed = allowed | conns
                matches.append(
                    RuleMatch(
                        rule.id, cp.key, direction, rule.index, peers[0].index, conns, rule.source
                    )
                )
        return Side(
            direction,
            True,
            True,
            tuple(cp.key for cp in selecting),
            allowed,
            tuple(matches),
        )

    def allowed(self, src: Endpoint, dst: Endpoint) -> ConnectionSet:
        """Every (protocol, port) on which src may connect to dst."""
        if src is dst or (
            isinstance(src, PodInfo)
            and isinstance(dst, PodInfo)
            and src.namespace == dst.namespace
            and src.name == dst.name
        ):
            # traffic from a pod to itself is always allowed
            return ConnectionSet.all()
        return self.side("egress", src, dst).allowed & self.side("ingress", dst, src).allowed

    def decide(self, src: Endpoint, dst: Endpoint, protocol: Protocol, port: int | str) -> Decision:
        """The verdict for one probe, with the rules that allowed it or missed it."""
        number = self._port_number(dst, protocol, port)
        self_traffic = isinstance(src, PodInfo) and isinstance(dst, PodInfo) and src.key == dst.key
        egress = self.side("egress", src, dst)
        ingress = self.side("ingress", dst, src)
        if number is not None:
            probe = ConnectionSet.port(protocol, number)
            egress = self._with_misses(_chain_for(egress, probe), src, dst, probe)
            ingress = self._with_misses(_chain_for(ingress, probe), dst, src, probe)
            allowed = self_traffic or (
                egress.allowed.allows(protocol, number) and ingress.allowed.allows(protocol, number)
            )
        else:
            allowed = self_traffic
        notes: list[str] = []
        if self_traffic:
            notes.append("traffic from a pod to itself is always allowed")
        if number is None:
            notes.append(
                f"port name {port!r} is not a {protocol} container port of the destination"
            )
        for side_, peer in ((egress, dst), (ingress, src)):
            if not isinstance(peer, PodInfo):
                continue
            for m in side_.matches:
                if self._matched_by_ip_block(m, side_):
                    notes.append(
                        "a pod matched an ipBlock by its IP; real network plugins may differ "
                        "for pod IPs"
                    )
                    break
        return Decision(
            allowed, protocol, port, egress, ingress, self_traffic, tuple(notes), number
        )

    def decide_all(self, src: Endpoint, dst: Endpoint) -> Decision:
        """The verdict over every port: allowed when any (protocol, port) is."""
        self_traffic = isinstance(src, PodInfo) and isinstance(dst, PodInfo) and src.key == dst.key
        probe = ConnectionSet.all()
        egress = self._with_misses(self.side("egress", src, dst), src, dst, probe)
        ingress = self._with_misses(self.side("ingress", dst, src), dst, src, probe)
        allowed = self_traffic or bool(egress.allowed & ingress.allowed)
        notes = ("traffic from a pod to itself is always allowed",) if self_traffic else ()
        return Decision(allowed, None, None, egress, ingress, self_traffic, notes)

    def _matched_by_ip_block(self, match: RuleMatch, side_: Side) -> bool:
        namespace = match.policy.split("/", 1)[0]
        for cp in self.namespace_policies(namespace):
            if cp.key == match.policy:
                rule = cp.rules(side_.direction)[match.rule_index]
                return rule.peers[match.peer_index].is_ip_block
        return False

    @staticmethod
    def _port_number(dst: Endpoint, protocol: Protocol, port: int | str) -> int | None:
        if isinstance(port, int):
            return port
        if port.isdigit():
            return int(port)
        if isinstance(dst, PodInfo):
            for cp in dst.ports:
                if cp.name == port and cp.protocol == protocol:
                    return cp.port
        return None

    def _with_misses(
        self, side_: Side, subject: Endpoint, other: Endpoint, probe: ConnectionSet
    ) -> Side:
        """Add, for a denied probe, every rule of the selecting policies and what it lacked."""
        if not side_.isolated or not isinstance(subject, PodInfo):
            return side_
        if probe & side_.allowed:
            matches = tuple(m for m in side_.matches if m.connections & probe)
            return replace(side_, matches=matches, misses=())
        destination = other if side_.direction == "egress" else subject
        misses: list[RuleMiss] = []
        for cp in self.policies_selecting(subject, side_.direction):
            for rule in cp.rules(side_.direction):
                peer_ok = bool(rule.matching_peers(other))
                port_ok = bool(probe & rule.connections_for(destination))
                misses.append(
                    RuleMiss(
                        rule.id,
                        cp.key,
                        rule.index,
                        peer_ok,
                        port_ok,
                        self._why(rule, other, destination, probe, peer_ok, port_ok),
                        rule.source,
                    )
                )
        misses.sort(key=lambda m: (-(m.peer_matched + m.port_matched), m.rule_id))
        return replace(side_, misses=tuple(misses))

    def _why(
        self,
        rule: CompiledRule,
        other: Endpoint,
        destination: Endpoint,
        probe: ConnectionSet,
        peer_ok: bool,
        port_ok: bool,
    ) -> str:
        parts: list[str] = []
        if not peer_ok:
            parts.append(self._peer_mismatch(rule, other))
        if not port_ok:
            opened = rule.connections_for(destination)
            named = [p.port.port for p in rule.ports if p.is_named]
            text = (
                f"port {probe.describe()} is not among {opened.describe()}"
                if not probe.is_all()
                else "opens no port towards this destination"
            )
            if named:
                text += f" (named ports {', '.join(map(str, named))} resolved on the destination)"
            parts.append(text)
        return "; ".join(parts)

    def _peer_mismatch(self, rule: CompiledRule, other: Endpoint) -> str:
        reasons: list[str] = []
        for cp in rule.peers:
            peer = cp.peer
            label = f"peer #{cp.index + 1}"
            if peer is None:
                continue
            if peer.ip_block is not None:
                what = (
                    "an outside address"
                    if isinstance(other, External)
                    else f"pod IP of {other.key}"
                )
                if isinstance(other, PodInfo) and other.address is None:
                    reasons.append(
                        f"{label}: ipBlock {peer.ip_block.cidr} but {other.key} has no IP"
                    )
                else:
                    reasons.append(f"{label}: {what} is outside ipBlock {_ipblock_text(peer)}")
                continue
            if isinstance(other, External):
                reasons.append(f"{label}: selects pods, not outside addresses")
                continue
            if peer.namespace_selector is not None:
                if not selector_matches(peer.namespace_selector, other.namespace_labels):
                    reasons.append(
                        f"{label}: namespace {other.namespace} does not match namespaceSelector "
                        f"{peer.namespace_selector}"
                    )
                    continue
            elif other.namespace != cp.policy_namespace:
                reasons.append(
                    f"{label}: podSelector alone selects pods of namespace {cp.policy_namespace}, "
                    f"not {other.namespace}"
                )
                continue
            if peer.pod_selector is not None:
                reasons.append(
                    f"{label}: labels of {other.key} do not match podSelector {peer.pod_selector}"
                )
        return "; ".join(reasons) or "no peer matches"


def _chain_for(side_: Side, probe: ConnectionSet) -> Side:
    """The side with only the tier links that decided `probe`, narrowed to it."""
    if not side_.chain:
        return side_
    chain = tuple(
        replace(step, connections=step.connections & probe)
        for step in side_.chain
        if step.connections & probe
    )
    return replace(side_, chain=chain)


def _ipblock_text(peer: object) -> str:
    block = getattr(peer, "ip_block", None)
    if block is None:
        return ""
    if block.except_:
        return f"{block.cidr} except {', '.join(block.except_)}"
    return block.cidr


def external(address: str) -> External:
    """An outside endpoint for one address or a `first-last` range."""
    return External(parse_range(address))


__all__ = [
    "Decision",
    "Evaluator",
    "IntervalSet",
    "RuleMatch",
    "RuleMiss",
    "Side",
    "external",
]
