"""All-pairs connectivity on equivalence classes of pods, with port atoms as bit masks.

Every verdict below is composed from `netpolicy.semantics`: which classes a policy selects
and a peer matches (`PodColumns`, the vectorized form of the same matchers), which ports a
rule opens towards a destination (`CompiledPort.connections_for`). This module evaluates them
once per class instead of once per pod and combines them source by source, one row at a time:

    allowed(s -> d) = egress(s towards d) & ingress(d from s)

where a side that no policy isolates allows everything. A row touches only the egress rules
selecting its source and the ingress admissions of the peer sets containing it (shared by all
sources in the same peer sets), so memory follows the policies and one row, never the pairs,
however dense the connectivity is.
"""

from __future__ import annotations

import time
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from netpolicy.analysis.arrays import ragged_ranges, run_starts
from netpolicy.analysis.classes import PodClass, build_classes, ip_block_sets, tier_network_sets
from netpolicy.analysis.salts import salts
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
from netpolicy.semantics.tiers import CompiledAdminRule, Tiers

Mask = NDArray[np.uint64]
Bools = NDArray[np.bool_]
Index = NDArray[np.int64]
Progress = Callable[[int, int], None]

ROW_CACHE_BYTES = 128 << 20
"""Ingress rows kept per signature while rows are made."""


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
        self._atom_columns: tuple[NDArray[np.int64], list[int], list[int]] | None = None
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
            # the atoms set, as runs of consecutive atoms of one protocol: each run is one
            # range (a protocol's atoms tile its port space in order)
            bits = np.unpackbits(mask.astype("<u8").view(np.uint8), bitorder="little")
            on = np.flatnonzero(bits[: len(self.atoms)])
            protos, los, his = self._columns()
            parts: dict[Protocol, list[tuple[int, int]]] = {}
            if len(on):
                breaks = np.empty(len(on) + 1, dtype=bool)
                breaks[0] = breaks[-1] = True
                np.not_equal(np.diff(on), 1, out=breaks[1:-1])
                breaks[1:-1] |= np.diff(protos[on]) != 0
                firsts = on[breaks[:-1]].tolist()
                lasts = on[breaks[1:]].tolist()
                for a, b in zip(firsts, lasts, strict=True):
                    parts.setdefault(PROTOCOLS[protos[a]], []).append((los[a], his[b]))
            found = ConnectionSet({p: IntervalSet(r) for p, r in parts.items()})
            self._cache[key] = found
        return found

    def _columns(self) -> tuple[NDArray[np.int64], list[int], list[int]]:
        """Per atom: its protocol's index in PROTOCOLS, its first and its last port."""
        if self._atom_columns is None:
            self._atom_columns = (
                np.array([PROTOCOLS.index(p) for p, _, _ in self.atoms], dtype=np.int64),
                [lo for _, lo, _ in self.atoms],
                [hi for _, _, hi in self.atoms],
            )
        return self._atom_columns


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
    """What the rules decide per pair of classes, kept in the form rows are made from.

    A source's egress row comes from the few egress rules selecting it. Its ingress row
    (what every destination admits from it) depends only on which ingress peer sets contain
    it, its *signature*: sources with one signature share the row, made once per signature
    from the per-peer-set admissions. Sides that no policy isolates allow everything. Nothing
    here is ever as large as the pairs: the work per row is bounded by the rules it touches.
    """

    egress: RuleTable
    ingress: RuleTable
    egress_isolated: Bools
    ingress_isolated: Bools
    open_ingress: Mask  # n x words: full where the destination admits everything, else 0
    egress_rules: list[list[int]]  # per class: the egress rules selecting it
    signature: Index  # per source column (classes, then outside atoms): its signature
    signature_sets: list[Index]  # per signature: the ingress peer sets containing it
    admit_dsts: Index  # per ingress peer set (between admit_bounds[k] and [k + 1]): destinations
    admit_masks: Mask  # ... and the ports each admits
    admit_bounds: Index
    cache: OrderedDict[int, Mask] = field(default_factory=OrderedDict)

    def admitted(self, column: int, budget: int) -> Mask:
        """n x words: what each class admits from source `column` (shared per signature)."""
        sig = int(self.signature[column])
        found = self.cache.get(sig)
        if found is not None:
            self.cache.move_to_end(sig)
            return found
        found = self.open_ingress.copy()
        sets = self.signature_sets[sig]
        if len(sets):
            # the admissions of every peer set containing the source, in one gather
            lo, hi = self.admit_bounds[sets], self.admit_bounds[sets + 1]
            at = ragged_ranges(lo, hi - lo)
            np.bitwise_or.at(found, self.admit_dsts[at], self.admit_masks[at])
        self.cache[sig] = found
        if len(self.cache) > max(1, budget // max(found.nbytes, 1)):
            self.cache.popitem(last=False)
        return found


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
    tier_tables: dict[str, TierTable] | None = None
    """Per direction, the cluster-wide rules in evaluation order; None without any."""
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
        if self.tier_tables is not None:
            return self._tier_row(src, self.tier_tables)
        return self._np_row(src)

    def _tier_row(self, src: int, tables: dict[str, TierTable]) -> Mask:
        """The row with the tier chain applied on both sides: egress of `src` towards every
        column, and ingress of every class from `src` (see `semantics.tiers`)."""
        rel = self._relations()
        n = len(self.classes)
        out = tables["egress"].egress_side(
            src, self._np_egress(src), bool(rel.egress_isolated[src])
        )
        out[:n] &= tables["ingress"].ingress_side(
            src, rel.admitted(src, ROW_CACHE_BYTES), rel.ingress_isolated
        )
        return out

    def _np_egress(self, src: int) -> Mask:
        """The NetworkPolicy egress of `src` alone (every column; full where not isolated)."""
        rel = self._relations()
        n, e, w = len(self.classes), len(self.outside), self.atoms.words
        if not rel.egress_isolated[src]:
            return np.broadcast_to(self.atoms.full, (n + e, w))
        out = np.zeros((n + e, w), dtype=np.uint64)
        table = rel.egress
        for r in rel.egress_rules[src]:
            peers = table.peers[r]
            named = table.by_destination.get(r)
            out[peers] |= table.static[r] if named is None else named[peers]
            if e:
                out[n + table.peers_outside[r]] |= table.static[r]
        return out

    def _np_row(self, src: int) -> Mask:
        rel = self._relations()
        n, e, w = len(self.classes), len(self.outside), self.atoms.words
        if not rel.egress_isolated[src]:
            out = np.empty((n + e, w), dtype=np.uint64)
            out[:n] = rel.admitted(src, ROW_CACHE_BYTES)
            out[n:] = self.atoms.full
            return out
        out = np.zeros((n + e, w), dtype=np.uint64)
        table = rel.egress
        for r in rel.egress_rules[src]:
            peers = table.peers[r]
            named = table.by_destination.get(r)
            out[peers] |= table.static[r] if named is None else named[peers]
            if e:
                # named ports never match an outside address
                out[n + table.peers_outside[r]] |= table.static[r]
        out[:n] &= rel.admitted(src, ROW_CACHE_BYTES)
        return out

    def outside_key(self, atom: int) -> int:
        """Equal for outside ranges with equal rows (`outside_row` depends only on which
        ingress peer sets contain the range)."""
        return int(self._relations().signature[len(self.classes) + atom])

    def outside_row(self, atom: int) -> Mask:
        """What outside range `atom` may open towards every class (and no outside range).

        Cluster-wide ingress peers are namespaces and pods only, so no Admin or Baseline
        rule matches an outside source: the NetworkPolicy verdict (or allow) stands.
        """
        rel = self._relations()
        n, e = len(self.classes), len(self.outside)
        out = np.zeros((n + e, self.atoms.words), dtype=np.uint64)
        out[:n] = rel.admitted(n + atom, ROW_CACHE_BYTES)
        return out

    def egress_side(self, src: int) -> Mask:
        """What the egress of class `src` allows towards every column (classes, then outside
        ranges), the tier chain applied; the destinations' ingress left out."""
        if self.tier_tables is None:
            return self._np_egress(src)
        isolated = bool(self._relations().egress_isolated[src])
        return self.tier_tables["egress"].egress_side(src, self._np_egress(src), isolated)

    def guarded(self) -> tuple[Bools, Bools]:
        """Per class: whether its (ingress, egress) side, the cluster-wide tiers applied,
        leaves some traffic with the endpoints of the input not allowed (all False without
        cluster-wide policies)."""
        n = len(self.classes)
        ingress, egress = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        if self.tier_tables is None:
            return ingress, egress
        rel = self._relations()
        full = self.atoms.full
        admitting = self.tier_tables["ingress"]
        for src in range(n):
            egress[src] = bool((self.egress_side(src) != full).any())
        for column in range(n + len(self.outside)):
            admits = admitting.ingress_side(
                column, rel.admitted(column, ROW_CACHE_BYTES), rel.ingress_isolated
            )
            ingress |= (admits != full).any(axis=1)
        return ingress, egress

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


@dataclass(slots=True)
class TierTable:
    """One direction's cluster-wide rules in evaluation order (Admin by priority, then
    Baseline), as arrays over classes; columns are the classes, then the outside atoms."""

    n: int
    atoms: PortAtoms
    tiers: list[str]  # per rule: "Admin" or "Baseline"
    actions: list[str]  # per rule: "allow" (Allow/Accept), "deny" or "pass"
    subjects: list[Bools]  # per rule: the classes its policy selects
    peers: list[Bools]  # per rule: the columns (classes, then outside atoms) a peer matches
    peer_index: list[Index]  # the same as indices
    static: list[Mask]
    by_destination: dict[int, Mask]  # rule -> classes x words, for rules with named ports
    subject_index: list[Index] = field(default_factory=list)  # the subjects as indices
    cache: OrderedDict[bytes, Mask] = field(default_factory=OrderedDict)

    def _first_match(
        self,
        rules: list[int],
        ports_of: Callable[[int], Mask],
        index_of: Callable[[int], Index],
        rows: int,
    ) -> tuple[Mask, Mask]:
        """First match per port over `rules` in order: (allowed, denied); passed ports and
        those no rule matches are in neither (they fall through to the next tier)."""
        w = self.atoms.words
        allow = np.zeros((rows, w), dtype=np.uint64)
        deny = np.zeros((rows, w), dtype=np.uint64)
        rest = np.empty((rows, w), dtype=np.uint64)
        rest[:] = self.atoms.full
        for r in rules:
            at = index_of(r)
            if not len(at):
                continue
            hit = ports_of(r) & rest[at]
            if self.actions[r] == "allow":
                allow[at] |= hit
            elif self.actions[r] == "deny":
                deny[at] |= hit
            rest[at] &= ~hit
        return allow, deny

    def egress_side(self, src: int, np_row: Mask, isolated: bool) -> Mask:
        """Egress of class `src` towards every column, with the tier chain applied."""
        rows = len(self.peers[0]) if self.peers else np_row.shape[0]
        mine = [r for r in range(len(self.tiers)) if self.subjects[r][src]]

        def ports_of(r: int) -> Mask:
            at = self.peer_index[r]
            named = self.by_destination.get(r)
            if named is None:
                return np.broadcast_to(self.static[r], (len(at), self.atoms.words))
            # named ports resolve on destination classes; never on an outside address
            out = np.empty((len(at), self.atoms.words), dtype=np.uint64)
            inside = int(np.searchsorted(at, self.n))
            out[:inside] = named[at[:inside]]
            out[inside:] = self.static[r]
            return out

        admin_allow, admin_deny = self._first_match(
            [r for r in mine if self.tiers[r] == "Admin"],
            ports_of,
            self.peer_index.__getitem__,
            rows,
        )
        if isolated:
            # "v1.NetworkPolicy always makes a final decision for selected pods"
            after = np_row
        else:
            _, base_deny = self._first_match(
                [r for r in mine if self.tiers[r] == "Baseline"],
                ports_of,
                self.peer_index.__getitem__,
                rows,
            )
            after = self.atoms.full & ~base_deny
        return admin_allow | (after & ~admin_deny)

    def ingress_side(self, src: int, admitted: Mask, isolated: Bools) -> Mask:
        """Ingress of every class from column `src`, with the tier chain applied; `admitted`
        is the NetworkPolicy verdict (full where a class is not isolated)."""
        matching = [r for r in range(len(self.tiers)) if self.peers[r][src]]
        key = np.array(matching, dtype=np.int64).tobytes()
        tiered = self.cache.get(key)
        if tiered is None:
            subject_index = self.subject_index

            def ports_of(r: int) -> Mask:
                named = self.by_destination.get(r)
                at = subject_index[r]
                if named is None:
                    return np.broadcast_to(self.static[r], (len(at), self.atoms.words))
                return named[at]

            admin = self._first_match(
                [r for r in matching if self.tiers[r] == "Admin"],
                ports_of,
                subject_index.__getitem__,
                self.n,
            )
            _, base_deny = self._first_match(
                [r for r in matching if self.tiers[r] == "Baseline"],
                ports_of,
                subject_index.__getitem__,
                self.n,
            )
            tiered = np.stack([admin[0], admin[1], self.atoms.full & ~base_deny])
            self.cache[key] = tiered
            if len(self.cache) > max(1, ROW_CACHE_BYTES // max(tiered.nbytes, 1)):
                self.cache.popitem(last=False)
        admin_allow, admin_deny, baseline = tiered
        after = np.where(isolated[:, None], admitted, baseline)
        return admin_allow | (after & ~admin_deny)


def _tier_table(
    tiers: Tiers,
    direction: str,
    columns: PodColumns,
    classes: list[PodClass],
    outside: list[IntervalSet],
    atoms: PortAtoms,
) -> TierTable:
    n = len(classes)
    table = TierTable(n, atoms, [], [], [], [], [], [], {})
    starts = [a.ranges[0][0] for a in outside]
    for cp in (*tiers.admin, *tiers.baseline):
        subjects = columns.subjects_of(cp)
        for rule in cp.rules(direction):  # type: ignore[arg-type]
            table.tiers.append(cp.policy.tier)
            table.actions.append(
                "allow" if rule.allows else "deny" if rule.action == "Deny" else "pass"
            )
            table.subjects.append(subjects)
            mask = np.zeros(n, dtype=bool)
            for peer in rule.peers:
                mask |= columns.matched_by_admin(peer)
            hit = np.zeros(len(starts), dtype=bool)
            for lo, hi in rule.peer_addresses():
                hit[bisect_left(starts, lo) : bisect_right(starts, hi)] = True
            both = np.concatenate([mask, hit])
            table.peers.append(both)
            table.peer_index.append(np.flatnonzero(both).astype(np.int64))
            table.static.append(atoms.mask(rule.static_connections()))
            if rule.has_named_ports:
                table.by_destination[len(table.static) - 1] = _admin_named(rule, classes, atoms)
    table.subject_index = [np.flatnonzero(s).astype(np.int64) for s in table.subjects]
    return table


def _admin_named(rule: CompiledAdminRule, classes: list[PodClass], atoms: PortAtoms) -> Mask:
    """classes x words: the ports `rule` selects towards each class (named ports resolved)."""
    by_ports: dict[object, Mask] = {}
    out = np.empty((len(classes), atoms.words), dtype=np.uint64)
    for i, c in enumerate(classes):
        found = by_ports.get(c.representative.ports)
        if found is None:
            found = by_ports[c.representative.ports] = atoms.mask(
                rule.connections_for(c.representative)
            )
        out[i] = found
    return out


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
        peer_key = _peers_key(rule)
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


def _peers_key(rule: CompiledRule) -> frozenset[object]:
    """What a rule's peers match, as a key: rules of different policies with the same peers
    share one array (the policy's namespace matters only to a podSelector alone)."""
    out: set[object] = set()
    for cpeer in rule.peers:
        peer = cpeer.peer
        if peer is None:
            out.add("all")
        elif peer.ip_block is not None:
            out.add(("ip", peer.ip_block))
        elif peer.namespace_selector is not None:
            out.add(("ns", peer.namespace_selector, peer.pod_selector))
        else:
            out.add(("pod", cpeer.policy_namespace, peer.pod_selector))
    return frozenset(out)


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
    for tier_policy in evaluator.tiers.all:
        for admin_rule in (*tier_policy.ingress, *tier_policy.egress):
            sets.setdefault(admin_rule.static_connections(), None)
            names = {p.port for p in admin_rule.ports if isinstance(p.port, str)}
            for c in classes:
                for cport in c.representative.ports:
                    if cport.name in names:
                        # a cluster-wide named port matches the name in any protocol
                        numbers.add((cport.protocol, cport.port))
    for protocol, number in sorted(numbers):
        sets.setdefault(ConnectionSet.port(protocol, number), None)
    return list(sets)


def _dictionaries(result: Connectivity) -> tuple[dict[tuple[int, int], ConnectionSet], ...]:
    """The rows as dictionaries of ConnectionSets (one conversion per distinct mask)."""
    n, e = len(result.classes), len(result.outside)
    class_pairs: dict[tuple[int, int], ConnectionSet] = {}
    to_outside: dict[tuple[int, int], ConnectionSet] = {}
    from_outside: dict[tuple[int, int], ConnectionSet] = {}
    atoms = result.atoms
    for s in range(n):
        row = result.row(s)
        for d in np.flatnonzero(row.any(axis=1)).tolist():
            if d < n:
                class_pairs[s, d] = atoms.connections(row[d])
            else:
                to_outside[s, d - n] = atoms.connections(row[d])
    for a in range(e):
        row = result.outside_row(a)
        for d in np.flatnonzero(row[:n].any(axis=1)).tolist():
            from_outside[a, d] = atoms.connections(row[d])
    return class_pairs, to_outside, from_outside


def _pair_relations(
    ingress: RuleTable, egress: RuleTable, n: int, e: int, atoms: PortAtoms
) -> PairRelations:
    """Index the rules for rows: egress rules per source, ingress peer sets per source."""
    w = atoms.words
    egress_rules: list[list[int]] = [[] for _ in range(n)]
    for r, subjects in enumerate(egress.selects):
        for c in subjects.tolist():
            egress_rules[c].append(r)
    # ingress rules grouped by their peers (classes and outside atoms): one admission each
    sets: dict[tuple[int, int], int] = {}
    members: list[Index] = []
    admitted: list[list[tuple[Index, Mask]]] = []
    for r, subjects in enumerate(ingress.selects):
        if not len(subjects):
            continue
        peers, outside = ingress.peers[r], ingress.peers_outside[r]
        if not len(peers) and not len(outside):
            continue
        key = (id(peers), id(outside))
        k = sets.get(key)
        if k is None:
            k = sets[key] = len(members)
            members.append(np.concatenate([peers, n + outside]).astype(np.int64))
            admitted.append([])
        named = ingress.by_destination.get(r)
        masks = (
            np.broadcast_to(ingress.static[r], (len(subjects), w))
            if named is None
            else named[subjects]
        )
        admitted[k].append((subjects, masks))
    admit_dsts: list[Index] = []
    admit_masks: list[Mask] = []
    for parts in admitted:
        dsts = np.concatenate([d for d, _ in parts])
        masks = np.concatenate([m for _, m in parts])
        order = np.argsort(dsts, kind="stable")
        dsts, masks = dsts[order], masks[order]
        starts = run_starts(dsts)
        admit_dsts.append(dsts[starts])
        admit_masks.append(np.bitwise_or.reduceat(masks, starts, axis=0))
    admit_bounds = np.cumsum([0] + [len(d) for d in admit_dsts]).astype(np.int64)
    # a source's signature: the peer sets containing it (two 64-bit hashes name the set)
    total = n + e
    if members:
        src = np.concatenate(members)
        ks = np.concatenate([np.full(len(m), k, dtype=np.int64) for k, m in enumerate(members)])
        order = np.lexsort((ks, src))
        src, ks = src[order], ks[order]
    else:
        src = ks = np.zeros(0, dtype=np.int64)
    salt = salts(0, (2, max(len(members), 1)))
    hashes = np.zeros((total, 2), dtype=np.uint64)
    if len(src):
        np.add.at(hashes[:, 0], src, salt[0][ks])
        np.add.at(hashes[:, 1], src, salt[1][ks])
    _, first, signature = np.unique(hashes, axis=0, return_index=True, return_inverse=True)
    bounds = np.searchsorted(src, np.arange(total + 1))
    signature_sets = [ks[bounds[f] : bounds[f + 1]] for f in first.tolist()]
    open_ingress = np.zeros((n, w), dtype=np.uint64)
    open_ingress[~ingress.isolated] = atoms.full
    return PairRelations(
        egress,
        ingress,
        egress.isolated,
        ingress.isolated,
        open_ingress,
        egress_rules,
        signature.ravel().astype(np.int64),
        signature_sets,
        np.concatenate(admit_dsts) if admit_dsts else np.zeros(0, dtype=np.int64),
        np.concatenate(admit_masks) if admit_masks else np.zeros((0, w), dtype=np.uint64),
        admit_bounds,
    )


def compute_connectivity(
    cluster: Cluster,
    evaluator: Evaluator | None = None,
    progress: Progress | None = None,
    host_network: HostNetworkMode = "node",
    pairs: bool = True,
    outside_cuts: Sequence[IntervalSet] = (),
) -> Connectivity:
    """Every allowed connection of the cluster, computed once per pair of classes.

    With `pairs` False, only the classes, the rule tables and isolation: what a caller needs
    that asks about rules rather than about every connection (lint), at a cost independent of
    how dense the connectivity is. `outside_cuts`: address sets that cut the outside ranges
    besides the cluster's own ipBlocks (two inputs compared on common pieces, as diff does).
    """
    started = time.perf_counter()
    evaluator = evaluator or Evaluator(cluster, host_network)
    classes = build_classes(evaluator, list(cluster.pods))
    after_classes = time.perf_counter()
    columns = PodColumns([c.representative for c in classes])
    uses_ipv6 = any(p.ip is not None and ":" in p.ip for p in cluster.pods)
    outside = address_atoms(
        [*ip_block_sets(evaluator.policies), *tier_network_sets(evaluator.tiers), *outside_cuts],
        ipv6=uses_ipv6 or None,
    )
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
    n, e_count = len(classes), len(outside)
    result.relations = _pair_relations(ingress, egress, n, e_count, atoms)
    if evaluator.tiers:
        result.tier_tables = {
            d: _tier_table(evaluator.tiers, d, columns, classes, outside, atoms)
            for d in ("ingress", "egress")
        }
    if progress is not None:
        progress(n + e_count, n + e_count)
    result.timings["combine"] = time.perf_counter() - after_rules
    return result
