"""The connectivity diff: every pair of endpoints whose allowed ports differ between two inputs.

Both inputs are analysed by the one engine with the same outside ranges (the pieces into which
the ipBlocks of *both* cut the address space), listed as `ConnectionRows` in endpoint-name
order, and merged row by row: a pair is a change iff its allowed set differs, an endpoint
present on one side only allowing nothing on the other. Nothing here grows with the number
of changes or connections: rows are compared while they are read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from netpolicy.analysis.classes import ip_block_sets, tier_network_sets
from netpolicy.analysis.connectivity import Connectivity, compute_connectivity
from netpolicy.analysis.connlist import ConnectionRows
from netpolicy.model import Cluster, ClusterPolicy
from netpolicy.semantics import ConnectionSet, Evaluator, HostNetworkMode, IntervalSet
from netpolicy.semantics.addresses import IPV6

Index = NDArray[np.int64]
ChangeKind = Literal["added", "removed", "changed"]
Direction = Literal["ingress", "egress"]

NOTHING = 0
"""The port-set id of the empty set: what a pair allows on a side that lacks it."""

EXAMPLES = 3
"""Lost connections kept per newly isolated endpoint, to show in the summary."""

DiffRow = tuple[int, Index, Index, Index]
"""One source endpoint (index into `names`), the destinations whose allowed ports differ
(ascending), and the port-set ids before and after (`NOTHING` for none)."""


@dataclass(frozen=True, slots=True)
class Change:
    """One pair whose allowed ports differ: `before` and `after` (empty = nothing)."""

    src: str
    dst: str
    change: ChangeKind
    before: ConnectionSet
    after: ConnectionSet


def change_kind(before: int, after: int) -> ChangeKind:
    """added = nothing before, removed = nothing after, changed = both and different."""
    if before == NOTHING:
        return "added"
    if after == NOTHING:
        return "removed"
    return "changed"


@dataclass(frozen=True, slots=True)
class LostConnection:
    peer: str
    before: ConnectionSet
    after: ConnectionSet


@dataclass(frozen=True, slots=True)
class Isolation:
    """An endpoint on both sides that a direction's policies isolate only after the change
    (a NetworkPolicy selects it, or guardrails leave some of its traffic not allowed),
    with the traffic it loses in that direction (pairs losing a port, losing all of them)."""

    endpoint: str
    direction: Direction
    losing: int
    cut: int
    examples: tuple[LostConnection, ...] = ()


@dataclass(frozen=True, slots=True)
class Exposure:
    """A destination that more sources may reach after the change (new or wider ports)."""

    endpoint: str
    sources: int  # pods or workloads
    outside: int  # outside ranges


@dataclass(frozen=True, slots=True)
class GuardrailChange:
    """An AdminNetworkPolicy, BaselineAdminNetworkPolicy or ClusterNetworkPolicy that one
    side has and the other not (`added`, `removed`), or that both have, written differently
    (`changed`, with the parts that differ: `priority 10 -> 5`, `tier`, `subject`, `ingress
    rules`, `egress rules`)."""

    policy: str
    """`ANP deny-tenants`, `BANP default`, `CNP guard`."""
    change: ChangeKind
    tier: str
    priority: int
    """The NEW side's (the OLD side's for a removed policy)."""
    parts: tuple[str, ...] = ()

    def describe(self) -> str:
        """`changed ANP deny-tenants (Admin, priority 5): priority 10 -> 5, ingress rules`."""
        where = f"{self.tier}, priority {self.priority}"
        what = f": {', '.join(self.parts)}" if self.parts else ""
        return f"{self.change} {self.policy} ({where}){what}"


def guardrail_changes(
    old: Iterable[ClusterPolicy], new: Iterable[ClusterPolicy]
) -> list[GuardrailChange]:
    """The cluster-wide policies added, removed or changed from `old` to `new` (one object is
    its kind and name), Admin tier first, then by priority and name."""
    before = {(p.kind, p.name): p for p in old}
    after = {(p.kind, p.name): p for p in new}
    out: list[GuardrailChange] = []
    for key in before.keys() | after.keys():
        was, now = before.get(key), after.get(key)
        if was == now:
            continue
        shown = now if now is not None else was
        assert shown is not None
        if was is None or now is None:
            kind: ChangeKind = "added" if was is None else "removed"
            out.append(GuardrailChange(shown.key, kind, shown.tier, shown.priority))
            continue
        parts = []
        if was.priority != now.priority:
            parts.append(f"priority {was.priority} -> {now.priority}")
        if was.tier != now.tier:
            parts.append(f"tier {was.tier} -> {now.tier}")
        if (was.namespace_selector, was.pod_selector) != (now.namespace_selector, now.pod_selector):
            parts.append("subject")
        if was.ingress != now.ingress:
            parts.append("ingress rules")
        if was.egress != now.egress:
            parts.append("egress rules")
        out.append(GuardrailChange(now.key, "changed", now.tier, now.priority, tuple(parts)))
    out.sort(key=lambda c: (c.tier != "Admin", c.priority, c.policy))
    return out


@dataclass(slots=True)
class DiffSummary:
    """What people act on: counts, newly isolated endpoints, new exposure."""

    added: int = 0
    removed: int = 0
    changed: int = 0
    losing: int = 0
    """Pairs that lose at least one previously allowed port (`--fail-on-removed`)."""
    isolated: list[Isolation] = field(default_factory=list)
    opened: list[tuple[str, Direction]] = field(default_factory=list)
    """Endpoints on both sides isolated before and no longer after, per direction."""
    exposure: list[Exposure] = field(default_factory=list)
    guardrails: list[GuardrailChange] = field(default_factory=list)
    """Cluster-wide policies added, removed or changed (whatever their effect on the pairs)."""

    @property
    def total(self) -> int:
        return self.added + self.removed + self.changed


def _isolation(rows: ConnectionRows, result: Connectivity) -> tuple[NDArray[np.bool_], ...]:
    """Per endpoint of `rows`: isolated for ingress, for egress (all its pods), is a range.

    A pod is isolated in a direction when a NetworkPolicy selects it there, or when the
    cluster-wide tiers leave some of its traffic in that direction not allowed (a guardrail
    decides its traffic: an Admin Deny, a Baseline Deny where no NetworkPolicy selects it).
    """
    n = len(result.classes)
    guarded_in, guarded_out = result.guarded()
    ingress = np.array(
        [*(np.array(result.isolated_ingress, dtype=bool) | guarded_in)]
        + [False] * len(result.outside),
        dtype=bool,
    )
    egress = np.array(
        [*(np.array(result.isolated_egress, dtype=bool) | guarded_out)]
        + [False] * len(result.outside),
        dtype=bool,
    )
    size = len(rows.names)
    iso_in = np.zeros(size, dtype=bool)
    iso_out = np.zeros(size, dtype=bool)
    is_range = np.zeros(size, dtype=bool)
    for e in range(size):
        cols = rows.columns_of(e)
        is_range[e] = bool(cols[0] >= n)
        iso_in[e] = bool(ingress[cols].all())
        iso_out[e] = bool(egress[cols].all())
    return iso_in, iso_out, is_range


class ConnectivityDiff:
    """The changed pairs between two analysed inputs, one row per source endpoint, in (src,
    dst) name order, made while they are read.

    `names` are the endpoints of either side; `port_sets[i]` is the ConnectionSet of port-set
    id i, shared by both sides (id `NOTHING` is the empty set; ids are handed out as rows are
    made). `removes_ports` becomes true as soon as a row read loses a previously allowed port.
    """

    def __init__(self, old: Connectivity, new: Connectivity, *, workloads: bool = False) -> None:
        if [r.ranges for r in old.outside] != [r.ranges for r in new.outside]:
            raise ValueError("both sides must be computed with the same outside ranges")
        self.old, self.new = old, new
        self.old_rows = ConnectionRows(old, workloads=workloads)
        self.new_rows = ConnectionRows(new, workloads=workloads)
        self.names: list[str] = sorted(set(self.old_rows.names) | set(self.new_rows.names))
        index = {name: i for i, name in enumerate(self.names)}
        self._old_index = np.array([index[x] for x in self.old_rows.names], dtype=np.int64)
        self._new_index = np.array([index[x] for x in self.new_rows.names], dtype=np.int64)
        self.port_sets: list[ConnectionSet] = [ConnectionSet.none()]
        self._ids: dict[ConnectionSet, int] = {ConnectionSet.none(): NOTHING}
        self._loses: dict[tuple[int, int], bool] = {}
        self.removes_ports = False
        self._removals_known = False  # after a full pass (summary): no need to look again
        self.guardrails: list[GuardrailChange] = guardrail_changes(
            (cp.policy for cp in old.evaluator.tiers.all),
            (cp.policy for cp in new.evaluator.tiers.all),
        )
        """The cluster-wide policies added, removed or changed."""

    # ------------------------------------------------------------------ ids and port sets

    def _common_id(self, conns: ConnectionSet) -> int:
        found = self._ids.get(conns)
        if found is None:
            found = self._ids[conns] = len(self.port_sets)
            self.port_sets.append(conns)
        return found

    def _side(self, rows: ConnectionRows, to_union: Index) -> Iterator[tuple[int, Index, Index]]:
        """A side's rows in union indices, with its port-set ids turned into common ids."""
        common = np.zeros(0, dtype=np.int64)
        for src, dsts, ids in rows:
            if len(common) < len(rows.port_sets):
                more = [self._common_id(c) for c in rows.port_sets[len(common) :]]
                common = np.concatenate([common, np.array(more, dtype=np.int64)])
            yield int(to_union[src]), to_union[dsts], common[ids]

    def loses(self, before: Index, after: Index) -> NDArray[np.bool_]:
        """Per pair: does `after` miss a port that `before` allows?"""
        out = np.zeros(len(before), dtype=bool)
        if not len(before):
            return out
        codes = before * len(self.port_sets) + after
        uniq, inverse = np.unique(codes, return_inverse=True)
        hit = np.zeros(len(uniq), dtype=bool)
        for k, code in enumerate(uniq.tolist()):
            b, a = divmod(code, len(self.port_sets))
            found = self._loses.get((b, a))
            if found is None:
                found = self._loses[b, a] = not self.port_sets[b].is_subset(self.port_sets[a])
            hit[k] = found
        out[:] = hit[inverse.ravel()]
        return out

    # ------------------------------------------------------------------ rows

    def __iter__(self) -> Iterator[DiffRow]:
        old = self._side(self.old_rows, self._old_index)
        new = self._side(self.new_rows, self._new_index)
        a, b = next(old, None), next(new, None)
        empty = np.zeros(0, dtype=np.int64)
        while a is not None or b is not None:
            if b is None or (a is not None and a[0] < b[0]):
                assert a is not None
                src, before, after = a[0], (a[1], a[2]), (empty, empty)
                a = next(old, None)
            elif a is None or b[0] < a[0]:
                src, before, after = b[0], (empty, empty), (b[1], b[2])
                b = next(new, None)
            else:
                src, before, after = a[0], (a[1], a[2]), (b[1], b[2])
                a, b = next(old, None), next(new, None)
            row = self._compare(src, before, after)
            if row is not None:
                yield row

    def _compare(
        self, src: int, before: tuple[Index, Index], after: tuple[Index, Index]
    ) -> DiffRow | None:
        dsts = np.union1d(before[0], after[0])
        was = np.full(len(dsts), NOTHING, dtype=np.int64)
        was[np.searchsorted(dsts, before[0])] = before[1]
        now = np.full(len(dsts), NOTHING, dtype=np.int64)
        now[np.searchsorted(dsts, after[0])] = after[1]
        keep = was != now
        if not keep.any():
            return None
        dsts, was, now = dsts[keep], was[keep], now[keep]
        if not self.removes_ports and not self._removals_known:
            had = was != NOTHING
            self.removes_ports = bool(had.any() and self.loses(was[had], now[had]).any())
        return src, dsts, was, now

    def changes(self) -> Iterator[Change]:
        """The rows as Change values (for small answers and tests)."""
        for src, dsts, was, now in self:
            name = self.names[src]
            for d, b, a in zip(dsts.tolist(), was.tolist(), now.tolist(), strict=True):
                yield Change(
                    name, self.names[d], change_kind(b, a), self.port_sets[b], self.port_sets[a]
                )

    # ------------------------------------------------------------------ summary

    def _lost(self, peer: int, before: int, after: int) -> LostConnection:
        return LostConnection(self.names[peer], self.port_sets[before], self.port_sets[after])

    def summary(self) -> DiffSummary:
        """One pass over the rows: counts, newly isolated endpoints and what they lose, new
        exposure. Memory follows the endpoints, not the changes."""
        size = len(self.names)
        present_old = np.zeros(size, dtype=bool)
        present_old[self._old_index] = True
        present_new = np.zeros(size, dtype=bool)
        present_new[self._new_index] = True
        both = present_old & present_new
        iso = {}
        is_range = np.zeros(size, dtype=bool)
        for side, rows, result, to_union in (
            ("old", self.old_rows, self.old, self._old_index),
            ("new", self.new_rows, self.new, self._new_index),
        ):
            iso_in, iso_out, ranges = _isolation(rows, result)
            for direction, values in (("ingress", iso_in), ("egress", iso_out)):
                full = np.zeros(size, dtype=bool)
                full[to_union] = values
                iso[side, direction] = full
            is_range[to_union] |= ranges
        becomes = {d: both & ~iso["old", d] & iso["new", d] for d in ("ingress", "egress")}
        losing = {d: np.zeros(size, dtype=np.int64) for d in ("ingress", "egress")}
        cut = {d: np.zeros(size, dtype=np.int64) for d in ("ingress", "egress")}
        gains_pods = np.zeros(size, dtype=np.int64)
        gains_outside = np.zeros(size, dtype=np.int64)
        examples: dict[tuple[int, str, bool], list[LostConnection]] = {}
        out = DiffSummary(guardrails=list(self.guardrails))
        for src, dsts, was, now in self:
            added = was == NOTHING
            removed = now == NOTHING
            out.added += int(added.sum())
            out.removed += int(removed.sum())
            out.changed += int(len(dsts) - added.sum() - removed.sum())
            lose = self.loses(was, now)
            gain = self.loses(now, was)
            out.losing += int(lose.sum())
            losing["egress"][src] += int(lose.sum())
            cut["egress"][src] += int(removed.sum())
            np.add.at(losing["ingress"], dsts[lose], 1)
            np.add.at(cut["ingress"], dsts[removed], 1)
            np.add.at(gains_outside if is_range[src] else gains_pods, dsts[gain], 1)
            # a few lost connections of each newly isolated endpoint, as examples (pods and
            # workloads kept apart from outside ranges, which are shown only when no pod is)
            if becomes["egress"][src] and lose.any():
                for peer_is_range in (False, True):
                    pick = np.flatnonzero(lose & (is_range[dsts] == peer_is_range))[:EXAMPLES]
                    kept = examples.setdefault((src, "egress", peer_is_range), [])
                    for i in pick.tolist():
                        if len(kept) < EXAMPLES:
                            kept.append(self._lost(int(dsts[i]), int(was[i]), int(now[i])))
            hit = lose & becomes["ingress"][dsts]
            for i in np.flatnonzero(hit).tolist():
                kept = examples.setdefault((int(dsts[i]), "ingress", bool(is_range[src])), [])
                if len(kept) < EXAMPLES:
                    kept.append(self._lost(src, int(was[i]), int(now[i])))
        directions: tuple[Direction, ...] = ("ingress", "egress")
        for direction in directions:
            for e in np.flatnonzero(becomes[direction]).tolist():
                out.isolated.append(
                    Isolation(
                        self.names[e],
                        direction,
                        int(losing[direction][e]),
                        int(cut[direction][e]),
                        tuple(
                            [
                                *examples.get((e, direction, False), ()),
                                *examples.get((e, direction, True), ()),
                            ][:EXAMPLES]
                        ),
                    )
                )
            opened = both & iso["old", direction] & ~iso["new", direction]
            out.opened += [(self.names[e], direction) for e in np.flatnonzero(opened).tolist()]
        # exposure is about who may reach a pod or workload, not about outside ranges
        exposed = np.flatnonzero(((gains_pods > 0) | (gains_outside > 0)) & ~is_range)
        order = sorted(
            exposed.tolist(),
            key=lambda e: (-(gains_pods[e] + gains_outside[e]), self.names[e]),
        )
        out.exposure = [
            Exposure(self.names[e], int(gains_pods[e]), int(gains_outside[e])) for e in order
        ]
        self.removes_ports = out.losing > 0
        self._removals_known = True
        return out


