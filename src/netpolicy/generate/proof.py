"""The proof that generated policies allow exactly the intents: asked of the one engine.

The cluster with the generated policies (in place of those the governed namespaces had) is
analysed three times by `compute_connectivity`:

- the ingress half: every policy's egress taken away, so that a connection is allowed iff the
  destination's ingress allows it. For every pod of a governed namespace, from every pod and
  every outside range, the allowed ports must be exactly the intents towards it;
- the egress half (not with --ingress-only): every policy's ingress taken away. For every pod
  of a governed namespace, towards every pod and outside range, exactly its intents and DNS;
- the connections themselves: between pods of governed namespaces and outside ranges, the
  allowed ports must be exactly the intents (and DNS). Where an intent's other end lies in a
  namespace the intents do not govern, that end's own policies may still block it: listed as
  `blocked`, the generated half being proved all the same.

"Exactly the intents" for a pair (A, B): the union of the ports of every intent whose `from`
holds A and whose `to` holds B, a named port resolved on B's container ports. A CIDR endpoint
holds outside ranges, and as a peer also the pods whose IP it contains (an ipBlock matches them,
as the engine decides), never as the subject of a policy: the ingress half counts A in a CIDR
`from` by its IP, the egress half B in a CIDR `to`; a connection between governed pods needs
both. Self pairs are left out (always allowed).

Pods that no policy can tell apart and that every intent treats alike form one group, checked
once. Pairs are compared where the engine allows something or an intent asks for something
(one engine row at a time); every other pair is equal by construction (nothing on either side)
and only counted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from netpolicy.analysis.connectivity import Connectivity, compute_connectivity
from netpolicy.analysis.connlist import endpoint_name
from netpolicy.model import Cluster, NetworkPolicy, Pod
from netpolicy.semantics import ConnectionSet, IntervalSet, network_set

if TYPE_CHECKING:
    from netpolicy.generate.intents import Intent, IntentPort
    from netpolicy.generate.policies import Generated


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A pair whose allowed ports differ from the intents (a bug if it ever appears)."""

    check: str
    """`ingress half`, `egress half` or `connections`."""
    src: str
    dst: str
    expected: ConnectionSet
    actual: ConnectionSet


@dataclass(frozen=True, slots=True)
class Blocked:
    """An intent the generated half allows but the other end's own policies do not."""

    intent: Intent
    src: str
    dst: str
    missing: ConnectionSet
    reason: str


@dataclass(slots=True)
class Proof:
    """What the engine found: pairs compared per check, pairs allowed, and every difference."""

    checks: dict[str, int] = field(default_factory=dict)
    """Check -> endpoint pairs compared (pods x pods, pods x outside ranges)."""
    allowed_pairs: int = 0
    """Pairs the connections check found allowed, each exactly as the intents say."""
    intent_pairs: dict[int, int] = field(default_factory=dict)
    """Intent index (0: DNS) -> pod pairs it covers that are allowed end to end."""
    mismatches: list[Mismatch] = field(default_factory=list)
    blocked: list[Blocked] = field(default_factory=list)
    pods: int = 0
    governed_pods: int = 0

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def pairs(self) -> int:
        return sum(self.checks.values())


def _port_set(ports: tuple[IntentPort, ...], dst: Pod | None) -> ConnectionSet:
    """What `ports` allow towards `dst` (None: an outside address)."""
    if not ports:
        return ConnectionSet.all()
    out = ConnectionSet.none()
    for p in ports:
        if p.port is None:
            out = out | ConnectionSet.of(p.protocol)
        elif isinstance(p.port, str):
            # "a named port is resolved on the destination pod's container ports"
            if dst is not None:
                for c in dst.ports:
                    if c.name == p.port and c.protocol == p.protocol:
                        out = out | ConnectionSet.port(p.protocol, c.port)
        else:
            out = out | ConnectionSet.port(p.protocol, p.port, p.end_port or p.port)
    return out


def _half(cluster: Cluster, direction: str) -> Cluster:
    """The cluster with only the `direction` side of every policy (the other side open), the
    cluster-wide ones (`generate --tier`) included."""
    kept: list[NetworkPolicy] = []
    for p in cluster.policies:
        if direction == "ingress" and p.affects_ingress:
            kept.append(dataclasses.replace(p, egress=(), policy_types=("Ingress",)))
        elif direction == "egress" and p.affects_egress:
            kept.append(dataclasses.replace(p, ingress=(), policy_types=("Egress",)))
    tiers = tuple(
        dataclasses.replace(cp, egress=())
        if direction == "ingress"
        else dataclasses.replace(cp, ingress=())
        for cp in cluster.cluster_policies
    )
    return dataclasses.replace(cluster, policies=tuple(kept), cluster_policies=tiers)


