"""Blast radius: what a compromised pod or workload reaches, directly and transitively.

An attacker holding a pod may open any connection its policies allow (any port), and then
holds the pod it reached. What it reaches is the transitive closure of "may connect to" over
pods, from the compromised pods, never including them. Pods of one class are treated alike by
every policy (`analysis.classes`), so the closure is computed on the class graph: class `c`
reaches class `d` when `Connectivity.row(c)` allows some port towards `d`. That is exact at
pod level: a pod reaches every pod (but itself) of each class its own class reaches, a
shortest path never passes a class twice, and the only class that may hold both a source pod
and a target is a source class (reached again through a cycle or a self-loop of a class with
other pods). Outside address ranges are reached too, as ends of paths: an address outside the
cluster is not taken over by connecting to it.

`blast_ranking` ranks every workload by how many other workloads can reach it (the exposed
databases) and by how many it can reach, directly and transitively: the closure of the class
graph is computed once on its strongly connected components with bitsets, never pods squared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from netpolicy.analysis.arrays import ragged_ranges
from netpolicy.analysis.connectivity import Connectivity, Mask
from netpolicy.analysis.connlist import endpoint_name, pod_name
from netpolicy.analysis.endpoints import EndpointError, resolve
from netpolicy.model import Cluster, Pod
from netpolicy.semantics import ConnectionSet

Index = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Hop:
    """One step of a path: the endpoint reached and the ports the previous one may open to it."""

    name: str
    connections: ConnectionSet


@dataclass(frozen=True, slots=True)
class Target:
    """An endpoint the source reaches: after `hops` connections, e.g. along `path`."""

    name: str
    namespace: str | None
    """None for an outside address range."""
    hops: int
    path: tuple[Hop, ...]
    """From the first endpoint after the source to this target (len(path) == hops)."""

    @property
    def outside(self) -> bool:
        return self.namespace is None


@dataclass(slots=True)
class BlastRadius:
    """Everything a compromised `source` (the pods `source_pods`) reaches, nearest first."""

    source: str
    source_pods: tuple[str, ...]
    targets: list[Target] = field(default_factory=list)

    @property
    def direct(self) -> int:
        return sum(1 for t in self.targets if t.hops == 1)

    @property
    def max_hops(self) -> int:
        return max((t.hops for t in self.targets), default=0)

    def per_namespace(self) -> dict[str, int]:
        """Targets per namespace (outside ranges left out), most first, then by name."""
        counts: dict[str, int] = {}
        for t in self.targets:
            if t.namespace is not None:
                counts[t.namespace] = counts.get(t.namespace, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    @property
    def outside(self) -> int:
        return sum(1 for t in self.targets if t.outside)


def _workload_of(pod: Pod, namespace: str, name: str, kind: str | None) -> bool:
    """Whether `pod` belongs to the workload `namespace/name[kind]` (a Deployment's pods are
    owned by its ReplicaSet `<name>-<hash>`)."""
    owner = pod.owner
    if owner is None or pod.namespace != namespace:
        return False
    if owner.name == name:
        return kind is None or owner.kind == kind
    return (
        owner.kind == "ReplicaSet"
        and kind in (None, "Deployment")
        and owner.name.rsplit("-", 1)[0] == name
    )


def source_pods(cluster: Cluster, text: str) -> tuple[str, list[Pod]]:
    """The pods a name stands for (`ns/name` pod or workload, `ns/name[Kind]`, a pod IP) and the
    name to show. Raises EndpointError for a name of nothing, or of an outside address."""
    from netpolicy.semantics import Evaluator

    found = resolve(cluster, Evaluator(cluster), text)
    pod = found.pod
    if pod is None:
        raise EndpointError(
            f"{text}: an outside address; blast radius starts from a pod or workload"
        )
    if found.name == pod_name(pod, False) and not pod.from_template:
        return found.name, [pod]
    namespace, rest = found.name.split("/", 1)
    kind = None
    if rest.endswith("]") and "[" in rest:
        rest, kind = rest[:-1].split("[", 1)
    pods = [
        p
        for p in cluster.pods
        if not p.host_network and (p is pod or _workload_of(p, namespace, rest, kind))
    ]
    return found.name, pods


class _Naming:
    """Endpoint names per class (as connlist writes them) and each class's pods by name."""

    def __init__(self, result: Connectivity, workloads: bool) -> None:
        self.workloads = workloads
        self.by_class: list[dict[str, list[Pod]]] = []
        for cls in result.classes:
            names: dict[str, list[Pod]] = {}
            for p in cls.pods:
                names.setdefault(pod_name(p, workloads), []).append(p)
            self.by_class.append(names)
        self.outside = [endpoint_name(r, workloads) for r in result.outside]


