"""The grouped view: connections between groups of endpoints that the policies treat alike.

A dense cluster lists millions of connections that say the same thing over and over: the
replicas of a tier, the workloads of a team that no policy tells apart. Here endpoints
(pods or workloads, and outside ranges) are grouped when every one of them may open the
same things towards every endpoint, and be reached the same way from every endpoint. A
connection between two groups then stands for every pair of their members (an endpoint's
traffic to itself left out, as the full list leaves it out), with the same ports for each
pair: expanding the grouped list gives exactly the full one.

How: endpoints made of the same classes of the engine are alike by construction (one
*signature*); signatures are then merged where their rows and columns over signatures are
equal. Rows are told apart by a 128-bit BLAKE2 digest of (destinations, port-set ids),
columns by two independent 64-bit sums of salted hashes of their entries (the engine's
signatures are named the same way): two different ones collide with probability 2**-128.

Each group is described by its namespaces and a label selector that picks exactly its
members among the pods of those namespaces, found greedily (matchLabels shared by every
member, then In / NotIn / DoesNotExist requirements that rule the other pods out) and
checked with the semantics layer's selector matching. A group no single selector can
describe is split by namespace, then by label set; a group whose pods share their labels
with pods outside it (workloads told apart only by name) keeps `selector: None`.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from netpolicy.analysis.arrays import run_starts
from netpolicy.analysis.connectivity import Connectivity
from netpolicy.analysis.connlist import ConnectionRows, endpoint_columns, pod_name
from netpolicy.analysis.owners import owner_name
from netpolicy.analysis.salts import salts
from netpolicy.model import Diagnostic, Labels, LabelSelector, Requirement
from netpolicy.semantics import ConnectionSet
from netpolicy.semantics.selectors import selector_matches


@dataclass(frozen=True, slots=True)
class Group:
    """Endpoints that every policy of the input treats alike."""

    id: int
    namespaces: tuple[str, ...]
    """The namespaces of its pods (none for outside ranges)."""
    selector: LabelSelector | None
    """Picks exactly its members' pods among the pods of `namespaces`; None for outside
    ranges, and for pods that share their labels with pods of other groups."""
    members: tuple[str, ...]
    """Endpoint names, as `connlist` writes them."""
    pods: int


GroupRow = tuple[int, NDArray[np.int64], NDArray[np.int64]]
"""A source group's index, its destination groups' indices (ascending) and port-set ids."""


@dataclass(slots=True)
class GroupedConnections:
    """The groups, and their connections made row by row while they are read."""

    groups: list[Group]
    _rows: ConnectionRows
    _representative: list[int]
    _group_of: NDArray[np.int64]
    workloads: bool
    warnings: list[Diagnostic] = field(default_factory=list)

    def __iter__(self) -> Iterator[GroupRow]:
        for g, group in enumerate(self.groups):
            dsts, ids = self._rows.row(self._representative[g])
            if not len(dsts):
                continue
            targets = self._group_of[dsts]
            order = np.argsort(targets, kind="stable")
            targets, ids = targets[order], ids[order]
            first = run_starts(targets)
            targets, ids = targets[first], ids[first]
            if len(group.members) == 1:  # a lone endpoint's traffic to itself is not listed
                keep = targets != g
                targets, ids = targets[keep], ids[keep]
            if len(targets):
                yield g, targets, ids

    @property
    def port_sets(self) -> list[ConnectionSet]:
        """The ConnectionSet of each port-set id (ids are handed out as rows are made)."""
        return self._rows.port_sets

    def connection_count(self) -> int:
        """How many connections of the full list the grouped ones stand for."""
        return self.overview(0).pairs

    def overview(self, limit: int) -> GroupedOverview:
        """One pass over the grouped connections: how many pairs they stand for, how many
        are precise (not every port) and open, and the `limit` precise ones that stand for
        the most pairs (ties: in list order)."""
        sizes = np.array([len(g.members) for g in self.groups], dtype=np.int64)
        every: list[bool] = []  # per port-set id: every port of every protocol
        top: list[tuple[int, int, int, int]] = []  # (pairs, -src, -dst, id): a min-heap
        pairs_total = precise = wide = 0
        open_sources: set[int] = set()
        for src, dsts, ids in self:
            while len(every) < len(self.port_sets):
                every.append(self.port_sets[len(every)].is_all())
            pairs = sizes[src] * sizes[dsts]
            pairs[dsts == src] -= sizes[src]
            pairs_total += int(pairs.sum())
            is_all = np.array(every, dtype=bool)[ids]
            if is_all.any():
                wide += int(is_all.sum())
                open_sources.add(src)
            exact = np.flatnonzero(~is_all)
            precise += len(exact)
            if limit and len(exact):
                best = exact[np.argsort(-pairs[exact], kind="stable")[:limit]]
                for k in best.tolist():
                    entry = (int(pairs[k]), -src, -int(dsts[k]), int(ids[k]))
                    if len(top) < limit:
                        heapq.heappush(top, entry)
                    elif entry > top[0]:
                        heapq.heapreplace(top, entry)
        shown = [
            (-s, -d, self.port_sets[i])
            for _, s, d, i in sorted(top, key=lambda t: (-t[0], -t[1], -t[2]))
        ]
        return GroupedOverview(pairs_total, precise, wide, len(open_sources), shown)


@dataclass(frozen=True, slots=True)
class GroupedOverview:
    """What `analyze` shows of the grouped view."""

    pairs: int
    """Connections of the full list the grouped ones stand for."""
    precise: int
    """Grouped connections that allow some ports, not all."""
    open: int
    """Grouped connections that allow every port."""
    open_sources: int
    """Groups with such a connection."""
    top: list[tuple[int, int, ConnectionSet]]
    """(source group index, destination group index, ports): the precise connections that
    stand for the most pairs."""


def grouped_connections(
    result: Connectivity, *, workloads: bool, split: Collection[str] = ()
) -> GroupedConnections:
    """The grouped view of `result`, endpoints named as `connlist` names them (`workloads`,
    owners in `split` listed pod by pod)."""
    columns = endpoint_columns(result, workloads, split)
    # endpoints made of the same columns: one signature
    columns_of: dict[str, list[int]] = {}
    for col, names in enumerate(columns):
        for name in names:
            columns_of.setdefault(name, []).append(col)
    signature_of: dict[tuple[int, ...], int] = {}
    members: list[list[str]] = []
    for name in sorted(columns_of):
        key = tuple(columns_of[name])
        sig = signature_of.get(key)
        if sig is None:
            sig = signature_of[key] = len(members)
            members.append([])
        members[sig].append(name)
    width = len(str(len(members)))
    labels = [f"{sig:0{width}d}" for sig in range(len(members))]
    sig_columns: list[list[str]] = [[] for _ in columns]
    for key, sig in signature_of.items():
        for col in key:
            sig_columns[col].append(labels[sig])
    rows = ConnectionRows(result, columns=sig_columns, self_pairs=True)
    merged = _merge(rows, len(members))
    endpoint_pods = _endpoint_pods(result, workloads, split)
    namespace_labels = _namespace_labels(result)
    groups: list[Described] = []
    for sigs in merged:
        groups += _described(sigs, members, endpoint_pods, namespace_labels)
    groups.sort(key=lambda g: (not g[2], g[2], members[g[0][0]][0]))
    group_of = np.empty(len(members), dtype=np.int64)
    made: list[Group] = []
    for g, (sigs, selector, namespaces) in enumerate(groups):
        group_of[sigs] = g
        endpoints = tuple(sorted(name for s in sigs for name in members[s]))
        pods = sum(len(endpoint_pods.get(name, ())) for name in endpoints)
        made.append(Group(g + 1, namespaces, selector, endpoints, pods))
    return GroupedConnections(
        made,
        rows,
        [sigs[0] for sigs, _, _ in groups],
        group_of,
        workloads,
    )


_MIX = np.array([0xBF58476D1CE4E5B9, 0x94D049BB133111EB], dtype=np.uint64)


def _merge(rows: ConnectionRows, count: int) -> list[list[int]]:
    """Signatures with equal rows and equal columns, as lists (ascending)."""
    lanes = salts(20261203, (2, count))
    digests: list[bytes] = [b""] * count
    columns = np.zeros((2, count), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for src, dsts, ids in rows:
            digests[src] = hashlib.blake2b(dsts.tobytes() + ids.tobytes(), digest_size=16).digest()
            for lane in range(2):
                h = ids.astype(np.uint64) + lanes[lane, src]
                h *= _MIX[lane]
                h ^= h >> np.uint64(31)
                h *= _MIX[1 - lane]
                columns[lane, dsts] += h
    found: dict[tuple[bytes, int, int], list[int]] = {}
    for sig in range(count):
        key = (digests[sig], int(columns[0, sig]), int(columns[1, sig]))
        found.setdefault(key, []).append(sig)
    return list(found.values())


def _endpoint_pods(
    result: Connectivity, workloads: bool, split: Collection[str]
) -> dict[str, list[tuple[str, Labels]]]:
    """Each pod endpoint's pods as (namespace, labels)."""
    found: dict[str, list[tuple[str, Labels]]] = {}
    for cls in result.classes:
        for pod in cls.pods:
            name = pod_name(pod, workloads and owner_name(pod) not in split)
            found.setdefault(name, []).append((pod.namespace, pod.labels))
    return found


