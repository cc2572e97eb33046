"""Exposure: what each workload is open to beyond the input (`connlist --exposure`).

The connection list answers for the pods and outside ranges of the input. A policy rule
whose peer is a *selector* also speaks for pods that are not in the input yet: a new
namespace labelled to match, a new pod with the right labels. Exposure lists, per workload
and direction, the peers such rules open it to, with the ports:

- `entire-cluster`: a rule without `from`/`to`, or a peer `namespaceSelector: {}` with an
  empty or missing `podSelector` (every pod of every namespace, present or future);
- a *representative peer* for every other pod/namespace selector pair written in a rule:
  `namespace` + `podSelector` when the namespace is named (a `podSelector` alone names the
  policy's namespace), else `namespaceSelector` + `podSelector`;
- the outside ranges the workload may reach or be reached from (as in the connection list);
- and the workloads no policy isolates in a direction (`unprotected`): those are open to the
  entire cluster and to every address.

Semantics as netpol-analyzer's `list --exposure` (its goldens are the reference):

- A rule opens a workload to a representative peer when the rule's peer names exactly that
  peer, or a broader one with an empty selector (`{}` selects all) — peers are compared as
  written (requirement by requirement, `key In [v]` equal to `key: v`), never by guessing
  which future pods two different selectors might share.
- A representative peer is listed for a workload only where its ports go beyond what the
  workload already opens to the entire cluster (the listed ports then include those).
- A representative peer written with `matchLabels` only, whose namespace and pod selectors are
  both non-empty and already matched by a pod of the input, stands for that pod: it is not
  listed (the connection list has it).
- Egress named ports towards a representative peer or the entire cluster cannot be resolved
  (the pods are not in the input): they are kept by name (`TCP http`). Ingress named ports are
  resolved on the workload's own container ports.

With cluster-wide guardrails (AdminNetworkPolicy, BaselineAdminNetworkPolicy,
ClusterNetworkPolicy), as netpol-analyzer:

- their `namespaces`/`pods` peers are representative peers too (`networks`, `nodes` and
  `domainNames` name no pod beyond the input); a peer selecting every pod of every namespace
  is the entire cluster;
- a workload that a guardrail with rules in a direction selects is protected there, and its
  exposure to each peer is the tier chain for that peer: the Admin rules naming it, first
  match per port (Allow/Accept open, Deny close, Pass hands on); then its NetworkPolicies
  where they isolate it, else the Baseline rules, then allow. The entire cluster is listed
  where it may open any port, a representative wherever its ports differ from the entire
  cluster's (a Deny can leave it `No Connections` where the entire cluster is open);
- an egress named port of a guardrail stays a name without protocol (`local-port`).

Everything is read from the engine's compiled rules (`Connectivity.rule_tables`: which classes
each rule's policy selects) and the rules' own port matchers; the outside ranges come from the
engine's rows. Nothing here decides a verdict a second time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from netpolicy.analysis.connectivity import Connectivity, Mask
from netpolicy.analysis.connlist import pod_name
from netpolicy.model import (
    NAMESPACE_NAME_LABEL,
    PROTOCOLS,
    AdminPeer,
    LabelSelector,
    Peer,
    Protocol,
)
from netpolicy.semantics import (
    ALL_PORTS,
    CompiledRule,
    ConnectionSet,
    Direction,
    IntervalSet,
    PodInfo,
    format_range,
    selector_matches,
)
from netpolicy.semantics.addresses import V6_OFFSET
from netpolicy.semantics.tiers import (
    CompiledAdminRule,
    CompiledClusterPolicy,
    Tiers,
    first_matches,
)

DIRECTIONS: tuple[Direction, ...] = ("ingress", "egress")

# ---------------------------------------------------------------------------------------------
# Ports, with named ports that cannot be resolved


@dataclass(frozen=True, slots=True)
class ExposurePorts:
    """Ports a peer may use: numbers (a ConnectionSet) and port names left unresolved.

    A name's protocol is `""` for a cluster-wide rule's named port (it matches the name in
    any protocol).
    """

    connections: ConnectionSet = field(default_factory=ConnectionSet.none)
    named: frozenset[tuple[Protocol | Literal[""], str]] = frozenset()

    def __or__(self, other: ExposurePorts) -> ExposurePorts:
        return ExposurePorts(self.connections | other.connections, self.named | other.named)

    def is_empty(self) -> bool:
        return self.connections.is_empty() and not self.named

    def is_all(self) -> bool:
        """Every port of every protocol (named ports then add nothing)."""
        return self.connections.is_all()

    def is_subset(self, other: ExposurePorts) -> bool:
        if not self.connections.is_subset(other.connections):
            return False
        # a name is covered when the other side opens it by name, or every port of its
        # protocol (of every protocol, for a name without one)
        return all(
            n in other.named
            or (other.connections.ports(n[0]) == ALL_PORTS if n[0] else other.is_all())
            for n in self.named
        )

    def describe(self) -> str:
        """`All Connections`, or `TCP 80,http,UDP 53` (numbers, then names, per protocol)."""
        if self.is_all():
            return "All Connections"
        if self.is_empty():
            return "No Connections"
        parts = []
        for proto in PROTOCOLS:
            numbers = [
                f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in self.connections.ports(proto)
            ]
            names = sorted(n for p, n in self.named if p == proto)
            if numbers or names:
                parts.append(f"{proto} " + ",".join(numbers + names))
        parts += sorted(n for p, n in self.named if not p)
        return ",".join(parts)

    def to_contract(self) -> list[dict[str, object]]:
        """The `ports` list: ranges of the output contract, then `{"protocol", "name"}`."""
        out = self.connections.to_contract()
        if not self.is_all():
            out += [{"protocol": p, "name": n} if p else {"name": n} for p, n in sorted(self.named)]
        return out


ALL_PORTS_EXPOSED = ExposurePorts(ConnectionSet.all())
NO_PORTS = ExposurePorts()


def rule_ports(rule: CompiledRule, direction: Direction, subject: PodInfo) -> ExposurePorts:
    """The ports `rule` opens between its policy's `subject` and a pod not in the input.

    Ingress: the subject is the destination, so named ports resolve on its container ports.
    Egress: the destination is unknown, so named ports stay names.
    """
    if direction == "ingress":
        return ExposurePorts(rule.connections_for(subject))
    named = frozenset((p.port.protocol, str(p.port.port)) for p in rule.ports if p.is_named)
    return ExposurePorts(rule.static_connections(), named)


def tier_rule_ports(
    rule: CompiledAdminRule, direction: Direction, subject: PodInfo
) -> ExposurePorts:
    """The ports a cluster-wide rule selects between its `subject` and a pod not in the input:
    named ports resolve on the subject for ingress and stay names (any protocol) for egress."""
    if direction == "ingress":
        return ExposurePorts(rule.connections_for(subject))
    named: frozenset[tuple[Protocol | Literal[""], str]] = frozenset(
        ("", str(p.port)) for p in rule.ports if isinstance(p.port, str)
    )
    return ExposurePorts(rule.static_connections(), named)


def admin_peer_selectors(peer: AdminPeer) -> Peer | None:
    """A cluster-wide `namespaces`/`pods` peer as the selector pair it names (None for
    `networks`, `nodes` and `domainNames`, which name no pod beyond the input)."""
    if peer.namespace_selector is None or peer.networks:
        return None
    return Peer(pod_selector=peer.pod_selector, namespace_selector=peer.namespace_selector)


# ---------------------------------------------------------------------------------------------
# Peers


CanonicalRequirement = tuple[str, str, tuple[str, ...]]
Canon = frozenset[CanonicalRequirement]
"""A selector as the set of its requirements: `{}` (empty) selects everything."""


def canonical(selector: LabelSelector | None) -> Canon:
    """A selector's requirements, order-free; `key In [v]` is the same as `key: v`."""
    if selector is None:
        return frozenset()
    reqs: set[CanonicalRequirement] = {(k, "=", (v,)) for k, v in selector.match_labels}
    for r in selector.match_expressions:
        values = tuple(sorted(set(r.values)))
        if r.operator == "In" and len(values) == 1:
            reqs.add((r.key, "=", values))
        else:
            reqs.add((r.key, r.operator, values))
    return frozenset(reqs)


