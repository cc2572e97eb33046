"""All-pairs connectivity on equivalence classes of pods, with port atoms as bit masks.

Every verdict below is composed from `netpolicy.semantics`: which classes a policy selects
and a peer matches (`PodColumns`, the vectorized form of the same matchers), which ports a
rule opens towards a destination (`CompiledPort.connections_for`). This module evaluates them
once per class instead of once per pod and combines them destination by destination:

    allowed(s -> d) = egress(s towards d) & ingress(d from s)

where a side that no policy isolates allows everything. For each destination class d only the
ingress rules that select d and the egress rules whose peers include d are touched, so the
work follows the size of the policies, not pods squared.
"""

from __future__ import annotations

import time
from bisect import bisect_left, bisect_right
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
    HostNetworkMode,
    IntervalSet,
    PodInfo,
    address_atoms,
    cut_points,
)
from netpolicy.semantics.columns import PodColumns

Mask = NDArray[np.uint64]
Bools = NDArray[np.bool_]
Index = NDArray[np.int64]
Progress = Callable[[int, int], None]


class PortAtoms:
    """The disjoint (protocol, port range) pieces all rules cut the port space into."""

    def __init__(self, sets: list[ConnectionSet]) -> None:
        self.atoms: list[tuple[Protocol, int, int]] = []
        self._starts: dict[Protocol, tuple[int, list[int]]] = {}  # first atom, atom starts
        for proto in PROTOCOLS:
            first, starts = len(self.atoms), []
            for atom in cut_points([s.ports(proto) for s in sets], ALL_PORTS):
                lo, hi = atom.ranges[0]
                self.atoms.append((proto, lo, hi))
                starts.append(lo)
            self._starts[proto] = (first, starts)
        self.words = (len(self.atoms) + 63) // 64
        self._cache: dict[bytes, ConnectionSet] = {}
        self._masks: dict[ConnectionSet, Mask] = {}
        self.full: Mask = self.mask(ConnectionSet.all())

    def mask(self, conns: ConnectionSet) -> Mask:
        found = self._masks.get(conns)
        if found is not None:
            return found
        # Every set given is a union of whole atoms: a range covers the atoms starting in it.
        bits = np.zeros(self.words * 64, dtype=bool)
        for proto, (first, starts) in self._starts.items():
            for lo, hi in conns.ports(proto):
                bits[first + bisect_left(starts, lo) : first + bisect_right(starts, hi)] = True
        # bit i of the mask is bit i % 64 of word i // 64
        out = np.packbits(bits, bitorder="little").view("<u8").astype(np.uint64)
        self._masks[conns] = out
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
class RuleTable:
    """One direction's rules as arrays over classes (and outside atoms)."""

    selects: list[Index]  # per rule: the classes its policy selects
    peers: list[Index]  # per rule: the classes a peer of the rule matches
    peers_outside: list[Index]  # per rule: the outside atoms it matches
    static: list[Mask]  # per rule: the ports it opens regardless of destination
    by_destination: dict[int, Mask]  # rule -> classes x words, for rules with named ports
    isolated: Bools
    compiled: list[CompiledRule] = field(default_factory=list)  # the rules, in table order

    def ports_towards(self, rule: int, dst: int) -> Mask:
        named = self.by_destination.get(rule)
        return self.static[rule] if named is None else named[dst]


@dataclass(slots=True)
class PairRelations:
    """What the engine decided per pair of classes, before anything is expanded.

    Sparse (src, dst) relations for the sides that policies isolate, the rest implied by the
    isolation flags: a source not isolated for egress allows every port towards everything, a
    destination not isolated for ingress admits every port from everything. Rows of the full
    relation are made from these on demand (`Connectivity.row`), never all at once.
    """

    egress: _Relation  # src * n + dst: the egress rules of isolated sources
    ingress: _Relation  # src * n + dst: the ingress rules of isolated destinations
    from_outside: _Relation  # atom * n + dst
    to_outside: _Relation  # src * e + atom
    egress_isolated: Bools
    ingress_isolated: Bools
    open_ingress: Mask  # n x words: full where the destination admits everything, else 0