def _common_cuts(sides: list[tuple[Cluster, Evaluator]]) -> list[IntervalSet]:
    """The address sets both sides cut their outside ranges by: every ipBlock and guardrail
    `networks` entry of either, and IPv6 space when either side's pods use it (so both sides
    list the same ranges)."""
    cuts: dict[IntervalSet, None] = {}
    for cluster, evaluator in sides:
        for block in [*ip_block_sets(evaluator.policies), *tier_network_sets(evaluator.tiers)]:
            cuts.setdefault(block, None)
        if any(p.ip is not None and ":" in p.ip for p in cluster.pods):
            cuts.setdefault(IPV6, None)
    return list(cuts)


def connectivity_diff(
    old: Cluster,
    new: Cluster,
    *,
    workloads: bool = False,
    host_network: HostNetworkMode = "node",
) -> ConnectivityDiff:
    """The changed pairs from `old` to `new`, named as connlist names them."""
    old_eval = Evaluator(old, host_network)
    new_eval = Evaluator(new, host_network)
    cuts = _common_cuts([(old, old_eval), (new, new_eval)])
    before = compute_connectivity(old, old_eval, host_network=host_network, outside_cuts=cuts)
    after = compute_connectivity(new, new_eval, host_network=host_network, outside_cuts=cuts)
    return ConnectivityDiff(before, after, workloads=workloads)


__all__ = [
    "NOTHING",
    "Change",
    "ConnectivityDiff",
    "DiffSummary",
    "Exposure",
    "GuardrailChange",
    "Isolation",
    "LostConnection",
    "change_kind",
    "connectivity_diff",
    "guardrail_changes",
]