@dataclass(slots=True)
class _Group:
    """Pods of one engine class that every intent treats alike.

    Memberships are intent indices: `src`/`dst` where the pod is (in) the endpoint itself
    (a workload, a namespace, a selector); `src_peer`/`dst_peer` add the CIDR endpoints that
    contain its IP (an ipBlock matches it as a peer; a pod is never the subject of one)."""

    cls: int
    pods: list[Pod]
    src: frozenset[int]
    dst: frozenset[int]
    src_peer: frozenset[int]
    dst_peer: frozenset[int]
    governed: bool
    ports: tuple[object, ...]
    """The named container ports (what a named port resolves on)."""

    @property
    def pod(self) -> Pod:
        return self.pods[0]


@dataclass(slots=True)
class _Side:
    """One analysis with its pod groups and each outside range's intent memberships."""

    result: Connectivity
    groups: list[_Group]
    outside_src: list[frozenset[int]]
    outside_dst: list[frozenset[int]]
    by_class: dict[int, list[_Group]] = field(default_factory=dict)


_EMPTY: frozenset[int] = frozenset()
_NONE = ConnectionSet.none()


class _Prover:
    def __init__(self, generated: Generated) -> None:
        assert generated.cluster is not None
        self.cluster = generated.cluster
        self.intents = generated.all_intents
        self.governed = set(generated.intents.namespaces)
        self.ingress_only = generated.ingress_only
        member: dict[str, dict[int, set[int]]] = {
            "src": {},
            "dst": {},
            "src_peer": {},
            "dst_peer": {},
        }
        self.cidrs: list[tuple[int, str, IntervalSet]] = []
        for k, intent in enumerate(self.intents):
            for end, role in ((intent.src, "src"), (intent.dst, "dst")):
                roles = (f"{role}_peer",) if end.is_outside else (role, f"{role}_peer")
                for p in generated.resolved[end].pods:
                    for r in roles:
                        member[r].setdefault(id(p), set()).add(k)
                if end.is_outside:
                    self.cidrs.append((k, role, network_set(end.cidr)))
        self.member = {
            role: {i: frozenset(s) for i, s in found.items()} for role, found in member.items()
        }
        self.port_cache: dict[tuple[int, tuple[object, ...] | None], ConnectionSet] = {}

    def side(self, cluster: Cluster) -> _Side:
        cuts = [addresses for _, _, addresses in self.cidrs]
        result = compute_connectivity(cluster, outside_cuts=cuts)
        groups: dict[tuple[object, ...], _Group] = {}
        m = self.member
        for cls in result.classes:
            for p in cls.pods:
                if p.host_network:
                    continue
                src, dst = m["src"].get(id(p), _EMPTY), m["dst"].get(id(p), _EMPTY)
                src_peer = m["src_peer"].get(id(p), _EMPTY)
                dst_peer = m["dst_peer"].get(id(p), _EMPTY)
                ports = tuple(sorted((c.name, c.protocol, c.port) for c in p.ports if c.name))
                key = (cls.index, src, dst, src_peer, dst_peer, ports)
                group = groups.get(key)
                if group is None:
                    governed = p.namespace in self.governed
                    group = groups[key] = _Group(
                        cls.index, [], src, dst, src_peer, dst_peer, governed, ports
                    )
                group.pods.append(p)
        outside_src: list[frozenset[int]] = []
        outside_dst: list[frozenset[int]] = []
        for piece in result.outside:
            outside_src.append(
                frozenset(k for k, r, a in self.cidrs if r == "src" and piece.is_subset(a))
            )
            outside_dst.append(
                frozenset(k for k, r, a in self.cidrs if r == "dst" and piece.is_subset(a))
            )
        by_class: dict[int, list[_Group]] = {}
        for g in groups.values():
            by_class.setdefault(g.cls, []).append(g)
        return _Side(result, list(groups.values()), outside_src, outside_dst, by_class)

    def ports(self, intents: frozenset[int], to: _Group | None) -> ConnectionSet:
        """The union of the ports of `intents` towards `to` (None: an outside address)."""
        out = _NONE
        if not intents:
            return out
        for k in sorted(intents):
            key = (k, to.ports if to is not None else None)
            got = self.port_cache.get(key)
            if got is None:
                got = _port_set(self.intents[k].ports, to.pod if to is not None else None)
                self.port_cache[key] = got
            out = out | got
        return out

    def ingress(self, src: _Group | frozenset[int], dst: _Group) -> ConnectionSet:
        """What the generated ingress of `dst` must admit from `src` (a group, or the
        memberships of an outside range)."""
        peer = src if isinstance(src, frozenset) else src.src_peer
        return self.ports(peer & dst.dst, dst)

    def egress(self, src: _Group, dst: _Group | frozenset[int]) -> ConnectionSet:
        """What the generated egress of `src` must allow towards `dst`."""
        if isinstance(dst, frozenset):
            return self.ports(src.src & dst, None)
        return self.ports(src.src & dst.dst_peer, dst)