@dataclass(slots=True)
class Connectivity:
    """Allowed connections between classes and outside ranges.

    Row by row (`row`, `outside_row`: one source against every class and outside range, as
    port masks) for streaming at any density, or as dictionaries of ConnectionSets
    (`class_pairs`, `to_outside`, `from_outside`, built on first use) for small questions.
    """

    evaluator: Evaluator
    classes: list[PodClass]
    outside: list[IntervalSet]
    atoms: PortAtoms
    isolated_ingress: list[bool] = field(default_factory=list)
    isolated_egress: list[bool] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per phase: classes, rules (selectors and peers per class), combine."""
    rule_tables: dict[str, RuleTable] = field(default_factory=dict)
    """Per direction, every rule's subjects, peers and ports as arrays over classes."""
    relations: PairRelations | None = None
    """None when computed with `pairs=False` (rules and isolation only)."""
    _dicts: tuple[dict[tuple[int, int], ConnectionSet], ...] | None = None

    @property
    def has_pairs(self) -> bool:
        return self.relations is not None

    @property
    def class_pairs(self) -> dict[tuple[int, int], ConnectionSet]:
        """(src class, dst class) -> allowed ports, for every pair that allows any."""
        return self._expand()[0]

    @property
    def to_outside(self) -> dict[tuple[int, int], ConnectionSet]:
        """(src class, outside range) -> allowed ports."""
        return self._expand()[1]

    @property
    def from_outside(self) -> dict[tuple[int, int], ConnectionSet]:
        """(outside range, dst class) -> allowed ports."""
        return self._expand()[2]

    def _expand(self) -> tuple[dict[tuple[int, int], ConnectionSet], ...]:
        if self._dicts is None:
            self._dicts = _dictionaries(self)
        return self._dicts

    def row(self, src: int) -> Mask:
        """What class `src` may open towards every class and then every outside range:
        (classes + ranges) x words port masks."""
        rel = self._relations()
        n, e, w = len(self.classes), len(self.outside), self.atoms.words
        out = np.zeros((n + e, w), dtype=np.uint64)
        towards = out[:n]
        if rel.egress_isolated[src]:
            _fill(towards, rel.egress, src * n, n)
            if e:
                _fill(out[n:], rel.to_outside, src * e, e)
            admitted = rel.open_ingress.copy()
            _fill(admitted, rel.ingress, src * n, n)
            towards &= admitted
        else:
            towards[:] = rel.open_ingress
            _fill(towards, rel.ingress, src * n, n)
            out[n:] = self.atoms.full
        return out

    def outside_row(self, atom: int) -> Mask:
        """What outside range `atom` may open towards every class (and no outside range)."""
        rel = self._relations()
        n, e = len(self.classes), len(self.outside)
        out = np.zeros((n + e, self.atoms.words), dtype=np.uint64)
        out[:n] = rel.open_ingress
        _fill(out[:n], rel.from_outside, atom * n, n)
        return out

    def _relations(self) -> PairRelations:
        if self.relations is None:
            raise ValueError("connectivity computed without pairs (pairs=False)")
        return self.relations

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


def _fill(target: Mask, relation: _Relation, first: int, count: int) -> None:
    """Overwrite the rows of `target` that `relation` has keys for in [first, first + count)."""
    keys = relation.keys
    lo, hi = np.searchsorted(keys, (first, first + count))
    if hi > lo:
        target[keys[lo:hi] - first] = relation.masks[lo:hi]


def _named_port_masks(
    rules: list[CompiledRule], classes: list[PodClass], atoms: PortAtoms
) -> dict[object, Mask]:
    """classes x words per distinct named port entry (protocol, name), resolved per class."""
    out: dict[object, Mask] = {}
    # a named port resolves the same on every pod with the same container ports
    distinct: dict[object, int] = {}
    firsts: list[PodInfo] = []  # one class per distinct container ports
    rows: list[int] = []  # class -> its entry in firsts
    for c in classes:
        row = distinct.get(c.representative.ports)
        if row is None:
            row = distinct[c.representative.ports] = len(firsts)
            firsts.append(c.representative)
        rows.append(row)
    same_ports = np.array(rows, dtype=np.int64)
    for rule in rules:
        for port in rule.ports:
            key = (port.port.protocol, str(port.port.port))
            if port.is_named and key not in out:
                table = np.array(
                    [atoms.mask(port.connections_for(pod)) for pod in firsts], dtype=np.uint64
                ).reshape(len(firsts), atoms.words)
                out[key] = table[same_ports]
    return out


