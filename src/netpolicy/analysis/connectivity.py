"""All-pairs connectivity on equivalence classes of pods, with port atoms as bit masks.

Every verdict below is composed from the matchers of `netpolicy.semantics` (selection,
peer matching, port resolution); this module only evaluates them once per class instead of
once per pod, and combines them row by row with NumPy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from netpolicy.analysis.classes import PodClass, build_classes, ip_block_sets
from netpolicy.model import PROTOCOLS, Cluster, Pod, Protocol
from netpolicy.semantics import (
    ALL_PORTS,
    CompiledRule,
    ConnectionSet,
    Evaluator,
    External,
    IntervalSet,
    address_atoms,
    cut_points,
)
from netpolicy.semantics.evaluate import HostNetworkMode

Mask = NDArray[np.uint64]


class PortAtoms:
    """The disjoint (protocol, port range) pieces all rules cut the port space into."""

    def __init__(self, sets: list[ConnectionSet]) -> None:
        self.atoms: list[tuple[Protocol, int, int]] = []
        for proto in PROTOCOLS:
            for atom in cut_points([s.ports(proto) for s in sets], ALL_PORTS):
                lo, hi = atom.ranges[0]
                self.atoms.append((proto, lo, hi))
        self.words = (len(self.atoms) + 63) // 64
        self.full: Mask = self.mask(ConnectionSet.all())
        self._cache: dict[bytes, ConnectionSet] = {}

    def mask(self, conns: ConnectionSet) -> Mask:
        out = np.zeros(self.words, dtype=np.uint64)
        for i, (proto, lo, _hi) in enumerate(self.atoms):
            if lo in conns.ports(proto):
                out[i >> 6] |= np.uint64(1 << (i & 63))
        return out

    def connections(self, mask: Mask) -> ConnectionSet:
        key = mask.tobytes()
        found = self._cache.get(key)
        if found is None:
            parts: dict[Protocol, list[tuple[int, int]]] = {}
            for i, (proto, lo, hi) in enumerate(self.atoms):
                if int(mask[i >> 6]) >> (i & 63) & 1:
                    parts.setdefault(proto, []).append((lo, hi))
            found = ConnectionSet({p: IntervalSet(r) for p, r in parts.items()})
            self._cache[key] = found
        return found


@dataclass(slots=True)
class _RuleTable:
    """One direction's rules as arrays over classes (and outside atoms)."""

    selects: NDArray[np.bool_]  # rules x classes: the rule's policy selects the class
    peer_pods: NDArray[np.bool_]  # rules x classes: a peer of the rule matches the class
    peer_outside: NDArray[np.bool_]  # rules x outside atoms
    ports_static: NDArray[np.uint64]  # rules x words: ports for outside / non-named rules
    ports_by_dst: dict[int, NDArray[np.uint64]]  # rule -> classes x words (named ports)
    isolated: NDArray[np.bool_]  # classes


@dataclass(slots=True)
class Connectivity:
    """Allowed connections between classes and outside ranges; expand with `pairs()`."""

    evaluator: Evaluator
    classes: list[PodClass]
    outside: list[IntervalSet]
    atoms: PortAtoms
    class_pairs: dict[tuple[int, int], ConnectionSet] = field(default_factory=dict)
    to_outside: dict[tuple[int, int], ConnectionSet] = field(default_factory=dict)
    from_outside: dict[tuple[int, int], ConnectionSet] = field(default_factory=dict)
    isolated_ingress: list[bool] = field(default_factory=list)
    isolated_egress: list[bool] = field(default_factory=list)

    def class_of(self) -> dict[int, int]:
        """id(pod) -> class index."""
        return {id(p): c.index for c in self.classes for p in c.pods}

    def pod_pairs(self) -> Iterator[tuple[Pod | IntervalSet, Pod | IntervalSet, ConnectionSet]]:
        """Every allowed (src, dst, connections), pods expanded, self pairs left out."""
        for (s, d), conns in self.class_pairs.items():
            for src in self.classes[s].pods:
                for dst in self.classes[d].pods:
                    if src is not dst:
                        yield src, dst, conns
        for (s, e), conns in self.to_outside.items():
            for src in self.classes[s].pods:
                yield src, self.outside[e], conns
        for (e, d), conns in self.from_outside.items():
            for dst in self.classes[d].pods:
                yield self.outside[e], dst, conns


