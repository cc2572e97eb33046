"""The adoption dashboard: how far each namespace is on the way to explicit intent.

Everything here counts *workloads*, not pods. A workload is the top controller of a pod that
the input holds (`ns/name[Kind]`: a ReplicaSet `<name>-<hash>` or one whose owner reference
names a loaded Deployment counts as that Deployment, a Job of a loaded CronJob as the
CronJob), else the pod's own controller, else the bare pod (`ns/name`, kind `Pod`). A workload
is isolated in a direction only if *every* one of its pods is (its pods may fall into several
classes, e.g. when an ipBlock cuts through their addresses).

Workloads whose every pod uses the host network are left out of every count, step and list:
with `host_network="node"` their traffic is the node's and no NetworkPolicy can isolate them
(`NamespaceCoverage.host_network` says how many a namespace has). With `"pod"` they count as
any other workload.

The adoption path, per namespace, in order; a namespace is at the last step whose condition
holds for *every* counted workload of it (so one open workload keeps it at an earlier step):

0. `no-policies`: the start; always reached. (A namespace with policies that leave some
   workload open for ingress is still here.)
1. `ingress-default-deny`: the namespace has a NetworkPolicy and every workload is isolated
   for ingress.
2. `ingress-allows`: besides, every workload has its ingress intent in place: for each of
   its pods, either some ingress rule of a policy selecting it lets an existing peer in (a pod
   of the input, or an outside address for an ipBlock or an empty `from`) on at least one
   port that resolves on that pod, or a policy with a non-empty `podSelector` (written for
   those pods, not the namespace-wide `{}`) isolates it for ingress: a worker's own policy
   with `ingress: []` says on purpose that nothing may come in. What keeps a namespace at
   step 1 is a workload isolated only by a namespace-wide default deny. The sources' egress
   is not considered: this step is about ingress.
3. `egress-with-dns`: besides, every workload is isolated for egress and none has DNS blocked
   (`netpolicy.analysis.dns.dns_reach`: UDP and TCP 53 to the cluster DNS).

Cluster-wide guardrails (AdminNetworkPolicy, BaselineAdminNetworkPolicy,
ClusterNetworkPolicy) isolate too: a workload counts as isolated in a direction when a
NetworkPolicy isolates it there, or when the tier chain leaves some of its traffic in that
direction with the input's pods and outside ranges not allowed (an Admin Deny, a Baseline Deny
where no NetworkPolicy selects it; `Connectivity.guarded`). So guardrails carry a namespace
through steps 1 and 3 (DNS is then asked of the tier chain), but not through step 2: that
step is the namespace owners' own intent, and a workload isolated for ingress only by
guardrails blocks it (`guardrailsOnly`) until a NetworkPolicy of its namespace says what may
come in. An Admin Allow alone isolates nothing (what it allows was allowed anyway).

A namespace without counted workloads (declared empty, or only host-network pods) is at step
`no-workloads`, outside the path: it is listed with zero counts and no next step.

"Do next" lists the workloads reachable from every pod of the cluster or from outside
addresses, ranked by how many other workloads can reach them (a workload reaches another when
one of its pods may connect to one of the other's on some port: the source's egress and the
destination's ingress both allow it, as the engine decided); ties go to the ones reachable
from every pod, then from outside, then to StatefulSets, the usual home of data (see
`Coverage.next`). The work follows the class relation (`Connectivity.class_pairs`) with numpy,
never pods squared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain, zip_longest

import numpy as np
from numpy.typing import NDArray

from netpolicy.analysis.arrays import part_offsets
from netpolicy.analysis.connectivity import Connectivity
from netpolicy.analysis.dns import dns_reach
from netpolicy.model import Cluster, OwnerRef, Pod, Protocol
from netpolicy.semantics import CompiledPolicy, ConnectionSet, IntervalSet

Index = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the adoption path: a stable `id` to key on and a label for people."""

    id: str
    label: str
    index: int | None
    """Position on the path (0 = the start); None for `no-workloads`, which is off the path."""


NO_WORKLOADS = Step("no-workloads", "no workloads", None)
NO_POLICIES = Step("no-policies", "no policies", 0)
INGRESS_DEFAULT_DENY = Step("ingress-default-deny", "ingress default deny", 1)
INGRESS_ALLOWS = Step("ingress-allows", "ingress allows in place", 2)
EGRESS_WITH_DNS = Step("egress-with-dns", "egress with DNS", 3)
STEPS = (NO_POLICIES, INGRESS_DEFAULT_DENY, INGRESS_ALLOWS, EGRESS_WITH_DNS)
"""The adoption path, in order."""
ALL_STEPS = (NO_WORKLOADS, *STEPS)