def _rules(
    evaluator: Evaluator,
    columns: PodColumns,
    classes: list[PodClass],
    outside: list[IntervalSet],
    atoms: PortAtoms,
    direction: str,
) -> RuleTable:
    n = len(classes)
    table = RuleTable([], [], [], [], {}, np.zeros(n, dtype=bool))
    # identical selections, peers and port specs share one array (memory at scale)
    index_cache: dict[object, Index] = {}
    per_dst_cache: dict[object, Mask] = {}

    def indices(key: object, mask: Bools) -> Index:
        found = index_cache.get(key)
        if found is None:
            found = np.flatnonzero(mask).astype(np.int64)
            index_cache[key] = found
        return found

    compiled = table.compiled
    for cp in evaluator.policies:
        if not cp.isolates(direction):  # type: ignore[arg-type]
            continue
        selected = columns.selected_by(cp)
        table.isolated |= selected
        for rule in cp.rules(direction):  # type: ignore[arg-type]
            compiled.append(rule)
            table.selects.append(indices(("sel", id(cp)), selected))
    named = _named_port_masks(compiled, classes, atoms)
    outside_starts = [a.ranges[0][0] for a in outside]
    for rule in compiled:
        peer_key = (rule.policy.namespace, tuple(p.peer for p in rule.peers))
        found = index_cache.get(("peers", peer_key))
        if found is None:
            mask = np.zeros(n, dtype=bool)
            for peer in rule.peers:
                mask |= columns.matched_by(peer)
            found = indices(("peers", peer_key), mask)
        table.peers.append(found)
        out = index_cache.get(("out", peer_key))
        if out is None:
            out = indices(("out", peer_key), _outside_matched(rule, outside_starts))
        table.peers_outside.append(out)
        static = atoms.mask(rule.static_connections())
        table.static.append(static)
        if rule.has_named_ports:
            names = tuple(
                sorted({(p.port.protocol, str(p.port.port)) for p in rule.ports if p.is_named})
            )
            key = (static.tobytes(), names)
            per_dst = per_dst_cache.get(key)
            if per_dst is None:
                per_dst = np.broadcast_to(static, (n, atoms.words)).copy()
                for name in names:
                    per_dst |= named[name]
                per_dst_cache[key] = per_dst
            table.by_destination[len(table.static) - 1] = per_dst
    return table


def _outside_matched(rule: CompiledRule, starts: list[int]) -> Bools:
    """Which outside atoms (given by their first addresses, in order) a rule's peers match.

    The atoms are cut by every ipBlock, so each lies wholly inside or outside the addresses
    the rule's peers match: a range of those addresses covers the atoms starting in it.
    """
    hit = np.zeros(len(starts), dtype=bool)
    for lo, hi in rule.peer_addresses():
        hit[bisect_left(starts, lo) : bisect_right(starts, hi)] = True
    return hit


def _port_sets(evaluator: Evaluator, classes: list[PodClass]) -> list[ConnectionSet]:
    """Every port set a rule can open: the cuts of the port atoms."""
    sets: dict[ConnectionSet, None] = {}
    named: set[tuple[str, str]] = set()
    for cp in evaluator.policies:
        for rule in (*cp.ingress, *cp.egress):
            sets.setdefault(rule.static_connections(), None)
            named.update((p.port.protocol, str(p.port.port)) for p in rule.ports if p.is_named)
    numbers: set[tuple[Protocol, int]] = set()
    for c in classes:
        for cport in c.representative.ports:
            if (cport.protocol, cport.name) in named:
                numbers.add((cport.protocol, cport.port))
    for protocol, number in sorted(numbers):
        sets.setdefault(ConnectionSet.port(protocol, number), None)
    return list(sets)


@dataclass(slots=True)
class _Relation:
    """Sparse (src, dst) -> port mask, keys `src * n_dst + dst`, sorted and unique."""

    keys: NDArray[np.int64]
    masks: Mask  # len(keys) x words


@dataclass(slots=True)
class _Sources:
    """The sources worth pairing with a destination: all egress-open ones, and those whose
    egress rules reach that destination (any other source's egress denies the pair)."""

    open: Bools
    reaching: dict[int, Index]
    scratch: Bools  # all False between calls

    @classmethod
    def of(cls, egress_isolated: Bools, egress: _Relation, n: int) -> _Sources:
        reaching: dict[int, Index] = {}
        if len(egress.keys):
            src, dst = egress.keys // n, egress.keys % n
            order = np.argsort(dst, kind="stable")
            src, dst = src[order], dst[order]
            firsts = np.flatnonzero(np.r_[True, dst[1:] != dst[:-1]])
            groups = np.split(src, firsts[1:])
            reaching = dict(zip(dst[firsts].tolist(), groups, strict=True))
        return cls(~egress_isolated, reaching, np.zeros(n, dtype=bool))

    def towards(self, subjects: Index, peers: Index) -> Index:
        reaching = [self.reaching[d] for d in subjects.tolist() if d in self.reaching]
        if not reaching:
            return peers[self.open[peers]]
        for sources in reaching:
            self.scratch[sources] = True
        keep = peers[self.open[peers] | self.scratch[peers]]
        for sources in reaching:
            self.scratch[sources] = False
        return keep