def _namespace_labels(result: Connectivity) -> dict[str, Counter[Labels]]:
    """How many pods of each namespace have each label set."""
    found: dict[str, Counter[Labels]] = {}
    for cls in result.classes:
        for pod in cls.pods:
            found.setdefault(pod.namespace, Counter())[pod.labels] += 1
    return found


Described = tuple[list[int], LabelSelector | None, tuple[str, ...]]


def _described(
    sigs: list[int],
    members: list[list[str]],
    endpoint_pods: dict[str, list[tuple[str, Labels]]],
    namespace_labels: dict[str, Counter[Labels]],
) -> list[Described]:
    """The group of `sigs` with its namespaces and selector, or its parts where no single
    selector describes it (split by namespace, then by label set)."""
    pods = {s: [p for name in members[s] for p in endpoint_pods.get(name, ())] for s in sigs}
    if not any(pods.values()):
        return [(sigs, None, ())]  # outside ranges
    namespaces = tuple(sorted({ns for s in sigs for ns, _ in pods[s]}))
    mine = {labels for s in sigs for _, labels in pods[s]}
    selector = _selector(mine, _outside_group(sigs, pods, namespaces, namespace_labels))
    if selector is not None or len(sigs) == 1:
        return [(sigs, selector, namespaces)]
    if len(namespaces) > 1:
        by_ns: dict[tuple[str, ...], list[int]] = {}
        for s in sigs:
            by_ns.setdefault(tuple(sorted({ns for ns, _ in pods[s]})), []).append(s)
        if len(by_ns) > 1:
            parts = []
            for part in by_ns.values():
                parts += _described(part, members, endpoint_pods, namespace_labels)
            return parts
    by_labels: dict[frozenset[Labels], list[int]] = {}
    for s in sigs:
        by_labels.setdefault(frozenset(labels for _, labels in pods[s]), []).append(s)
    if len(by_labels) > 1:
        parts = []
        for part in by_labels.values():
            parts += _described(part, members, endpoint_pods, namespace_labels)
        return parts
    return [(sigs, None, namespaces)]