def blast_radius(
    result: Connectivity,
    source: str,
    pods: Sequence[Pod],
    *,
    workloads: bool = False,
    max_hops: int | None = None,
) -> BlastRadius:
    """What `pods` (compromised together, shown as `source`) reach, by breadth-first search
    over the class graph; rows are made only for the classes reached."""
    n, e = len(result.classes), len(result.outside)
    naming = _Naming(result, workloads)
    compromised = {id(p) for p in pods}
    class_of: dict[int, int] = {}
    for cls in result.classes:
        for p in cls.pods:
            class_of[id(p)] = cls.index
    starts = sorted({class_of[id(p)] for p in pods if id(p) in class_of})
    dist = np.full(n + e, -1, dtype=np.int64)  # hops to each class, then each outside range
    parent = np.full(n + e, -1, dtype=np.int64)
    edge: Mask = np.zeros((n + e, result.atoms.words), dtype=np.uint64)  # parent -> column
    expanded = np.zeros(n, dtype=bool)
    expanded[starts] = True
    frontier: list[int] = starts
    hops = 0
    while frontier and (max_hops is None or hops < max_hops):
        hops += 1
        found: list[int] = []
        for c in frontier:
            row = result.row(c)
            hit = np.flatnonzero(row.any(axis=1))
            new = hit[dist[hit] < 0]
            if not len(new):
                continue
            dist[new] = hops
            parent[new] = c
            edge[new] = row[new]  # a copy: rows are never kept
            found.extend(int(x) for x in new[new < n] if not expanded[x])
        expanded[found] = True
        frontier = found
    out = BlastRadius(source, tuple(sorted(pod_name(p, False) for p in pods)))
    atoms = result.atoms

    is_start = np.zeros(n, dtype=bool)
    is_start[starts] = True

    def path_to(col: int) -> tuple[Hop, ...]:
        steps: list[Hop] = []
        while True:
            if col >= n:
                name = naming.outside[col - n]
            else:
                # an intermediate class holds no compromised pod (those are expanded first)
                name = next(
                    (
                        nm
                        for nm, ps in sorted(naming.by_class[col].items())
                        if any(id(p) not in compromised for p in ps)
                    ),
                    "",
                )
            steps.append(Hop(name, atoms.connections(edge[col])))
            col = int(parent[col])
            if is_start[col]:
                return tuple(reversed(steps))

    best: dict[str, tuple[int, int, str | None]] = {}  # name -> (hops, class, namespace)
    for c in np.flatnonzero(dist[:n] > 0).tolist():
        for name, ps in naming.by_class[c].items():
            others = [p for p in ps if id(p) not in compromised]
            if not others:
                continue
            held = best.get(name)
            if held is None or dist[c] < held[0]:
                best[name] = (int(dist[c]), c, others[0].namespace)
    targets: list[Target] = []
    for name, (h, c, ns) in best.items():
        steps = path_to(c)
        # the last step names the target itself (its class may also hold other endpoints)
        steps = (*steps[:-1], Hop(name, steps[-1].connections))
        targets.append(Target(name, ns, h, steps))
    for a in np.flatnonzero(dist[n:] > 0).tolist():
        targets.append(Target(naming.outside[a], None, int(dist[n + a]), path_to(n + a)))
    targets.sort(key=lambda t: (t.hops, t.outside, t.name))
    out.targets = targets
    return out