def _pairs(a: _Group, b: _Group) -> int:
    return len(a.pods) * len(b.pods) - (len(a.pods) if a is b else 0)


def _name(group: _Group) -> str:
    return endpoint_name(group.pod, False) + (
        f" (+{len(group.pods) - 1} alike)" if len(group.pods) > 1 else ""
    )


def prove(generated: Generated) -> Proof:
    """Analyse the cluster with the generated policies and compare with the intents."""
    prover = _Prover(generated)
    proof = Proof()
    halves = ("ingress",) if generated.ingress_only else ("ingress", "egress")
    for direction in halves:
        side = prover.side(_half(prover.cluster, direction))
        _check_half(prover, side, direction, proof)
    full = prover.side(prover.cluster)
    proof.pods = sum(len(g.pods) for g in full.groups)
    proof.governed_pods = sum(len(g.pods) for g in full.groups if g.governed)
    _check_connections(prover, full, proof)
    return proof


# Columns of a side: classes 0..n-1, then outside ranges n..n+e-1 (as the engine's rows).
Visit = Callable[[int, int, ConnectionSet], None]


def _sweep(
    side: _Side, dense: dict[int, np.ndarray], wanted: dict[int, set[int]], visit: Visit
) -> None:
    """Call `visit(source column, target column, allowed)` for every target of `dense[source]`
    the engine allows anything towards, and for every target of `wanted[source]` whatever it
    allows; one engine row at a time (pairs neither allowed nor intended are never made)."""
    result = side.result
    n = len(result.classes)
    connections = result.atoms.connections
    for src in sorted(set(dense) | set(wanted)):
        row = result.row(src) if src < n else result.outside_row(src - n)
        targets: set[int] = set(wanted.get(src, ()))
        columns = dense.get(src)
        if columns is not None and len(columns):
            targets.update(columns[np.flatnonzero(row[columns].any(axis=1))].tolist())
        for dst in sorted(targets):
            visit(src, dst, connections(row[dst]))


def _members(side: _Side) -> dict[str, dict[int, set[int]]]:
    """Per role, intent -> the columns (classes, outside ranges) holding a member."""
    n = len(side.result.classes)
    out: dict[str, dict[int, set[int]]] = {r: {} for r in ("src", "dst", "src_peer", "dst_peer")}
    for g in side.groups:
        for role, columns in out.items():
            for k in getattr(g, role):
                columns.setdefault(k, set()).add(g.cls)
    for x, found in enumerate(side.outside_src):
        for k in found:
            out["src_peer"].setdefault(k, set()).add(n + x)
    for x, found in enumerate(side.outside_dst):
        for k in found:
            out["dst_peer"].setdefault(k, set()).add(n + x)
    return out


def _intended(
    prover: _Prover, side: _Side, pairs: tuple[tuple[str, str], ...]
) -> dict[int, set[int]]:
    """Source column -> the target columns some intent links it to (by the given roles)."""
    members = _members(side)
    wanted: dict[int, set[int]] = {}
    for k in range(len(prover.intents)):
        for src_role, dst_role in pairs:
            targets = members[dst_role].get(k)
            if targets:
                for s in members[src_role].get(k, ()):
                    wanted.setdefault(s, set()).update(targets)
    return wanted


def _check_half(prover: _Prover, side: _Side, direction: str, proof: Proof) -> None:
    label = f"{direction} half"
    result = side.result
    n, e = len(result.classes), len(result.outside)
    every = sum(len(g.pods) for g in side.groups)
    governed = [g for g in side.groups if g.governed]
    proof.checks[label] = sum(len(g.pods) * (every - 1 + e) for g in governed)
    governed_classes = np.array(sorted({g.cls for g in governed}), dtype=np.int64)
    all_columns = np.arange(n + e, dtype=np.int64)
    if direction == "ingress":
        # every source (classes and outside ranges) towards the governed classes
        dense = dict.fromkeys(range(n + e), governed_classes)
        wanted = _intended(prover, side, (("src_peer", "dst"),))
    else:
        dense = {int(c): all_columns for c in governed_classes}
        wanted = _intended(prover, side, (("src", "dst_peer"),))

    def visit(src: int, dst: int, got: ConnectionSet) -> None:
        if direction == "ingress":
            if dst >= n:
                return
            for b in side.by_class[dst]:
                if not b.governed:
                    continue
                if src >= n:
                    want = prover.ingress(side.outside_src[src - n], b)
                    if got != want:
                        where = endpoint_name(result.outside[src - n], False)
                        proof.mismatches.append(Mismatch(label, where, _name(b), want, got))
                    continue
                for a in side.by_class[src]:
                    if _pairs(a, b):
                        want = prover.ingress(a, b)
                        if got != want:
                            proof.mismatches.append(Mismatch(label, _name(a), _name(b), want, got))
            return
        if src >= n:
            return
        for a in side.by_class[src]:
            if not a.governed:
                continue
            if dst >= n:
                want = prover.egress(a, side.outside_dst[dst - n])
                if got != want:
                    where = endpoint_name(result.outside[dst - n], False)
                    proof.mismatches.append(Mismatch(label, _name(a), where, want, got))
                continue
            for b in side.by_class[dst]:
                if _pairs(a, b):
                    want = prover.egress(a, b)
                    if got != want:
                        proof.mismatches.append(Mismatch(label, _name(a), _name(b), want, got))

    _sweep(side, dense, wanted, visit)