@dataclass(slots=True)
class RuleEntries:
    """Every (src, dst) each rule allows, before rules are OR-ed: keys `src * n_dst + dst`,
    the ports per entry, and the rule (its index in the table) per entry."""

    keys: NDArray[np.int64]
    masks: Mask
    rules: NDArray[np.int64]


def rule_entries(
    rules: RuleTable,
    direction: str,
    n_dst: int,
    words: int,
    outside: bool = False,
    sources: _Sources | None = None,
) -> RuleEntries:
    """Every (src, dst) that each rule of `rules` allows, rule by rule.

    For ingress the policy's selected classes are the destinations and the peers the sources;
    for egress the other way round. With `outside`, the peers are outside atoms. With
    `sources` (ingress only), pairs whose source's egress denies them anyway are left out.
    """
    keys: list[NDArray[np.int64]] = []
    masks: list[Mask] = []
    owners: list[NDArray[np.int64]] = []
    peers_of = rules.peers_outside if outside else rules.peers
    for r, subjects in enumerate(rules.selects):
        peers = peers_of[r]
        if sources is not None and len(subjects) and len(peers):
            peers = sources.towards(subjects, peers)
        if not len(subjects) or not len(peers):
            continue
        srcs, dsts = (peers, subjects) if direction == "ingress" else (subjects, peers)
        keys.append(np.add.outer(srcs * n_dst, dsts).ravel())
        owners.append(np.full(len(srcs) * len(dsts), r, dtype=np.int64))
        named = rules.by_destination.get(r)
        if named is None or (outside and direction == "egress"):
            masks.append(np.broadcast_to(rules.static[r], (len(srcs) * len(dsts), words)))
        else:
            # named ports resolve on the destination: the columns of the outer product
            masks.append(np.tile(named[dsts], (len(srcs), 1)))
    if not keys:
        empty = np.zeros(0, dtype=np.int64)
        return RuleEntries(empty, np.zeros((0, words), dtype=np.uint64), empty)
    return RuleEntries(np.concatenate(keys), np.concatenate(masks), np.concatenate(owners))


def _relation(
    rules: RuleTable,
    direction: str,
    n_dst: int,
    words: int,
    outside: bool = False,
    sources: _Sources | None = None,
) -> _Relation:
    """Every (src, dst) some rule of `rules` allows, OR-ing the ports of all such rules."""
    entries = rule_entries(rules, direction, n_dst, words, outside, sources)
    if not len(entries.keys):
        return _Relation(entries.keys, entries.masks)
    order = np.argsort(entries.keys, kind="stable")
    all_keys, all_masks = entries.keys[order], entries.masks[order]
    starts = np.flatnonzero(np.r_[True, all_keys[1:] != all_keys[:-1]])
    return _Relation(all_keys[starts], np.bitwise_or.reduceat(all_masks, starts, axis=0))


def _emit(
    target: dict[tuple[int, int], ConnectionSet],
    keys: NDArray[np.int64],
    masks: Mask,
    n_dst: int,
    atoms: PortAtoms,
) -> None:
    """Store non-empty masks as ConnectionSets, one conversion per distinct mask."""
    keep = masks.any(axis=1)
    keys, masks = keys[keep], masks[keep]
    if not len(keys):
        return
    uniq, inverse = np.unique(masks, axis=0, return_inverse=True)
    sets = [atoms.connections(u) for u in uniq]
    for key, i in zip(keys.tolist(), inverse.ravel().tolist(), strict=True):
        target[divmod(key, n_dst)] = sets[i]