BLOCKING_REASONS = {
    "ingressOpen": "not isolated for ingress",
    "defaultDenyOnly": "isolated for ingress only by a namespace-wide default deny "
    "(no rule lets anything in, no policy of its own)",
    "egressOpen": "not isolated for egress",
    "dnsBlocked": "isolated for egress, but DNS is blocked",
    "guardrailsOnly": "isolated for ingress only by cluster-wide guardrails "
    "(no NetworkPolicy of its namespace states what may come in)",
}
"""Why a workload keeps its namespace from the next step: stable id -> what it means."""


@dataclass(frozen=True, slots=True)
class IsolationCounts:
    """Workloads isolated for ingress, for egress (each including `both`), and for both.

    `neither` follows: ingress + egress - both + neither = workloads.
    """

    workloads: int = 0
    ingress: int = 0
    egress: int = 0
    both: int = 0

    @property
    def neither(self) -> int:
        return self.workloads - self.ingress - self.egress + self.both

    def percent(self, count: int) -> float | None:
        """`count` as a percentage of the workloads (None when there are none)."""
        return 100.0 * count / self.workloads if self.workloads else None

    def __add__(self, other: IsolationCounts) -> IsolationCounts:
        return IsolationCounts(
            self.workloads + other.workloads,
            self.ingress + other.ingress,
            self.egress + other.egress,
            self.both + other.both,
        )


@dataclass(frozen=True, slots=True)
class Blocker:
    """A workload that keeps its namespace from the next step, and why (`BLOCKING_REASONS`)."""

    workload: str
    reason: str
    protocols: tuple[Protocol, ...] = ()
    """For `dnsBlocked`: the DNS protocols it cannot use."""

    @property
    def message(self) -> str:
        if self.reason == "dnsBlocked":
            return f"isolated for egress, but DNS ({'/'.join(self.protocols)} 53) is blocked"
        return BLOCKING_REASONS[self.reason]


@dataclass(frozen=True, slots=True)
class WorkloadCoverage:
    """One workload: its isolation, and how exposed it is (from the allowed connections)."""

    name: str
    """`ns/name[Kind]`, or `ns/name` for a bare pod."""
    namespace: str
    workload: str
    """The controller's (or bare pod's) own name."""
    kind: str
    """The controller kind; `Pod` for a bare pod."""
    pods: int
    """Its pods: the live ones, or the replicas of a template that stands for them."""
    isolated_ingress: bool
    isolated_egress: bool
    ingress_intent: bool
    """Every pod has an ingress allow, or a policy of its own, in place (step `ingress-allows`).

    False for a workload that no policy isolates for ingress."""
    dns_blocked: tuple[Protocol, ...]
    """The DNS protocols that some egress-isolated pod of it cannot use."""
    reaching: int
    """Other workloads with a pod that may open a connection to some pod of this one."""
    from_every_pod: bool
    """Every pod of every other counted workload may connect to some pod of this one (on some
    port); False when there is no other pod."""
    outside: IntervalSet
    """The outside addresses (ranges cut by the input's ipBlocks) that may connect to it."""
    outside_ports: ConnectionSet
    """The ports some outside address may use towards it."""
    guardrails_only: tuple[str, ...] = ()
    """The directions (`ingress`, `egress`) in which only cluster-wide guardrails isolate it:
    isolated, with some pod that no NetworkPolicy isolates there."""

    @property
    def exposed(self) -> bool:
        """Reachable from every pod of the cluster or from outside: a "do next" candidate."""
        return self.from_every_pod or not self.outside.is_empty()


@dataclass(frozen=True, slots=True)
class NamespaceCoverage:
    """One namespace's row: isolation counts, the step reached, what blocks the next one."""

    namespace: str
    policies: int
    """NetworkPolicies in the namespace (valid ones; invalid objects are left out)."""
    counts: IsolationCounts
    host_network: int
    """Host-network workloads left out of the counts (with host_network="node")."""
    step: Step
    next_step: Step | None
    blocking: tuple[Blocker, ...] = ()
    """The workloads keeping the namespace from `next_step`, sorted by name."""


@dataclass(frozen=True, slots=True)
class Totals:
    """The sums over every namespace."""

    namespaces: int
    counts: IsolationCounts
    host_network: int
    steps: dict[str, int]
    """Namespaces per step id, every id of `ALL_STEPS` present."""


