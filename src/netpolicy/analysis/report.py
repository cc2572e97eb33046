"""The data of the HTML report (`netpolicy report`): one engine run, seen from every side.

Everything is read from one `Connectivity` of the engine: the grouped view (endpoints that
the policies treat alike, and the connections between those groups, which expand to exactly
the connection list), exposure, lint and coverage. Nothing here decides a verdict again.

The size stays bounded on dense clusters: endpoints are workloads (pods only where an
owner's pods are treated differently), connections are kept between groups, as one set of
destination groups per (source group, port set), and namespaces get per-pair aggregates.
Explanations are not stored per pair: the engine's compiled rule table (which classes each
rule selects, which its peers match, which ports it opens) is kept once, deduplicated, and
the page lists the rules of a pair from it, the verdict and ports coming from the groups.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from netpolicy.analysis.arrays import ragged_ranges
from netpolicy.analysis.connectivity import Connectivity, RuleTable
from netpolicy.analysis.connlist import endpoint_columns, pod_name
from netpolicy.analysis.coverage import Coverage
from netpolicy.analysis.coverage import coverage as compute_coverage
from netpolicy.analysis.exposure import Exposure, compute_exposure
from netpolicy.analysis.grouped import grouped_connections
from netpolicy.analysis.lint import LintReport
from netpolicy.analysis.lint import lint as run_lint
from netpolicy.analysis.owners import owner_name, split_owners
from netpolicy.model import Cluster, Diagnostic
from netpolicy.semantics import ConnectionSet, Direction

OUTSIDE = "(outside)"
"""The pseudo-namespace of outside address ranges in the matrix and the graph."""

DIRECTIONS: tuple[Direction, ...] = ("ingress", "egress")


class PortSets:
    """ConnectionSets numbered once: the report refers to ports by these ids."""

    def __init__(self) -> None:
        self.sets: list[ConnectionSet] = []
        self._ids: dict[ConnectionSet, int] = {}

    def id(self, conns: ConnectionSet) -> int:
        found = self._ids.get(conns)
        if found is None:
            found = self._ids[conns] = len(self.sets)
            self.sets.append(conns)
        return found


@dataclass(frozen=True, slots=True)
class ReportEndpoint:
    """A node of the graph: a workload (or pod) or an outside range, named as connlist does."""

    name: str
    namespace: str
    """`OUTSIDE` for an outside range."""
    kind: str
    """The controller kind, `Pod` for a bare pod, `range` for an outside range."""
    pods: int
    group: int
    """Index into `ReportData.groups`."""
    columns: tuple[int, ...]
    """The engine's classes of its pods; an outside range is column `classes + range`."""
    isolated_ingress: bool
    isolated_egress: bool
    host_network: bool
    entire_cluster: tuple[Direction, ...]
    """The directions in which it is exposed to the entire cluster (`api.exposure`)."""


@dataclass(frozen=True, slots=True)
class ReportGroup:
    """Endpoints that every policy treats alike (`api.grouped`)."""

    id: int
    namespaces: tuple[str, ...]
    selector: str | None
    members: tuple[int, ...]
    """Endpoint indices."""


@dataclass(frozen=True, slots=True)
class GroupRow:
    """What one source group may open: per port set, the destination groups (ascending).

    Every member of the source may open exactly these ports to every member of each
    destination group (an endpoint's traffic to itself left out)."""

    src: int
    parts: tuple[tuple[int, NDArray[np.int64]], ...]


@dataclass(frozen=True, slots=True)
class NamespacePair:
    """Connections from the endpoints of `src` to those of `dst`, aggregated."""

    src: str
    dst: str
    connected: int
    """Endpoint pairs (self pairs left out) with at least one allowed port."""
    everything: int
    """Endpoint pairs allowing every port of every protocol."""
    ports: int
    """Port-set id: the union over the pairs."""


@dataclass(frozen=True, slots=True)
class RuleEntry:
    """One compiled rule of the engine's rule table."""

    id: str
    policy: str
    source: str
    selects: int
    """Set id: the classes its policy selects."""
    peers: int
    """Set id: the classes (and outside columns) some peer of the rule matches."""
    ports: int
    """Port-set id of the ports opened regardless of the destination."""
    named: int
    """-1, or the index into `ExplainTable.named` of the ports per destination class."""


@dataclass(slots=True)
class ExplainTable:
    """The engine's rule table, deduplicated: enough to list, for any pair of columns, the
    policies isolating each side and the rules that allow or miss the pair."""

    columns: int
    """Classes, then outside ranges."""
    classes: int
    sets: list[list[int]] = field(default_factory=list)
    named: list[list[int]] = field(default_factory=list)
    """Per named-port table, the port-set id towards each class."""
    policy_lists: list[tuple[str, ...]] = field(default_factory=list)
    isolating: dict[Direction, list[int]] = field(default_factory=dict)
    """Per direction, per class: the policy list (index) isolating it ([] = not isolated)."""
    rules: dict[Direction, list[RuleEntry]] = field(default_factory=dict)