def _dictionaries(result: Connectivity) -> tuple[dict[tuple[int, int], ConnectionSet], ...]:
    """The relations as dictionaries of ConnectionSets, combined by which sides are isolated."""
    rel = result._relations()
    atoms = result.atoms
    n, w, e_count = len(result.classes), atoms.words, len(result.outside)
    in_iso, eg_iso = rel.ingress_isolated, rel.egress_isolated
    allowed_eg, allowed_in = rel.egress, rel.ingress
    full = atoms.full
    class_pairs: dict[tuple[int, int], ConnectionSet] = {}
    to_outside: dict[tuple[int, int], ConnectionSet] = {}
    from_outside: dict[tuple[int, int], ConnectionSet] = {}
    in_src = allowed_in.keys // n
    eg_dst = allowed_eg.keys % n
    both, i_in, i_eg = np.intersect1d(allowed_in.keys, allowed_eg.keys, return_indices=True)
    _emit(class_pairs, both, allowed_in.masks[i_in] & allowed_eg.masks[i_eg], n, atoms)
    only_in = ~eg_iso[in_src]  # the source's egress is open: ingress decides
    _emit(class_pairs, allowed_in.keys[only_in], allowed_in.masks[only_in], n, atoms)
    only_eg = ~in_iso[eg_dst]  # the destination's ingress is open: egress decides
    _emit(class_pairs, allowed_eg.keys[only_eg], allowed_eg.masks[only_eg], n, atoms)
    open_src, open_dst = np.flatnonzero(~eg_iso), np.flatnonzero(~in_iso)
    if len(open_src) and len(open_dst):
        keys = np.add.outer(open_src.astype(np.int64) * n, open_dst).ravel()
        _emit(class_pairs, keys, np.broadcast_to(full, (len(keys), w)), n, atoms)
    # outside atoms to pods: only the pod's ingress applies
    _emit(from_outside, rel.from_outside.keys, rel.from_outside.masks, n, atoms)
    if len(open_dst):
        keys = np.add.outer(np.arange(e_count, dtype=np.int64) * n, open_dst).ravel()
        _emit(from_outside, keys, np.broadcast_to(full, (len(keys), w)), n, atoms)
    # pods to outside atoms: only the pod's egress applies; named ports never match there
    _emit(to_outside, rel.to_outside.keys, rel.to_outside.masks, e_count, atoms)
    if len(open_src):
        keys = np.add.outer(open_src.astype(np.int64) * e_count, np.arange(e_count)).ravel()
        _emit(to_outside, keys, np.broadcast_to(full, (len(keys), w)), e_count, atoms)
    return class_pairs, to_outside, from_outside


def compute_connectivity(
    cluster: Cluster,
    evaluator: Evaluator | None = None,
    progress: Progress | None = None,
    host_network: HostNetworkMode = "node",
    pairs: bool = True,
) -> Connectivity:
    """Every allowed connection of the cluster, computed once per pair of classes.

    With `pairs` False, only the classes, the rule tables and isolation: what a caller needs
    that asks about rules rather than about every connection (lint), at a cost independent of
    how dense the connectivity is.
    """
    started = time.perf_counter()
    evaluator = evaluator or Evaluator(cluster, host_network)
    classes = build_classes(evaluator, list(cluster.pods))
    after_classes = time.perf_counter()
    columns = PodColumns([c.representative for c in classes])
    uses_ipv6 = any(p.ip is not None and ":" in p.ip for p in cluster.pods)
    outside = address_atoms(ip_block_sets(evaluator.policies), ipv6=uses_ipv6 or None)
    atoms = PortAtoms(_port_sets(evaluator, classes))
    ingress = _rules(evaluator, columns, classes, outside, atoms, "ingress")
    egress = _rules(evaluator, columns, classes, outside, atoms, "egress")
    result = Connectivity(evaluator, classes, outside, atoms)
    result.rule_tables = {"ingress": ingress, "egress": egress}
    after_rules = time.perf_counter()
    result.timings["classes"] = after_classes - started
    result.timings["rules"] = after_rules - after_classes
    result.isolated_ingress = [bool(x) for x in ingress.isolated]
    result.isolated_egress = [bool(x) for x in egress.isolated]
    if not pairs:
        return result
    n, w, e_count = len(classes), atoms.words, len(outside)
    in_iso, eg_iso = ingress.isolated, egress.isolated
    allowed_eg = _relation(egress, "egress", n, w)
    allowed_in = _relation(ingress, "ingress", n, w, sources=_Sources.of(eg_iso, allowed_eg, n))
    open_ingress = np.zeros((n, w), dtype=np.uint64)
    open_ingress[~in_iso] = atoms.full
    result.relations = PairRelations(
        allowed_eg,
        allowed_in,
        _relation(ingress, "ingress", n, w, outside=True),
        _relation(egress, "egress", e_count, w, outside=True),
        eg_iso,
        in_iso,
        open_ingress,
    )
    if progress is not None:
        progress(n + e_count, n + e_count)
    result.timings["combine"] = time.perf_counter() - after_rules
    return result