@dataclass(slots=True)
class Coverage:
    """The adoption dashboard of one cluster."""

    namespaces: list[NamespaceCoverage]
    """Every namespace (declared, or holding pods or policies), sorted by name."""
    totals: Totals
    workloads: list[WorkloadCoverage]
    """Every counted workload, sorted by name."""
    next: list[WorkloadCoverage]
    """The exposed workloads, most urgent first: by `reaching` (descending), then reachable
    from every pod, then from outside, then StatefulSets (data stores) before other kinds,
    then by name."""
    timings: dict[str, float] = field(default_factory=dict)


# --- workloads ------------------------------------------------------------------------------

_PARENTS = {"ReplicaSet": "Deployment", "Job": "CronJob"}


class _Namer:
    """The workload (namespace, kind, name) of a pod, lifted to the top loaded controller."""

    def __init__(self, cluster: Cluster) -> None:
        self._owners: dict[tuple[str, str, str], OwnerRef | None] = {
            (w.namespace, w.kind, w.name): w.owner for w in cluster.workloads
        }
        self._cache: dict[tuple[str, OwnerRef], tuple[str, str]] = {}

    def __call__(self, pod: Pod) -> tuple[str, str]:
        """(kind, name); kind `Pod` for a bare pod."""
        if pod.owner is None:
            return "Pod", pod.name
        key = (pod.namespace, pod.owner)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._lift(pod.namespace, pod.owner.kind, pod.owner.name)
        return found

    def _lift(self, namespace: str, kind: str, name: str) -> tuple[str, str]:
        for _ in range(3):  # Pod -> ReplicaSet -> Deployment, Pod -> Job -> CronJob
            owner = self._owners.get((namespace, kind, name))
            if owner is not None and (namespace, owner.kind, owner.name) in self._owners:
                kind, name = owner.kind, owner.name
                continue
            parent = _PARENTS.get(kind)
            if parent is not None and "-" in name:
                # the controllers name their children `<parent>-<suffix>`
                base = name.rsplit("-", 1)[0]
                if (namespace, parent, base) in self._owners:
                    kind, name = parent, base
                    continue
            break
        return kind, name


@dataclass(slots=True)
class _Workload:
    namespace: str
    kind: str
    name: str
    pods: int = 0
    classes: list[int] = field(default_factory=list)

    @property
    def display(self) -> str:
        if self.kind == "Pod":
            return f"{self.namespace}/{self.name}"
        if not self.kind:
            return f"{self.namespace}/{self.name}"
        return f"{self.namespace}/{self.name}[{self.kind}]"


def _workloads(result: Connectivity) -> tuple[list[_Workload], list[list[int]]]:
    """The workloads, with their classes and pod counts; per class, its workloads."""
    cluster = result.evaluator.cluster
    replicas = {(w.namespace, w.kind, w.name): max(w.replicas, 1) for w in cluster.workloads}
    name_of = _Namer(cluster)
    ids: dict[tuple[str, str, str], int] = {}
    # The pods of one controller share their OwnerRef object (the loader converts it once):
    # looking it up by identity spares hashing it for every pod.
    by_owner: dict[tuple[str, int | str], int] = {}
    found: list[_Workload] = []
    per_class: list[list[int]] = []
    for cls in result.classes:
        index = cls.index
        members: list[int] = []
        for pod in cls.pods:
            owner = pod.owner
            fast: tuple[str, int | str] = (
                (pod.namespace, id(owner)) if owner is not None else (pod.namespace, pod.name)
            )
            w = by_owner.get(fast)
            if w is None:
                kind, name = name_of(pod)
                key = (pod.namespace, kind, name)
                w = ids.get(key)
                if w is None:
                    w = ids[key] = len(found)
                    found.append(_Workload(pod.namespace, kind, name))
                by_owner[fast] = w
            workload = found[w]
            if pod.from_template and owner is not None:
                workload.pods += replicas.get((pod.namespace, owner.kind, owner.name), 1)
            else:
                workload.pods += 1
            seen = workload.classes
            if not seen or seen[-1] != index:  # classes are visited in order
                seen.append(index)
                members.append(w)
        per_class.append(members)
    return found, per_class


# --- per class ------------------------------------------------------------------------------