@dataclass(slots=True)
class ReportData:
    """Everything the HTML report shows."""

    description: str
    counts: dict[str, int]
    namespaces: list[str]
    """Sorted; `OUTSIDE` last when there are outside ranges."""
    endpoints: list[ReportEndpoint]
    groups: list[ReportGroup]
    rows: list[GroupRow]
    namespace_pairs: list[NamespacePair]
    port_sets: PortSets
    explain: ExplainTable
    exposure: Exposure
    lint: LintReport
    coverage: Coverage
    warnings: list[Diagnostic] = field(default_factory=list)

    def connection_count(self) -> int:
        """Endpoint pairs with an allowed port (as many as the connection list has lines)."""
        return sum(p.connected for p in self.namespace_pairs)


def _kind(name: str, outside: bool) -> str:
    if outside:
        return "range"
    if name.endswith("]") and "[" in name:
        return name[name.rindex("[") + 1 : -1]
    return "Pod"


def build_report(cluster: Cluster, result: Connectivity, description: str = "") -> ReportData:
    """The report of `cluster`, from the engine's `result` for it."""
    split, warnings = split_owners(result)
    view = grouped_connections(result, workloads=True, split=split)
    n = len(result.classes)
    ports = PortSets()

    # endpoints, in group order
    columns = endpoint_columns(result, True, split)
    columns_of: dict[str, list[int]] = {}
    for col, names in enumerate(columns):
        for name in names:
            columns_of.setdefault(name, []).append(col)
    pods: Counter[str] = Counter()
    host: set[str] = set()
    workload_of: dict[str, str] = {}  # exposure names pods by their owner, split or not
    for cls in result.classes:
        for pod in cls.pods:
            name = pod_name(pod, owner_name(pod) not in split)
            pods[name] += 1
            workload_of[name] = pod_name(pod, True)
            if pod.host_network:
                host.add(name)
    exposure = compute_exposure(result)
    entire = exposure.exposed_to(["entireCluster"])
    endpoints: list[ReportEndpoint] = []
    groups: list[ReportGroup] = []
    for g, group in enumerate(view.groups):
        members = []
        for name in group.members:
            cols = tuple(columns_of[name])
            outside = cols[0] >= n
            namespace = OUTSIDE if outside else name.split("/", 1)[0]
            members.append(len(endpoints))
            exposed = entire.get(workload_of.get(name, name), set())
            endpoints.append(
                ReportEndpoint(
                    name,
                    namespace,
                    _kind(name, outside),
                    pods[name],
                    g,
                    cols,
                    not outside and all(result.isolated_ingress[c] for c in cols),
                    not outside and all(result.isolated_egress[c] for c in cols),
                    name in host,
                    tuple(d for d in DIRECTIONS if d in exposed),
                )
            )
        selector = None if group.selector is None else str(group.selector)
        groups.append(ReportGroup(group.id, group.namespaces, selector, tuple(members)))

    # group rows, one destination set per port set
    rows: list[GroupRow] = []
    remap: list[int] = []  # the view's port-set ids -> ours (the view hands out ids as it goes)
    for src, dsts, ids in view:
        remap += [ports.id(view.port_sets[i]) for i in range(len(remap), len(view.port_sets))]
        pids = np.asarray(remap, dtype=np.int64)[ids]
        parts = tuple((int(p), dsts[pids == p]) for p in np.unique(pids))
        rows.append(GroupRow(src, parts))

    namespaces = sorted({e.namespace for e in endpoints} - {OUTSIDE} | _declared(cluster))
    if any(e.namespace == OUTSIDE for e in endpoints):
        namespaces.append(OUTSIDE)
    pairs = _namespace_pairs(endpoints, groups, rows, namespaces, ports)
    return ReportData(
        description=description,
        counts={
            "namespaces": len([ns for ns in namespaces if ns != OUTSIDE]),
            "pods": len(cluster.pods),
            "workloads": sum(1 for e in endpoints if e.namespace != OUTSIDE),
            "ranges": sum(1 for e in endpoints if e.namespace == OUTSIDE),
            "policies": len(cluster.policies),
            "classes": n,
            "groups": len(groups),
        },
        namespaces=namespaces,
        endpoints=endpoints,
        groups=groups,
        rows=rows,
        namespace_pairs=pairs,
        port_sets=ports,
        explain=_explain_table(result, ports),
        exposure=exposure,
        lint=run_lint(cluster, host_network=result.evaluator.host_network, connectivity=result),
        coverage=compute_coverage(result),
        warnings=warnings,
    )