def _outside_group(
    sigs: list[int],
    pods: dict[int, list[tuple[str, Labels]]],
    namespaces: tuple[str, ...],
    namespace_labels: dict[str, Counter[Labels]],
) -> set[Labels]:
    """The label sets of the pods of `namespaces` that are not in the group."""
    inside: dict[str, Counter[Labels]] = {}
    for s in sigs:
        for ns, labels in pods[s]:
            inside.setdefault(ns, Counter())[labels] += 1
    outside: set[Labels] = set()
    for ns in namespaces:
        mine = inside.get(ns, Counter())
        for labels, count in namespace_labels[ns].items():
            if count > mine[labels]:
                outside.add(labels)
    return outside


def _selector(mine: set[Labels], theirs: set[Labels]) -> LabelSelector | None:
    """A selector every label set of `mine` matches and none of `theirs` does, or None."""
    if mine & theirs:
        return None
    dicts = [dict(m) for m in mine]
    common = set.intersection(*(set(m) for m in mine))
    values: dict[str, set[str]] = {}
    for d in dicts:
        for k, v in d.items():
            values.setdefault(k, set()).add(v)
    everyone = {k for k in values if all(k in d for d in dicts)}
    remaining = [dict(x) for x in theirs if common <= set(x)]
    chosen: dict[tuple[str, str], set[str]] = {}
    while remaining:
        counts: Counter[tuple[str, str, str]] = Counter()
        for x in remaining:
            options = _options(x, values, everyone)
            if not options:
                return None
            counts.update(options)
        best = min(counts, key=lambda o: (-counts[o], o))
        operator, key, value = best
        chosen.setdefault((operator, key), set()).add(value)
        remaining = [x for x in remaining if best not in _options(x, values, everyone)]
    requirements = []
    for (operator, key), vals in sorted(chosen.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if operator == "In":
            requirements.append(Requirement(key, "In", tuple(sorted(values[key]))))
        elif operator == "NotIn":
            requirements.append(Requirement(key, "NotIn", tuple(sorted(vals))))
        else:
            requirements.append(Requirement(key, "DoesNotExist"))
    others = [dict(x) for x in theirs]

    def exact(selector: LabelSelector) -> bool:
        return all(selector_matches(selector, d) for d in dicts) and not any(
            selector_matches(selector, x) for x in others
        )

    shared = sorted(common)
    if not exact(LabelSelector(tuple(shared), tuple(requirements))):
        return None
    for label in list(shared):  # the shortest description: drop labels nothing needs
        fewer = [x for x in shared if x != label]
        if exact(LabelSelector(tuple(fewer), tuple(requirements))):
            shared = fewer
    return LabelSelector(tuple(shared), tuple(requirements))


def _options(
    x: dict[str, str], values: dict[str, set[str]], everyone: set[str]
) -> set[tuple[str, str, str]]:
    """The requirements that every member meets and `x` does not."""
    found: set[tuple[str, str, str]] = set()
    for key in everyone:
        if x.get(key) not in values[key]:
            found.add(("In", key, ""))
    for key, value in x.items():
        if key not in values:
            found.add(("DoesNotExist", key, ""))
        elif key not in everyone and value not in values[key]:
            found.add(("NotIn", key, value))
    return found