# ---------------------------------------------------------------- ranking


@dataclass(frozen=True, slots=True)
class WorkloadReach:
    """One workload's place in the blast-radius ranking (counts are of other workloads)."""

    name: str
    namespace: str
    pods: int
    reached_by: int
    """Workloads that reach it, directly or through others."""
    reached_by_directly: int
    reaches: int
    """Workloads it reaches, directly or through others."""
    reaches_directly: int
    from_outside: bool
    """Some outside address range may connect to one of its pods."""


@dataclass(slots=True)
class BlastRanking:
    """Every workload with its reach; `most_reachable` and `widest_reach` give the orders."""

    workloads: list[WorkloadReach]

    def most_reachable(self, top: int | None = None) -> list[WorkloadReach]:
        ranked = sorted(
            self.workloads,
            key=lambda w: (-w.reached_by, -w.reached_by_directly, -w.from_outside, w.name),
        )
        return ranked[:top] if top else ranked

    def widest_reach(self, top: int | None = None) -> list[WorkloadReach]:
        ranked = sorted(self.workloads, key=lambda w: (-w.reaches, -w.reaches_directly, w.name))
        return ranked[:top] if top else ranked


def class_graph(result: Connectivity) -> tuple[Index, Index, NDArray[np.bool_]]:
    """The class graph as CSR (indptr, successors) and which classes outside ranges reach."""
    n, e = len(result.classes), len(result.outside)
    indptr = np.zeros(n + 1, dtype=np.int64)
    parts: list[Index] = []
    for c in range(n):
        hit = np.flatnonzero(result.row(c)[:n].any(axis=1))
        parts.append(hit)
        indptr[c + 1] = indptr[c] + len(hit)
    succ = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    from_outside = np.zeros(n, dtype=bool)
    for a in range(e):
        from_outside |= result.outside_row(a)[:n].any(axis=1)
    return indptr, succ.astype(np.int64), from_outside


def strong_components(indptr: Index, succ: Index) -> tuple[Index, int]:
    """Tarjan's strongly connected components (iterative): component per node, numbered in
    reverse topological order (a component's successors have smaller numbers)."""
    n = len(indptr) - 1
    adj = succ.tolist()
    starts = indptr.tolist()
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    comp = [-1] * n
    stack: list[int] = []
    counter = 0
    ncomp = 0
    for root in range(n):
        if index[root] >= 0:
            continue
        work = [(root, starts[root])]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        while work:
            v, i = work[-1]
            end = starts[v + 1]
            while i < end:
                w = adj[i]
                i += 1
                if index[w] < 0:
                    work[-1] = (v, i)
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = True
                    work.append((w, starts[w]))
                    break
                if on_stack[w] and index[w] < low[v]:
                    low[v] = index[w]
            else:
                work.pop()
                if work:
                    u = work[-1][0]
                    low[u] = min(low[u], low[v])
                if low[v] == index[v]:
                    while True:
                        w = stack.pop()
                        on_stack[w] = False
                        comp[w] = ncomp
                        if w == v:
                            break
                    ncomp += 1
    return np.array(comp, dtype=np.int64), ncomp