def _ingress_intent(result: Connectivity) -> NDArray[np.bool_]:
    """Per class: some ingress rule selecting it lets an existing peer in on some port, or a
    policy with a non-empty podSelector isolates it for ingress (step `ingress-allows`)."""
    n = len(result.classes)
    intent = np.zeros(n, dtype=bool)
    table = result.rule_tables.get("ingress")
    if table is not None:
        for r, subjects in enumerate(table.selects):
            if not len(subjects) or not (len(table.peers[r]) or len(table.peers_outside[r])):
                continue
            named = table.by_destination.get(r)
            if named is None:
                if table.static[r].any():
                    intent[subjects] = True
            else:  # named ports resolve on the destination
                intent[subjects[named[subjects].any(axis=1)]] = True
    # Only the isolated classes no rule lets anything in still need a look for a policy of
    # their own (few, once a namespace has its allows): pod by pod, not column by column.
    own: dict[str, list[CompiledPolicy]] = {}
    for cp in result.evaluator.policies:
        if cp.isolates("ingress") and not cp.policy.pod_selector.is_empty:
            own.setdefault(cp.policy.namespace, []).append(cp)
    isolated = np.array(result.isolated_ingress, dtype=bool)
    for c in np.flatnonzero(isolated & ~intent).tolist():
        pod = result.classes[c].representative
        if any(cp.selects(pod) for cp in own.get(pod.namespace, ())):
            intent[c] = True
    return intent


@dataclass(slots=True)
class _Reach:
    """Per destination class: who may connect to it, from the class relation."""

    src: Index  # class_pairs keys, sorted by destination
    dst: Index
    starts: Index  # per class d: src[starts[d]:starts[d + 1]] are the classes reaching d
    whole_sum: Index  # per class d: the single-class workloads among its sources
    split_src: Index  # (multi-class workload, class it reaches), unique, sorted by class
    split_dst: Index
    split_starts: Index
    counted_sources: Index  # per class d: counted classes among its sources
    self_pair: NDArray[np.bool_]  # (d, d) allowed: pods of d reach other pods of d

    def sources(self, d: int) -> Index:
        return self.src[self.starts[d] : self.starts[d + 1]]

    def split_sources(self, d: int) -> Index:
        return self.split_src[self.split_starts[d] : self.split_starts[d + 1]]


def _reach(
    result: Connectivity,
    whole_count: Index,
    split_members: list[list[int]],
    n_split: int,
    counted_class: NDArray[np.bool_],
) -> _Reach:
    """`split_members`: per class, its counted workloads with pods in other classes too
    (numbered 0..n_split-1); `whole_count`: per class, the number of the others."""
    n = len(result.classes)
    pairs = len(result.class_pairs)
    flat = np.fromiter(chain.from_iterable(result.class_pairs), dtype=np.int64, count=2 * pairs)
    src, dst = flat[0::2], flat[1::2]
    order = np.argsort(dst, kind="stable")
    src, dst = src[order], dst[order]
    starts = np.searchsorted(dst, np.arange(n + 1)).astype(np.int64)
    whole_sum = np.bincount(dst, weights=whole_count[src], minlength=n).astype(np.int64)
    counted_sources = np.bincount(dst[counted_class[src]], minlength=n).astype(np.int64)
    self_pair = np.zeros(n, dtype=bool)
    self_pair[src[src == dst]] = True
    # Workloads spread over several classes would be counted once per class in `whole_sum`:
    # expand the pairs leaving their classes to (workload, destination) and deduplicate.
    sizes = np.fromiter((len(m) for m in split_members), dtype=np.int64, count=n)
    offsets = part_offsets(sizes)
    members = np.fromiter(chain.from_iterable(split_members), dtype=np.int64, count=offsets[-1])
    leaving = sizes[src] > 0
    s, d = src[leaving], dst[leaving]
    counts = sizes[s]
    total = int(counts.sum())
    firsts = np.repeat(np.cumsum(counts) - counts, counts)
    picks = np.repeat(offsets[s], counts) + np.arange(total, dtype=np.int64) - firsts
    width = max(n_split, 1)
    keys = np.unique(np.repeat(d, counts) * width + members[picks])
    split_dst, split_src = keys // width, keys % width
    split_starts = np.searchsorted(split_dst, np.arange(n + 1)).astype(np.int64)
    return _Reach(
        src,
        dst,
        starts,
        whole_sum,
        split_src,
        split_dst,
        split_starts,
        counted_sources,
        self_pair,
    )


