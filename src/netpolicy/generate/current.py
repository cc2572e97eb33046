"""The intents the existing policies allow today (`generate --from-cluster`).

Governed namespaces: those with at least one NetworkPolicy. The intents are the engine's
allowed connections (the same rows as `connlist --workloads`) that touch a workload of a
governed namespace, so that generating from them reproduces today's allowed set there:

- Endpoints are workloads (`ns/name`, the top controller, as `workload_names` lifts it), a pod
  by itself where its owner's pods are not all treated alike (`owners.split_owners`), or
  outside addresses as the fewest CIDRs that cover exactly the ranges the engine lists for one
  workload with the same ports (IPv6 only where an ipBlock of the input mentions it, as in
  `connlist`).
- Ports are the resolved numbers (a named port becomes the port it names on each
  destination); every port of every protocol is written as no `ports`, every port of one
  protocol as the bare protocol (`TCP`).
- Traffic between the pods of one workload is kept (`ns/w` -> `ns/w`) when it has more than
  one pod (or replica); a pod's traffic to itself is always allowed and never an intent.
- Allowed only because neither side is isolated: a governed workload not isolated for egress
  reaches every pod of a namespace without policies on every port, written `ns/*` (and its
  outside addresses `0.0.0.0/0`); a governed workload not isolated for ingress is reached by
  every pod of such a namespace, `ns/*` -> it. That is what the open side means (it holds for
  pods added later too); everywhere else a policy decides, and each workload is named.
- `dns: false`: today's DNS access is already in the intents, exactly as allowed (a workload
  isolated for egress without DNS stays so); set it to true to add DNS for every workload.
"""

from __future__ import annotations

import ipaddress
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from netpolicy.analysis.connectivity import Connectivity, compute_connectivity
from netpolicy.analysis.connlist import ConnectionRows
from netpolicy.analysis.owners import owner_name, split_owners
from netpolicy.generate.observed import endpoint_order
from netpolicy.generate.workload_names import WorkloadNames
from netpolicy.model import PROTOCOLS, Cluster, Diagnostic, Pod, SourceRef
from netpolicy.semantics import ALL_PORTS, ConnectionSet, HostNetworkMode, IntervalSet
from netpolicy.semantics.addresses import V6_OFFSET

Doc = dict[str, Any]

_OUTSIDE = "\x00outside:"
"""Column names of outside ranges (never a pod's name)."""


def cidrs(addresses: IntervalSet) -> list[str]:
    """The fewest CIDRs covering exactly `addresses` (IPv4 then IPv6)."""
    out: list[str] = []
    for lo, hi in addresses.ranges:
        if lo < V6_OFFSET:
            first, last = ipaddress.IPv4Address(lo), ipaddress.IPv4Address(min(hi, V6_OFFSET - 1))
            out += [str(n) for n in ipaddress.summarize_address_range(first, last)]
        if hi >= V6_OFFSET:
            first6 = ipaddress.IPv6Address(max(lo, V6_OFFSET) - V6_OFFSET)
            last6 = ipaddress.IPv6Address(hi - V6_OFFSET)
            out += [str(n) for n in ipaddress.summarize_address_range(first6, last6)]
    return out


def connection_ports(conns: ConnectionSet) -> list[str] | None:
    """The intent's `ports` for a ConnectionSet; None for every port of every protocol."""
    if conns.is_all():
        return None
    out: list[str] = []
    for proto in PROTOCOLS:
        ports = conns.ports(proto)
        if ports == ALL_PORTS:
            out.append(proto)
            continue
        out += [f"{lo}/{proto}" if lo == hi else f"{lo}-{hi}/{proto}" for lo, hi in ports]
    return out


def _apart_among_themselves(
    result: Connectivity, pods: list[Pod], name_of: Callable[[Pod], str]
) -> set[str]:
    """Workloads whose pods may open different things to each other (an ipBlock over the IP
    of some): one intent `w -> w` would allow the union between all of them.
    (`split_owners` leaves this traffic out: `connlist` never lists it.)"""
    class_of = {id(p): c.index for c in result.classes for p in c.pods}
    members: dict[str, Counter[int]] = defaultdict(Counter)
    for pod in pods:
        if pod.owner is not None:
            members[name_of(pod)][class_of[id(pod)]] += 1
    apart = set()
    for name, counts in members.items():
        if len(counts) < 2:
            continue
        seen: set[bytes] = set()
        for a in counts:
            row = result.row(a)
            for b, n in counts.items():
                if a != b or n > 1:  # one pod alone in a class: no pair of two pods
                    seen.add(row[b].tobytes())
        if len(seen) > 1:
            apart.add(name)
    return apart


def _intent(src: str, dst: str, conns: ConnectionSet) -> dict[str, Any]:
    intent: dict[str, Any] = {"from": src, "to": dst}
    ports = connection_ports(conns)
    if ports is not None:
        intent["ports"] = ports
    return intent