def _check_connections(prover: _Prover, side: _Side, proof: Proof) -> None:
    """Between governed pods and outside ranges: exactly what both generated halves allow,
    the intents. Every intent: allowed end to end wherever the other end's own policies let
    it (else listed as blocked)."""
    result = side.result
    n, e = len(result.classes), len(result.outside)
    ingress_only = prover.ingress_only
    covered: dict[int, int] = {}
    governed = [g for g in side.groups if g.governed]
    ours = sum(len(g.pods) for g in governed)
    proof.checks["connections"] = ours * ours - ours + ours * e * (1 if ingress_only else 2)
    governed_classes = sorted({g.cls for g in governed})
    towards = np.array(
        governed_classes + ([] if ingress_only else list(range(n, n + e))), dtype=np.int64
    )
    into = np.array(governed_classes, dtype=np.int64)
    dense = dict.fromkeys(governed_classes, towards)
    dense.update({n + x: into for x in range(e)})
    wanted = _intended(prover, side, (("src", "dst"), ("src", "dst_peer"), ("src_peer", "dst")))

    def realized(
        intents: frozenset[int],
        to: _Group | None,
        got: ConnectionSet,
        count: int,
        ends: tuple[str, str],
        reason: str,
    ) -> None:
        for k in sorted(intents):
            missing = prover.ports(frozenset((k,)), to) - got
            if missing.is_empty():
                covered[k] = covered.get(k, 0) + count
            elif reason:
                proof.blocked.append(Blocked(prover.intents[k], *ends, missing, reason))

    def compare(
        want: ConnectionSet, got: ConnectionSet, ends: tuple[_Group | str, _Group | str], count: int
    ) -> None:
        """`ends` named only on a mismatch (naming every pair costs more than comparing)."""
        if got != want:
            src, dst = (x if isinstance(x, str) else _name(x) for x in ends)
            proof.mismatches.append(Mismatch("connections", src, dst, want, got))
        elif not got.is_empty():
            proof.allowed_pairs += count

    def why(*ends: tuple[str, bool]) -> str:
        others = [name for name, ours in ends if not ours]
        if others:
            return f"{' and '.join(others)}: in a namespace these intents do not govern"
        return ""

    def visit(src: int, dst: int, got: ConnectionSet) -> None:
        if src >= n and dst >= n:
            return
        if src >= n:  # an outside range towards a class
            x = src - n
            where = endpoint_name(result.outside[x], False)
            for b in side.by_class[dst]:
                if b.governed:
                    compare(prover.ingress(side.outside_src[x], b), got, (where, b), len(b.pods))
                intents = side.outside_src[x] & b.dst
                if intents:
                    reason = why((_name(b), b.governed))
                    realized(intents, b, got, len(b.pods), (where, _name(b)), reason)
            return
        for a in side.by_class[src]:
            if dst >= n:
                x = dst - n
                where = endpoint_name(result.outside[x], False)
                if a.governed and not ingress_only:
                    compare(prover.egress(a, side.outside_dst[x]), got, (a, where), len(a.pods))
                intents = a.src & side.outside_dst[x]
                if intents:
                    reason = why((_name(a), a.governed))
                    realized(intents, None, got, len(a.pods), (_name(a), where), reason)
                continue
            for b in side.by_class[dst]:
                count = _pairs(a, b)
                if not count:
                    continue
                if a.governed and b.governed:
                    if ingress_only:
                        want = prover.ingress(a, b)
                    else:
                        want = prover.egress(a, b)
                        if not want.is_empty():
                            want = want & prover.ingress(a, b)
                    compare(want, got, (a, b), count)
                intents = a.src & b.dst
                if intents:
                    ends = (_name(a), _name(b))
                    reason = why((ends[0], a.governed), (ends[1], b.governed))
                    realized(intents, b, got, count, ends, reason)

    _sweep(side, dense, wanted, visit)
    proof.intent_pairs = covered


__all__ = ["Blocked", "Mismatch", "Proof", "prove"]