def _outside(result: Connectivity) -> dict[int, tuple[list[int], ConnectionSet]]:
    """Per class reached from outside: the outside atoms reaching it and their ports."""
    atoms: dict[int, list[int]] = {}
    sets: dict[int, dict[int, ConnectionSet]] = {}
    for (e, d), conns in result.from_outside.items():
        found = atoms.get(d)
        if found is None:
            atoms[d], sets[d] = [e], {id(conns): conns}
        else:
            found.append(e)
            sets[d][id(conns)] = conns  # the engine shares one object per distinct set
    return {d: (atoms[d], ConnectionSet.union(sets[d].values())) for d in atoms}


# --- the dashboard --------------------------------------------------------------------------


def coverage(result: Connectivity) -> Coverage:
    """The adoption dashboard of the cluster `result` was computed for (see the module doc)."""
    found, per_class = _workloads(result)
    tally = _Tally.of(result, found, per_class)
    reach = _reach(
        result, tally.whole_count, tally.split_members, len(tally.split), tally.counted_class
    )
    outside_of = _outside(result)
    intent = _ingress_intent(result)
    # guardrails isolate too: a class whose side they leave some traffic not allowed
    guarded_in, guarded_out = result.guarded() if result.has_pairs else ((), ())
    iso_in = [a or bool(b) for a, b in zip_longest(result.isolated_ingress, guarded_in)]
    iso_out = [a or bool(b) for a, b in zip_longest(result.isolated_egress, guarded_out)]
    dns = dns_reach(result) if any(iso_out) else {}
    ranges_cache: dict[tuple[int, ...], IntervalSet] = {}

    def outside_ranges(atoms: list[int]) -> IntervalSet:
        key = tuple(sorted(set(atoms)))
        ranges = ranges_cache.get(key)
        if ranges is None:
            ranges = ranges_cache[key] = IntervalSet.empty()
            for e in key:
                ranges = ranges_cache[key] = ranges | result.outside[e]
        return ranges

    workloads: list[WorkloadCoverage] = []
    host_network: dict[str, int] = {}
    for i, w in enumerate(found):
        if not tally.counted[i]:
            host_network[w.namespace] = host_network.get(w.namespace, 0) + 1
            continue
        cs = w.classes
        reaching, from_every_pod = tally.exposure(i, cs, reach)
        atoms: list[int] = []
        ports = ConnectionSet.none()
        blocked: set[Protocol] = set()
        for c in cs:
            hit = outside_of.get(c)
            if hit is not None:
                atoms.extend(hit[0])
                ports = ports | hit[1]
            if c in dns:
                blocked.update(dns[c].blocked)
        workloads.append(
            WorkloadCoverage(
                w.display,
                w.namespace,
                w.name,
                w.kind,
                w.pods,
                all(iso_in[c] for c in cs),
                all(iso_out[c] for c in cs),
                all(intent[c] for c in cs),
                tuple(p for p in ("UDP", "TCP") if p in blocked),
                reaching,
                from_every_pod,
                outside_ranges(atoms) if atoms else IntervalSet.empty(),
                ports,
                tuple(
                    d
                    for d, iso, np_iso in (
                        ("ingress", iso_in, result.isolated_ingress),
                        ("egress", iso_out, result.isolated_egress),
                    )
                    if all(iso[c] for c in cs) and not all(np_iso[c] for c in cs)
                ),
            )
        )
    workloads.sort(key=lambda x: x.name)
    namespaces = _namespaces(result.evaluator.cluster, workloads, host_network)
    steps = {s.id: 0 for s in ALL_STEPS}
    for row in namespaces:
        steps[row.step.id] += 1
    totals = Totals(
        len(namespaces),
        sum((row.counts for row in namespaces), IsolationCounts()),
        sum(host_network.values()),
        steps,
    )
    ranked = sorted(
        (x for x in workloads if x.exposed),
        key=lambda x: (
            -x.reaching,
            not x.from_every_pod,
            x.outside.is_empty(),
            x.kind != "StatefulSet",
            x.name,
        ),
    )
    return Coverage(namespaces, totals, workloads, ranked)