def intents_from_cluster(
    cluster: Cluster, host_network: HostNetworkMode = "node"
) -> tuple[Doc, list[Diagnostic]]:
    """The intents document of what the policies of `cluster` allow today, for the
    namespaces that have policies, and diagnostics (owners listed pod by pod, notes)."""
    where = SourceRef(cluster.name or "<cluster>")
    governed = sorted({p.namespace for p in cluster.policies})
    doc: Doc = {"apiVersion": "netpolicy/v1", "kind": "Intents", "namespaces": governed}
    doc["dns"] = False
    doc["intents"] = []
    if not governed:
        note = "no NetworkPolicy in the input: no namespace is governed, no intent to write"
        return doc, [Diagnostic("warning", note, where, "no-policies")]
    result = compute_connectivity(cluster, host_network=host_network)
    split, diagnostics = split_owners(result)
    names = WorkloadNames(cluster)
    counted = [
        p for c in result.classes for p in c.pods if not (p.host_network and host_network == "node")
    ]
    apart = _apart_among_themselves(result, counted, names.of)
    for name in sorted(apart):
        diagnostics.append(
            Diagnostic(
                "warning",
                f"the pods of {name} may not open the same to each other: listed pod by pod",
                where,
                "owner-split",
            )
        )

    def name_of(pod: Pod) -> str:
        if owner_name(pod) in split or names.of(pod) in apart:
            return pod.key
        return names.of(pod)

    columns = [
        sorted({name_of(p) for p in c.pods if not (p.host_network and host_network == "node")})
        for c in result.classes
    ]
    columns += [[f"{_OUTSIDE}{i:09d}"] for i in range(len(result.outside))]
    rows = ConnectionRows(result, columns=columns, self_pairs=True)
    outside = {f"{_OUTSIDE}{i:09d}": r for i, r in enumerate(result.outside)}

    # per endpoint: its pods' classes, and how many pods it stands for
    classes: dict[str, list[int]] = defaultdict(list)
    for c, in_class in enumerate(columns[: len(result.classes)]):
        for member in in_class:
            classes[member].append(c)
    replicas = {(w.namespace, w.name): w.replicas for w in cluster.workloads}
    pods_of: dict[str, int] = defaultdict(int)
    for pod in cluster.pods:
        if pod.host_network and host_network == "node":
            continue
        pods_of[name_of(pod)] += (
            replicas.get((pod.namespace, pod.name), 1) if (pod.from_template) else 1
        )
    open_egress = {e for e, cs in classes.items() if not any(result.isolated_egress[c] for c in cs)}
    open_ingress = {
        e for e, cs in classes.items() if not any(result.isolated_ingress[c] for c in cs)
    }
    governed_set = set(governed)
    ungoverned_members: dict[str, set[str]] = defaultdict(set)
    for e in classes:
        ns = e.split("/", 1)[0]
        if ns not in governed_set:
            ungoverned_members[ns].add(e)

    def is_governed(e: str) -> bool:
        return not e.startswith(_OUTSIDE) and e.split("/", 1)[0] in governed_set

    pairs: dict[tuple[str, str], ConnectionSet] = {}
    to_outside: dict[tuple[str, ConnectionSet], IntervalSet] = {}
    from_outside: dict[tuple[str, ConnectionSet], IntervalSet] = {}
    for src, dsts, ids in rows:
        s = rows.names[src]
        for d_index, i in zip(dsts.tolist(), ids.tolist(), strict=True):
            d = rows.names[d_index]
            if not (is_governed(s) or is_governed(d)):
                continue
            conns = rows.port_sets[i]
            if s == d and pods_of[s] < 2:
                continue  # a pod's traffic to itself: always allowed
            if d in outside:
                key = (s, conns)
                to_outside[key] = to_outside.get(key, IntervalSet.empty()) | outside[d]
            elif s in outside:
                key = (d, conns)
                from_outside[key] = from_outside.get(key, IntervalSet.empty()) | outside[s]
            else:
                pairs[s, d] = conns

    intents: list[dict[str, Any]] = []
    # open towards a namespace without policies: the whole namespace, every port
    for e in sorted(open_egress & {e for e in classes if is_governed(e)}):
        for ns, members in ungoverned_members.items():
            if all(pairs.get((e, m), ConnectionSet.none()).is_all() for m in members):
                for m in members:
                    del pairs[e, m]
                intents.append(_intent(e, f"{ns}/*", ConnectionSet.all()))
    for e in sorted(open_ingress & {e for e in classes if is_governed(e)}):
        for ns, members in ungoverned_members.items():
            if all(pairs.get((m, e), ConnectionSet.none()).is_all() for m in members):
                for m in members:
                    del pairs[m, e]
                intents.append(_intent(f"{ns}/*", e, ConnectionSet.all()))
    for (s, d), conns in pairs.items():
        intents.append(_intent(s, d, conns))
    for (s, conns), addresses in to_outside.items():
        intents += [_intent(s, cidr, conns) for cidr in cidrs(addresses)]
    for (d, conns), addresses in from_outside.items():
        intents += [_intent(cidr, d, conns) for cidr in cidrs(addresses)]
    intents.sort(key=lambda i: (endpoint_order(i["from"]), endpoint_order(i["to"])))
    doc["intents"] = intents
    diagnostics = list(diagnostics)
    diagnostics.append(
        Diagnostic(
            "info",
            f"{len(intents)} intent(s) reproduce what the policies of {', '.join(governed)} "
            "allow today; dns: false (today's DNS access is in the intents as it is)",
            where,
            "from-cluster",
        )
    )
    return doc, diagnostics