def _namespace_named(name: str) -> LabelSelector:
    return LabelSelector(match_labels=((NAMESPACE_NAME_LABEL, name),))


EVERYTHING = LabelSelector()
"""The empty selector: selects every pod (or namespace)."""

PeerKind = Literal["entireCluster", "ipRange", "namespace", "selectors"]


@dataclass(frozen=True, slots=True)
class ExposedPeer:
    """What a workload is exposed to: the entire cluster, an outside range, or the pods that
    `pod_selector` selects in the namespace `namespace` (kind `namespace`) or in the namespaces
    `namespace_selector` selects (kind `selectors`)."""

    kind: PeerKind
    namespace: str = ""
    namespace_selector: LabelSelector = EVERYTHING
    pod_selector: LabelSelector = EVERYTHING
    addresses: IntervalSet | None = None

    @property
    def key(self) -> tuple[object, ...]:
        """Identity: selectors compared by their requirements."""
        if self.kind == "ipRange":
            assert self.addresses is not None
            return ("ipRange", self.addresses.ranges)
        if self.kind == "entireCluster":
            return ("entireCluster",)
        ns = canonical(
            _namespace_named(self.namespace)
            if self.kind == "namespace"
            else self.namespace_selector
        )
        return ("pods", ns, canonical(self.pod_selector))

    def text(self) -> str:
        """As netpol-analyzer writes it: `entire-cluster`, `first-last`, `ns/[pod with {app=x}]`,
        `[namespace with {env=prod}]/[all pods]`, `[all namespaces]/[pod with {k=v}]`."""
        if self.kind == "entireCluster":
            return "entire-cluster"
        if self.kind == "ipRange":
            assert self.addresses is not None
            lo, hi = self.addresses.ranges[0]
            return format_range(lo, hi)
        pods = "[all pods]" if self.pod_selector.is_empty else f"[pod with {{{self.pod_selector}}}]"
        if self.kind == "namespace":
            return f"{self.namespace}/{pods}"
        if self.namespace_selector.is_empty:
            return f"[all namespaces]/{pods}"
        return f"[namespace with {{{self.namespace_selector}}}]/{pods}"

    def to_contract(self) -> dict[str, object]:
        if self.kind == "entireCluster":
            return {"entireCluster": True}
        if self.kind == "ipRange":
            return {"ipRange": self.text()}
        if self.kind == "namespace":
            return {
                "namespace": self.namespace,
                "podSelector": selector_to_contract(self.pod_selector),
            }
        return {
            "namespaceSelector": selector_to_contract(self.namespace_selector),
            "podSelector": selector_to_contract(self.pod_selector),
        }