def _declared(cluster: Cluster) -> set[str]:
    return {ns.name for ns in cluster.namespaces}


def _namespace_pairs(
    endpoints: list[ReportEndpoint],
    groups: list[ReportGroup],
    rows: list[GroupRow],
    namespaces: list[str],
    ports: PortSets,
) -> list[NamespacePair]:
    """Per (source namespace, destination namespace): the endpoint pairs connected, those
    allowing everything, and the union of their ports; made from the group rows (a group's
    members may lie in several namespaces)."""
    ns_index = {ns: i for i, ns in enumerate(namespaces)}
    k = len(namespaces)
    # each group as (namespace, members there) pieces, in one flat table
    starts = [0]
    piece_ns: list[int] = []
    piece_count: list[int] = []
    for group in groups:
        counted = Counter(endpoints[m].namespace for m in group.members)
        for ns, count in sorted(counted.items()):
            piece_ns.append(ns_index[ns])
            piece_count.append(count)
        starts.append(len(piece_ns))
    start = np.array(starts, dtype=np.int64)
    p_ns = np.array(piece_ns, dtype=np.int64)
    p_count = np.array(piece_count, dtype=np.int64)
    connected = np.zeros(k * k, dtype=np.int64)
    everything = np.zeros(k * k, dtype=np.int64)
    port_keys: list[NDArray[np.int64]] = []
    everything_id = ports.id(ConnectionSet.all())
    for row in rows:
        for s in range(start[row.src], start[row.src + 1]):
            for pid, dsts in row.parts:
                lo, hi = start[dsts], start[dsts + 1]
                lengths = hi - lo
                at = ragged_ranges(lo, lengths)
                cells = p_ns[s] * k + p_ns[at]
                count = p_count[s] * p_count[at]
                # an endpoint's traffic to itself is not a pair
                own = (np.repeat(dsts, lengths) == row.src) & (p_ns[at] == p_ns[s])
                count = count - np.where(own, p_count[s], 0)
                np.add.at(connected, cells, count)
                if pid == everything_id:
                    np.add.at(everything, cells, count)
                port_keys.append(cells[count > 0] * len(ports.sets) + pid)
    found: dict[int, ConnectionSet] = {}
    if port_keys:
        width = len(ports.sets)
        for key in np.unique(np.concatenate(port_keys)).tolist():
            cell, pid = divmod(key, width)
            found[cell] = found.get(cell, ConnectionSet.none()) | ports.sets[pid]
    return [
        NamespacePair(
            namespaces[cell // k],
            namespaces[cell % k],
            int(connected[cell]),
            int(everything[cell]),
            ports.id(conns),
        )
        for cell, conns in sorted(found.items())
        if connected[cell] > 0
    ]


def _explain_table(result: Connectivity, ports: PortSets) -> ExplainTable:
    n = len(result.classes)
    table = ExplainTable(n + len(result.outside), n)
    set_ids: dict[bytes, int] = {}
    named_ids: dict[int, int] = {}
    list_ids: dict[tuple[str, ...], int] = {(): 0}
    table.policy_lists.append(())

    def set_id(values: NDArray[np.int64]) -> int:
        key = values.tobytes()
        found = set_ids.get(key)
        if found is None:
            found = set_ids[key] = len(table.sets)
            table.sets.append(values.tolist())
        return found

    evaluator = result.evaluator
    for direction in DIRECTIONS:
        per_class: list[int] = []
        for cls in result.classes:
            keys = tuple(
                cp.key for cp in evaluator.policies_selecting(cls.representative, direction)
            )
            per_class.append(list_ids.setdefault(keys, len(list_ids)))
            if per_class[-1] == len(table.policy_lists):
                table.policy_lists.append(keys)
        table.isolating[direction] = per_class
        rules: RuleTable = result.rule_tables[direction]
        entries: list[RuleEntry] = []
        for r, rule in enumerate(rules.compiled):
            peers = np.concatenate([rules.peers[r], rules.peers_outside[r] + n])
            named = -1
            per_dst = rules.by_destination.get(r)
            if per_dst is not None:
                named = named_ids.get(id(per_dst), -1)
                if named < 0:
                    named = named_ids[id(per_dst)] = len(table.named)
                    table.named.append([ports.id(result.atoms.connections(row)) for row in per_dst])
            entries.append(
                RuleEntry(
                    rule.id,
                    rule.policy.key,
                    str(rule.source),
                    set_id(rules.selects[r]),
                    set_id(peers),
                    ports.id(result.atoms.connections(rules.static[r])),
                    named,
                )
            )
        table.rules[direction] = entries
    return table