def class_closure(indptr: Index, succ: Index) -> NDArray[np.uint64]:
    """classes x words bitsets: the classes each class reaches along one or more edges."""
    n = len(indptr) - 1
    comp, ncomp = strong_components(indptr, succ)
    words = max(1, (n + 63) // 64)
    members: list[list[int]] = [[] for _ in range(ncomp)]
    for v, k in enumerate(comp.tolist()):
        members[k].append(v)
    src = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    # per component: the components its edges lead to, and whether it has an inner edge
    ckeys = np.unique(comp[src] * ncomp + comp[succ]) if len(succ) else np.zeros(0, np.int64)
    cfrom, cto = ckeys // max(ncomp, 1), ckeys % max(ncomp, 1)
    cyclic = np.zeros(ncomp, dtype=bool)
    cyclic[cfrom[cfrom == cto]] = True
    outer = cfrom != cto
    cfrom, cto = cfrom[outer], cto[outer]
    cstarts = np.searchsorted(cfrom, np.arange(ncomp + 1))
    bits = np.zeros((ncomp, words), dtype=np.uint64)  # the classes of each component
    comp_list = comp.tolist()
    for v in range(n):
        bits[comp_list[v], v >> 6] |= np.uint64(1) << np.uint64(v & 63)
    reach = np.zeros((ncomp, words), dtype=np.uint64)
    for k in range(ncomp):  # successors first: numbered lower
        nxt = cto[cstarts[k] : cstarts[k + 1]]
        if len(nxt):
            reach[k] = np.bitwise_or.reduce(reach[nxt] | bits[nxt], axis=0)
        if cyclic[k]:
            reach[k] |= bits[k]
    return reach[comp]


def _unpack(bitsets: NDArray[np.uint64], n: int) -> NDArray[np.bool_]:
    return np.unpackbits(bitsets.view(np.uint8), axis=-1, bitorder="little")[..., :n].astype(bool)


def blast_ranking(result: Connectivity) -> BlastRanking:
    """Per workload (pods named as `connlist --workloads` names them): how many other
    workloads reach it and how many it reaches, directly and transitively."""
    n = len(result.classes)
    names: dict[str, int] = {}
    namespaces: list[str] = []
    pods_of: list[int] = []
    incidence: set[tuple[int, int]] = set()  # (workload, class)
    for cls in result.classes:
        for p in cls.pods:
            name = pod_name(p, True)
            w = names.get(name)
            if w is None:
                w = names[name] = len(namespaces)
                namespaces.append(p.namespace)
                pods_of.append(0)
            pods_of[w] += 1
            incidence.add((w, cls.index))
    m = len(namespaces)
    pairs = np.array(sorted(incidence), dtype=np.int64).reshape(-1, 2)
    w_of, c_of = pairs[:, 0], pairs[:, 1]
    # class -> workloads, as CSR
    order = np.argsort(c_of, kind="stable")
    cw = w_of[order]
    cw_starts = np.searchsorted(c_of[order], np.arange(n + 1))
    wc_starts = np.searchsorted(w_of, np.arange(m + 1))  # workload -> classes (pairs sorted)
    indptr, succ, from_outside_cls = class_graph(result)
    closure = class_closure(indptr, succ)
    direct = np.zeros((n, max(1, (n + 63) // 64)), dtype=np.uint64)
    src = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    if len(succ):
        np.bitwise_or.at(
            direct, (src, succ >> 6), np.left_shift(np.uint64(1), (succ & 63).astype(np.uint64))
        )
    counts: dict[str, NDArray[np.int64]] = {}
    for label, bitsets in (("all", closure), ("direct", direct)):
        reaches = np.zeros(m, dtype=np.int64)
        reached_by = np.zeros(m, dtype=np.int64)
        for w in range(m):
            own = c_of[wc_starts[w] : wc_starts[w + 1]]
            row = np.bitwise_or.reduce(bitsets[own], axis=0)
            hit = np.flatnonzero(_unpack(row, n))
            if not len(hit):
                continue
            lo, hi = cw_starts[hit], cw_starts[hit + 1]
            flat = cw[ragged_ranges(lo, hi - lo)]
            others = np.unique(flat)
            others = others[others != w]
            reaches[w] = len(others)
            reached_by[others] += 1
        counts[label + "-out"], counts[label + "-in"] = reaches, reached_by
    outside_w = np.zeros(m, dtype=bool)
    outside_w[w_of[from_outside_cls[c_of]]] = True
    listed = []
    for name, w in names.items():
        listed.append(
            WorkloadReach(
                name,
                namespaces[w],
                pods_of[w],
                int(counts["all-in"][w]),
                int(counts["direct-in"][w]),
                int(counts["all-out"][w]),
                int(counts["direct-out"][w]),
                bool(outside_w[w]),
            )
        )
    return BlastRanking(listed)