def selector_to_contract(selector: LabelSelector) -> dict[str, object]:
    """A Kubernetes LabelSelector object (`{}` selects all)."""
    out: dict[str, object] = {}
    if selector.match_labels:
        out["matchLabels"] = dict(selector.match_labels)
    if selector.match_expressions:
        out["matchExpressions"] = [
            {
                "key": r.key,
                "operator": r.operator,
                **({"values": list(r.values)} if r.values else {}),
            }
            for r in selector.match_expressions
        ]
    return out


ENTIRE_CLUSTER = ExposedPeer("entireCluster")


@dataclass(slots=True)
class _Representative:
    """A pod/namespace selector pair written in some rule: the pods it stands for, present or
    not. `namespace` is set when a `podSelector` alone named the policy's namespace."""

    peer: ExposedPeer
    namespace_selector: LabelSelector  # the policy's namespace by name, for a podSelector alone
    pod_selector: LabelSelector
    written_with_labels_only: bool


def is_entire_cluster(peer: Peer | None) -> bool:
    """A rule peer that every pod of every namespace matches (a missing `from`/`to` too)."""
    if peer is None:
        return True
    return (
        peer.ip_block is None
        and peer.namespace_selector is not None
        and peer.namespace_selector.is_empty
        and (peer.pod_selector is None or peer.pod_selector.is_empty)
    )


def _peer_selectors(peer: Peer, policy_namespace: str) -> tuple[LabelSelector, LabelSelector]:
    ns = peer.namespace_selector
    return (
        _namespace_named(policy_namespace) if ns is None else ns,
        peer.pod_selector or LabelSelector(),
    )


def _exposed_peer(peer: Peer, policy_namespace: str) -> ExposedPeer:
    ns_sel, pod_sel = _peer_selectors(peer, policy_namespace)
    named = dict(ns_sel.match_labels).get(NAMESPACE_NAME_LABEL)
    if peer.namespace_selector is None:
        return ExposedPeer("namespace", policy_namespace, ns_sel, pod_sel)
    if named is not None and len(ns_sel.match_labels) == 1 and not ns_sel.match_expressions:
        return ExposedPeer("namespace", named, ns_sel, pod_sel)
    return ExposedPeer("selectors", "", ns_sel, pod_sel)