@dataclass(slots=True)
class _Tally:
    """Which workloads count (not host network only) and how they sit in the classes."""

    counted: list[bool]
    split: dict[int, int]  # workload -> its number among those with pods in several classes
    split_members: list[list[int]]  # per class: the split workloads in it (their numbers)
    whole_count: Index  # per class: the counted workloads with all their pods in it
    counted_in_class: Index  # per class: the counted workloads in it
    counted_class: NDArray[np.bool_]
    counted_classes: int

    @classmethod
    def of(cls, result: Connectivity, found: list[_Workload], per_class: list[list[int]]) -> _Tally:
        n = len(result.classes)
        host = [c.representative.host_network for c in result.classes]
        counted = [not all(host[c] for c in w.classes) for w in found]
        split_ids = [i for i, w in enumerate(found) if counted[i] and len(w.classes) > 1]
        split = {w: k for k, w in enumerate(split_ids)}
        whole_count = np.zeros(n, dtype=np.int64)
        counted_in_class = np.zeros(n, dtype=np.int64)
        split_members: list[list[int]] = [[] for _ in range(n)]
        for c, members in enumerate(per_class):
            for m in members:
                if not counted[m]:
                    continue
                counted_in_class[c] += 1
                if m in split:
                    split_members[c].append(split[m])
                else:
                    whole_count[c] += 1
        counted_class = counted_in_class > 0
        return cls(
            counted,
            split,
            split_members,
            whole_count,
            counted_in_class,
            counted_class,
            int(counted_class.sum()),
        )

    def exposure(self, w: int, cs: list[int], reach: _Reach) -> tuple[int, bool]:
        """How many other workloads may connect to workload `w` (in classes `cs`), and
        whether every pod outside it may."""
        own = [c for c in cs if self.counted_in_class[c] == 1]  # classes holding only its pods
        if len(cs) == 1:
            d = cs[0]
            mine = bool(reach.self_pair[d])  # counted among its own sources
            reaching = int(reach.whole_sum[d]) + len(reach.split_sources(d)) - mine
            got = int(reach.counted_sources[d]) - int(bool(own) and mine)
        else:
            sources = np.unique(np.concatenate([reach.sources(d) for d in cs]))
            others = np.unique(np.concatenate([reach.split_sources(d) for d in cs]))
            reaching = int(self.whole_count[sources].sum()) + int((others != self.split[w]).sum())
            sources = sources[self.counted_class[sources]]
            got = len(sources) - int(np.isin(sources, own).sum())
        need = self.counted_classes - len(own)
        return reaching, need > 0 and got == need


def _namespaces(
    cluster: Cluster, workloads: list[WorkloadCoverage], host_network: dict[str, int]
) -> list[NamespaceCoverage]:
    policies: dict[str, int] = {}
    for p in cluster.policies:
        policies[p.namespace] = policies.get(p.namespace, 0) + 1
    by_ns: dict[str, list[WorkloadCoverage]] = {}
    for w in workloads:
        by_ns.setdefault(w.namespace, []).append(w)
    names = {ns.name for ns in cluster.namespaces} | set(policies) | set(by_ns) | set(host_network)
    return [
        _namespace(name, policies.get(name, 0), by_ns.get(name, []), host_network.get(name, 0))
        for name in sorted(names)
    ]


def _namespace(
    name: str, policies: int, members: list[WorkloadCoverage], host_network: int
) -> NamespaceCoverage:
    counts = IsolationCounts(
        len(members),
        sum(w.isolated_ingress for w in members),
        sum(w.isolated_egress for w in members),
        sum(w.isolated_ingress and w.isolated_egress for w in members),
    )
    if not members:
        return NamespaceCoverage(name, policies, counts, host_network, NO_WORKLOADS, None)
    # The blockers of each step in turn; the namespace stops before the first step with any.
    # Only a policy of its own namespace isolates a pod: without policies, every one is open.
    ingress_open = [Blocker(w.name, "ingressOpen") for w in members if not w.isolated_ingress]
    if ingress_open:
        return NamespaceCoverage(
            name,
            policies,
            counts,
            host_network,
            NO_POLICIES,
            INGRESS_DEFAULT_DENY,
            tuple(ingress_open),
        )
    no_allow = [
        Blocker(w.name, "guardrailsOnly" if "ingress" in w.guardrails_only else "defaultDenyOnly")
        for w in members
        if not w.ingress_intent
    ]
    if no_allow:
        return NamespaceCoverage(
            name,
            policies,
            counts,
            host_network,
            INGRESS_DEFAULT_DENY,
            INGRESS_ALLOWS,
            tuple(no_allow),
        )
    egress = [
        Blocker(w.name, "egressOpen")
        if not w.isolated_egress
        else Blocker(w.name, "dnsBlocked", w.dns_blocked)
        for w in members
        if not w.isolated_egress or w.dns_blocked
    ]
    if egress:
        return NamespaceCoverage(
            name, policies, counts, host_network, INGRESS_ALLOWS, EGRESS_WITH_DNS, tuple(egress)
        )
    return NamespaceCoverage(name, policies, counts, host_network, EGRESS_WITH_DNS, None)