def _build_table(
    evaluator: Evaluator,
    classes: list[PodClass],
    outside: list[IntervalSet],
    atoms: PortAtoms,
    direction: str,
) -> _RuleTable:
    n = len(classes)
    reps = [c.representative for c in classes]
    rules: list[CompiledRule] = []
    selects: list[NDArray[np.bool_]] = []
    isolated = np.zeros(n, dtype=bool)
    for cp in evaluator.policies:
        if not cp.isolates(direction):  # type: ignore[arg-type]
            continue
        sel = np.fromiter((cp.selects(r) for r in reps), dtype=bool, count=n)
        isolated |= sel
        for rule in cp.rules(direction):  # type: ignore[arg-type]
            rules.append(rule)
            selects.append(sel)
    r = len(rules)
    table = _RuleTable(
        selects=np.array(selects, dtype=bool).reshape(r, n),
        peer_pods=np.zeros((r, n), dtype=bool),
        peer_outside=np.zeros((r, len(outside)), dtype=bool),
        ports_static=np.zeros((r, atoms.words), dtype=np.uint64),
        ports_by_dst={},
        isolated=isolated,
    )
    for i, rule in enumerate(rules):
        table.peer_pods[i] = [bool(rule.matching_peers(rep)) for rep in reps]
        table.peer_outside[i] = [bool(rule.matching_peers(External(a))) for a in outside]
        table.ports_static[i] = atoms.mask(rule.static_connections())
        if rule.has_named_ports:
            table.ports_by_dst[i] = np.array(
                [atoms.mask(rule.connections_for(rep)) for rep in reps], dtype=np.uint64
            ).reshape(n, atoms.words)
    return table


def _port_sets(evaluator: Evaluator, classes: list[PodClass]) -> list[ConnectionSet]:
    sets: list[ConnectionSet] = []
    for cp in evaluator.policies:
        for rule in (*cp.ingress, *cp.egress):
            sets.append(rule.static_connections())
            if rule.has_named_ports:
                sets.extend(rule.connections_for(c.representative) for c in classes)
    return sets


def compute_connectivity(
    cluster: Cluster,
    evaluator: Evaluator | None = None,
    progress: Callable[[int, int], None] | None = None,
    host_network: HostNetworkMode = "node",
) -> Connectivity:
    """Every allowed connection of the cluster, computed once per pair of classes."""
    evaluator = evaluator or Evaluator(cluster, host_network)
    pods = list(cluster.pods)
    classes = build_classes(evaluator, pods)
    uses_ipv6 = any(p.ip is not None and ":" in p.ip for p in pods)
    outside = address_atoms(ip_block_sets(evaluator.policies), ipv6=uses_ipv6 or None)
    atoms = PortAtoms(_port_sets(evaluator, classes))
    ingress = _build_table(evaluator, classes, outside, atoms, "ingress")
    egress = _build_table(evaluator, classes, outside, atoms, "egress")
    result = Connectivity(evaluator, classes, outside, atoms)
    result.isolated_ingress = [bool(x) for x in ingress.isolated]
    result.isolated_egress = [bool(x) for x in egress.isolated]
    n, w = len(classes), atoms.words
    full = atoms.full

    def ingress_towards(peer_row: NDArray[np.bool_]) -> Mask:
        """classes x words: what each destination class's ingress allows from one source."""
        col = np.where(ingress.isolated[:, None], np.uint64(0), full[None, :]).astype(np.uint64)
        for i in np.flatnonzero(peer_row):
            ports = ingress.ports_by_dst.get(int(i))
            if ports is None:
                col[ingress.selects[i]] |= ingress.ports_static[i]
            else:
                col[ingress.selects[i]] |= ports[ingress.selects[i]]
        return col

    for s in range(n):
        if egress.isolated[s]:
            row = np.zeros((n, w), dtype=np.uint64)
            row_out = np.zeros((len(outside), w), dtype=np.uint64)
            for i in np.flatnonzero(egress.selects[:, s]):
                ports = egress.ports_by_dst.get(int(i))
                peers = egress.peer_pods[i]
                if ports is None:
                    row[peers] |= egress.ports_static[i]
                else:
                    row[peers] |= ports[peers]
                row_out[egress.peer_outside[i]] |= egress.ports_static[i]
        else:
            row = np.broadcast_to(full, (n, w)).copy()
            row_out = np.broadcast_to(full, (len(outside), w)).copy()
        allowed = row & ingress_towards(ingress.peer_pods[:, s])
        for d in np.flatnonzero(allowed.any(axis=1)):
            result.class_pairs[(s, int(d))] = atoms.connections(allowed[d])
        for t in np.flatnonzero(row_out.any(axis=1)):
            result.to_outside[(s, int(t))] = atoms.connections(row_out[t])
        if progress is not None:
            progress(s + 1, n + len(outside))
    for e in range(len(outside)):
        col = ingress_towards(ingress.peer_outside[:, e])
        for d in np.flatnonzero(col.any(axis=1)):
            result.from_outside[(e, int(d))] = atoms.connections(col[d])
        if progress is not None:
            progress(n + e + 1, n + len(outside))
    return result