class _Representatives:
    """Every representative peer of the input, and which rule peers name each one."""

    def __init__(self, result: Connectivity) -> None:
        self.items: list[_Representative] = []
        index: dict[tuple[object, ...], int] = {}
        written: list[tuple[Peer | None, str]] = [
            (cpeer.peer, cp.policy.namespace)
            for cp in result.evaluator.policies
            for rule in (*cp.ingress, *cp.egress)
            for cpeer in rule.peers
        ]
        # cluster-wide peers always carry a namespace selector: no policy namespace to name
        written += [
            (admin_peer_selectors(cpeer.peer), "")
            for tier_policy in result.evaluator.tiers.all
            for admin_rule in (*tier_policy.ingress, *tier_policy.egress)
            for cpeer in admin_rule.peers
        ]
        for peer, policy_namespace in written:
            if peer is None or peer.ip_block is not None or is_entire_cluster(peer):
                continue
            exposed = _exposed_peer(peer, policy_namespace)
            if exposed.key in index:
                continue
            ns_sel, pod_sel = _peer_selectors(peer, policy_namespace)
            index[exposed.key] = len(self.items)
            labels_only = not ns_sel.match_expressions and not pod_sel.match_expressions
            self.items.append(_Representative(exposed, ns_sel, pod_sel, labels_only))
        self._drop_matched_by_input(result)
        self._by_both: dict[tuple[Canon, Canon], list[int]] = {}
        self._by_ns: dict[Canon, list[int]] = {}
        self._by_pod: dict[Canon, list[int]] = {}
        for i, rep in enumerate(self.items):
            ns, pod = canonical(rep.namespace_selector), canonical(rep.pod_selector)
            self._by_both.setdefault((ns, pod), []).append(i)
            self._by_ns.setdefault(ns, []).append(i)
            self._by_pod.setdefault(pod, []).append(i)

    def _drop_matched_by_input(self, result: Connectivity) -> None:
        """A representative written with matchLabels only, with both selectors non-empty, that
        a pod of the input matches stands for that pod (netpol-analyzer's refinement)."""
        pods = [c.representative for c in result.classes if not c.representative.host_network]
        kept = []
        for rep in self.items:
            if (
                rep.written_with_labels_only
                and not rep.namespace_selector.is_empty
                and not rep.pod_selector.is_empty
                and any(
                    selector_matches(rep.namespace_selector, p.namespace_labels)
                    and selector_matches(rep.pod_selector, p.labels)
                    for p in pods
                )
            ):
                continue
            kept.append(rep)
        self.items = kept

    def named_by(self, peer: Peer, policy_namespace: str) -> list[int]:
        """The representatives a rule peer names: the same selectors, or broader empty ones."""
        ns_sel, pod_sel = _peer_selectors(peer, policy_namespace)
        ns, pod = canonical(ns_sel), canonical(pod_sel)
        if not ns and not pod:
            return list(range(len(self.items)))
        if not ns:
            return self._by_pod.get(pod, [])
        if not pod:
            return self._by_ns.get(ns, [])
        return self._by_both.get((ns, pod), [])


# ---------------------------------------------------------------------------------------------
# The result


@dataclass(frozen=True, slots=True)
class ExposureItem:
    """Ingress: `peer` may connect to `workload`; egress: `workload` may connect to `peer`."""

    workload: str
    peer: ExposedPeer
    ports: ExposurePorts


@dataclass(frozen=True, slots=True)
class Unprotected:
    """`workload` is isolated by no policy in `direction`: open to everything there."""

    workload: str
    direction: Direction


@dataclass(slots=True)
class Exposure:
    """Per direction, what each workload is exposed to beyond the input, sorted by workload
    and peer; and the workloads not protected in a direction."""

    ingress: list[ExposureItem] = field(default_factory=list)
    egress: list[ExposureItem] = field(default_factory=list)
    unprotected: list[Unprotected] = field(default_factory=list)

    def items(self, direction: Direction) -> list[ExposureItem]:
        return self.ingress if direction == "ingress" else self.egress

    def exposed_to(self, kinds: Iterable[PeerKind]) -> dict[str, set[str]]:
        """Workload -> the directions in which it is exposed to a peer of one of `kinds`."""
        wanted = set(kinds)
        out: dict[str, set[str]] = {}
        for direction in DIRECTIONS:
            for item in self.items(direction):
                if item.peer.kind in wanted:
                    out.setdefault(item.workload, set()).add(direction)
        return out


def _focused(name: str, focus: str) -> bool:
    base = name.split("[", 1)[0]
    if "/" in focus:
        return focus in (base, name)
    return base.split("/", 1)[-1] == focus


def compute_exposure(
    result: Connectivity,
    *,
    focus: str | None = None,
    namespace: str | None = None,
) -> Exposure:
    """The exposure of every workload (pods named by their owner, as `connlist --workloads`).

    `focus` (`ns/name` or `name`) and `namespace` keep only the workloads they name.
    """
    reps = _Representatives(result)
    names = [sorted({pod_name(p, True) for p in c.pods}) for c in result.classes]

    def wanted(name: str) -> bool:
        if focus is not None and not _focused(name, focus):
            return False
        return namespace is None or name.startswith(namespace + "/")

    found: dict[
        Direction, dict[tuple[str, tuple[object, ...]], tuple[ExposedPeer, ExposurePorts]]
    ] = {d: {} for d in DIRECTIONS}
    unprotected: set[tuple[str, Direction]] = set()

    def add(
        direction: Direction, workloads: list[str], peer: ExposedPeer, ports: ExposurePorts
    ) -> None:
        table = found[direction]
        for w in workloads:
            if not wanted(w):
                continue
            key = (w, peer.key)
            held = table.get(key)
            table[key] = (peer, ports if held is None else held[1] | ports)

    tiers = result.evaluator.tiers
    for direction in DIRECTIONS:
        table = result.rule_tables[direction]
        isolated = result.isolated_ingress if direction == "ingress" else result.isolated_egress
        tier_rules = _TierRules(tiers, reps, direction) if tiers else None
        rules_of: list[list[int]] = [[] for _ in result.classes]
        for r, subjects in enumerate(table.selects):
            for c in subjects.tolist():
                rules_of[c].append(r)
        for cls in result.classes:
            workloads = names[cls.index]
            guarded = tier_rules.of(cls.representative) if tier_rules is not None else None
            if not isolated[cls.index] and guarded is None:
                unprotected.update((w, direction) for w in workloads if wanted(w))
                add(direction, workloads, ENTIRE_CLUSTER, ALL_PORTS_EXPOSED)
                continue
            entire = NO_PORTS
            per_rep: dict[int, ExposurePorts] = {}
            for r in rules_of[cls.index]:
                rule = table.compiled[r]
                ports = rule_ports(rule, direction, cls.representative)
                if ports.is_empty():
                    continue
                for cpeer in rule.peers:
                    if is_entire_cluster(cpeer.peer):
                        entire = entire | ports
                    elif cpeer.peer is not None and cpeer.peer.ip_block is None:
                        for i in reps.named_by(cpeer.peer, cpeer.policy_namespace):
                            held = per_rep.get(i)
                            per_rep[i] = ports if held is None else held | ports
            if guarded is not None:
                for peer, ports in _guarded_exposure(
                    guarded,
                    reps,
                    cls.representative,
                    direction,
                    entire if isolated[cls.index] else None,
                    per_rep,
                ):
                    add(direction, workloads, peer, ports)
                continue
            if not entire.is_empty():
                add(direction, workloads, ENTIRE_CLUSTER, entire)
            for i, ports in per_rep.items():
                if not ports.is_subset(entire):
                    add(direction, workloads, reps.items[i].peer, ports | entire)

    outside: dict[tuple[Direction, str], list[tuple[IntervalSet, ExposurePorts]]] = {}
    for direction, item in _outside(result, names):
        if wanted(item.workload) and item.peer.addresses is not None:
            outside.setdefault((direction, item.workload), []).append(
                (item.peer.addresses, item.ports)
            )
    for (direction, workload), pieces in outside.items():
        for addresses, ports in _merged(pieces):
            add(direction, [workload], ExposedPeer("ipRange", addresses=addresses), ports)

    out = Exposure()
    for direction in DIRECTIONS:
        items = [ExposureItem(w, peer, ports) for (w, _), (peer, ports) in found[direction].items()]
        items.sort(key=lambda x: (x.workload, _peer_order(x.peer)))
        out.items(direction).extend(items)
    out.unprotected = [
        Unprotected(w, d)
        for w, d in sorted(unprotected, key=lambda x: (x[0], DIRECTIONS.index(x[1])))
    ]
    return out


@dataclass(frozen=True, slots=True)
class _TierRule:
    """A cluster-wide rule of one direction with the peers it names beyond the input."""

    rule: CompiledAdminRule
    action: str
    """`allow` (Allow/Accept), `deny` or `pass`."""
    entire: bool
    """A peer selects every pod of every namespace."""
    named: frozenset[int]
    """The representatives a peer names (as `_Representatives.named_by`)."""


class _TierRules:
    """The cluster-wide rules of a direction, per tier in evaluation order."""

    def __init__(self, tiers: Tiers, reps: _Representatives, direction: Direction) -> None:
        self.direction = direction

        def compiled(tier: str) -> list[tuple[CompiledClusterPolicy, list[_TierRule]]]:
            out: list[tuple[CompiledClusterPolicy, list[_TierRule]]] = []
            for cp in tiers.tier(tier):
                rules = []
                for rule in cp.rules(direction):
                    entire, named = False, set()
                    for cpeer in rule.peers:
                        peer = admin_peer_selectors(cpeer.peer)
                        if peer is None:
                            continue
                        entire = entire or is_entire_cluster(peer)
                        named.update(reps.named_by(peer, ""))
                    action = "allow" if rule.allows else rule.action.lower()
                    rules.append(_TierRule(rule, action, entire, frozenset(named)))
                if rules:
                    out.append((cp, rules))
            return out

        self.admin = compiled("Admin")
        self.baseline = compiled("Baseline")

    def of(self, subject: PodInfo) -> tuple[list[_TierRule], list[_TierRule]] | None:
        """The Admin and Baseline rules of the policies selecting `subject`, in order; None
        when no cluster-wide policy with rules in this direction selects it."""
        admin = [r for cp, rules in self.admin if cp.selects(subject) for r in rules]
        baseline = [r for cp, rules in self.baseline if cp.selects(subject) for r in rules]
        return (admin, baseline) if admin or baseline else None


def _first_match(
    rules: list[tuple[_TierRule, ExposurePorts]],
    matches: Callable[[_TierRule], bool],
    open_ports: ConnectionSet,
) -> tuple[ExposurePorts, ConnectionSet]:
    """One tier, first match per port over `open_ports`: (allowed, left to the next tier).

    Names left unresolved (egress named ports) are allowed by name; they take no numbered
    port from later rules.
    """
    decided, allowed = ConnectionSet.none(), NO_PORTS
    for (rule, ports), hit in first_matches(
        (r for r in rules if matches(r[0])),
        lambda r: r[1].connections,
        open_ports,
        every_rule=True,
    ):
        if rule.action == "allow":
            allowed = allowed | ExposurePorts(hit, ports.named)
        if rule.action != "pass":  # a Pass hands its ports on to the next tier
            decided = decided | hit
    return allowed, open_ports - decided


def _names(rep: int) -> Callable[[_TierRule], bool]:
    """Whether a cluster-wide rule names representative `rep` (or the entire cluster)."""
    return lambda rule: rule.entire or rep in rule.named


def _guarded_exposure(
    guarded: tuple[list[_TierRule], list[_TierRule]],
    reps: _Representatives,
    subject: PodInfo,
    direction: Direction,
    np_entire: ExposurePorts | None,
    np_per_rep: dict[int, ExposurePorts],
) -> Iterator[tuple[ExposedPeer, ExposurePorts]]:
    """The exposure of a workload that cluster-wide rules select in `direction`: per peer
    beyond the input, the tier chain (Admin, then its NetworkPolicies where they isolate it
    (`np_entire` not None), else Baseline, then allow). The entire cluster is listed where
    it may open any port, a representative where it differs from the entire cluster."""
    admin = [(r, tier_rule_ports(r.rule, direction, subject)) for r in guarded[0]]
    baseline = [(r, tier_rule_ports(r.rule, direction, subject)) for r in guarded[1]]

    def verdict(matches: Callable[[_TierRule], bool], np_ports: ExposurePorts) -> ExposurePorts:
        allowed, through = _first_match(admin, matches, ConnectionSet.all())
        if np_entire is not None:
            # the NetworkPolicies decide what the Admin tier left (names kept while any
            # port of their protocol is left)
            names = frozenset(n for n in np_ports.named if not n[0] or through.ports(n[0]))
            return allowed | ExposurePorts(np_ports.connections & through, names)
        base_allowed, rest = _first_match(baseline, matches, through)
        return allowed | base_allowed | ExposurePorts(rest)

    entire = verdict(lambda r: r.entire, np_entire or NO_PORTS)
    if not entire.is_empty():
        yield ENTIRE_CLUSTER, entire
    for i, rep in enumerate(reps.items):
        np_ports = (np_entire or NO_PORTS) | np_per_rep.get(i, NO_PORTS)
        ports = verdict(_names(i), np_ports)
        if not (ports.is_subset(entire) and entire.is_subset(ports)):
            yield rep.peer, ports


def _peer_order(peer: ExposedPeer) -> tuple[int, str]:
    order = {"ipRange": 0, "entireCluster": 1, "namespace": 2, "selectors": 2}
    if peer.kind == "ipRange" and peer.addresses is not None:
        return order[peer.kind], f"{peer.addresses.ranges[0][0]:040d}"
    return order[peer.kind], peer.text()


def _merged(
    pieces: list[tuple[IntervalSet, ExposurePorts]],
) -> list[tuple[IntervalSet, ExposurePorts]]:
    """Adjacent outside ranges with the same ports as one range (never across IPv4/IPv6)."""
    out: list[tuple[IntervalSet, ExposurePorts]] = []
    for addresses, ports in sorted(pieces, key=lambda p: p[0].ranges[0][0]):
        lo, hi = addresses.ranges[0]
        if out:
            (last_lo, last_hi), last_ports = out[-1][0].ranges[0], out[-1][1]
            if (
                last_hi + 1 == lo
                and last_ports == ports
                and (lo < V6_OFFSET) == (last_lo < V6_OFFSET)
            ):
                out[-1] = (IntervalSet.span(last_lo, hi), ports)
                continue
        out.append((addresses, ports))
    return out


def _outside(
    result: Connectivity, names: list[list[str]]
) -> Iterator[tuple[Direction, ExposureItem]]:
    """The outside ranges each workload may reach (egress) or be reached from (ingress), from
    the engine's rows, one class at a time; neighbouring ranges with the same ports come
    merged already (a dense cluster has thousands of ranges per class)."""
    n = len(result.classes)
    if not result.outside or not result.has_pairs:
        return
    ports_of: dict[bytes, ExposurePorts] = {}

    def ports(mask: Mask) -> ExposurePorts:
        key = mask.tobytes()
        found = ports_of.get(key)
        if found is None:
            found = ports_of[key] = ExposurePorts(result.atoms.connections(mask.copy()))
        return found

    starts = [r.ranges[0][0] for r in result.outside]
    ends = [r.ranges[0][1] for r in result.outside]
    # where a run of neighbouring ranges may continue: the next range starts right after,
    # in the same address family
    joins = np.array(
        [
            ends[e] + 1 == starts[e + 1] and (starts[e] < V6_OFFSET) == (starts[e + 1] < V6_OFFSET)
            for e in range(len(starts) - 1)
        ],
        dtype=bool,
    )

    def runs(masks: Mask) -> Iterator[tuple[ExposedPeer, ExposurePorts]]:
        hit = np.asarray(masks.any(axis=1), dtype=bool)
        equal = np.asarray((masks[:-1] == masks[1:]).all(axis=1), dtype=bool)
        same = joins & hit[:-1] & hit[1:] & equal
        edges = np.concatenate(([False], same, [False]))
        begin = np.flatnonzero(hit & ~edges[:-1])
        stop = np.flatnonzero(hit & ~edges[1:])
        for b, last in zip(begin.tolist(), stop.tolist(), strict=True):
            peer = ExposedPeer("ipRange", addresses=IntervalSet.span(starts[b], ends[last]))
            yield peer, ports(masks[b])

    for s in range(n):
        for peer, allowed in runs(result.row(s)[n:]):
            for w in names[s]:
                yield "egress", ExposureItem(w, peer, allowed)
    towards = np.stack([result.outside_row(a)[:n] for a in range(len(result.outside))], axis=1)
    for d in range(n):
        for peer, allowed in runs(towards[d]):
            for w in names[d]:
                yield "ingress", ExposureItem(w, peer, allowed)


__all__ = [
    "ENTIRE_CLUSTER",
    "ExposedPeer",
    "Exposure",
    "ExposureItem",
    "ExposurePorts",
    "Unprotected",
    "canonical",
    "compute_exposure",
    "is_entire_cluster",
    "rule_ports",
    "selector_to_contract",
]
