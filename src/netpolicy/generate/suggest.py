"""The smallest change that allows one denied connection, verified by re-analysis.

A connection SRC -> DST on (protocol, port) is denied when the source's egress or the
destination's ingress does not allow it (either, or both). For each denying direction the
candidates are: a rule added to a policy that isolates the subject in that direction and
selects all of it (the subject: the source's pods for egress, the destination's for ingress),
or a new policy of that direction selecting the subject alone. The rule's peer is the other
end, selected as precisely as the labels allow (`precise_selector`), its port the one asked.

Every candidate (one per denying direction, combined) is applied to a copy of the cluster and
analysed again by the same engine: it must leave every pod's isolation as it was (a new policy
that isolated another pod would cut its traffic), it must allow every pod pair of SRC x DST on
the port, and what it newly allows besides is computed exactly (`Suggestion.extra`). The
candidate opening the fewest other connections wins; on a tie a rule added to an existing
policy beats a new one. Only the rows that a change can alter are compared: those of the
pods its egress change selects and of the peers its ingress change admits (with the isolation
unchanged, no other row can change).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from netpolicy.analysis.blast import source_pods
from netpolicy.analysis.connectivity import Connectivity, Mask, compute_connectivity
from netpolicy.analysis.connlist import Connection, endpoint_name, pod_name
from netpolicy.analysis.endpoints import resolve
from netpolicy.model import (
    NAMESPACE_NAME_LABEL,
    Cluster,
    IPBlock,
    LabelSelector,
    NetworkPolicy,
    Peer,
    Pod,
    PolicyPort,
    Protocol,
    Requirement,
    Rule,
)
from netpolicy.semantics import (
    ConnectionSet,
    Direction,
    Endpoint,
    Evaluator,
    External,
    HostNetworkMode,
    IntervalSet,
    external,
)
from netpolicy.semantics.addresses import V6_OFFSET

Status = Literal["allowed", "suggested", "impossible"]

VOLATILE_LABELS = frozenset(
    {
        "pod-template-hash",
        "controller-revision-hash",
        "pod-template-generation",
        "statefulset.kubernetes.io/pod-name",
        "apps.kubernetes.io/pod-index",
        "batch.kubernetes.io/controller-uid",
        "controller-uid",
        "batch.kubernetes.io/job-name",
        "job-name",
    }
)
"""Labels controllers set per revision or per pod: a selector on them breaks on the next
rollout, so they are used only when nothing else tells the pods apart."""
PREFERRED_KEYS = ("app.kubernetes.io/name", "app", "k8s-app", "name", "component", "tier")
HINT_KEY = "netpolicy.io/name"
"""The label `Suggestion.hints` proposes when no selector tells an endpoint apart."""


@dataclass(frozen=True, slots=True)
class AddedRule:
    """A rule added to a policy, in `direction`."""

    direction: Direction
    rule: Rule


@dataclass(frozen=True, slots=True)
class Change:
    """One object to apply: `policy` as it should be, with the rules `added` (one per
    direction); `original` is the policy it amends, None for a new one."""

    policy: NetworkPolicy
    added: tuple[AddedRule, ...]
    original: NetworkPolicy | None = None

    @property
    def action(self) -> Literal["addRule", "newPolicy"]:
        return "newPolicy" if self.original is None else "addRule"

    @property
    def directions(self) -> tuple[Direction, ...]:
        return tuple(a.direction for a in self.added)


@dataclass(slots=True)
class Suggestion:
    """What to apply so that `src` may connect to `dst` on (protocol, port), and everything
    else it would open (`extra`, exact: the engine's before/after comparison)."""

    src: str
    dst: str
    protocol: Protocol
    port: int | str
    status: Status
    reason: str = ""
    changes: tuple[Change, ...] = ()
    extra: tuple[Connection, ...] = ()
    """Every other connection newly allowed: (src, dst, the ports newly allowed)."""
    extra_pairs: int = 0
    """The same, counted pod by pod (and outside range by range)."""
    hints: tuple[str, ...] = ()
    """How to make the change exact when the labels cannot (the label to add)."""
    denied_by: tuple[Direction, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def precise(self) -> bool:
        return not self.extra


# ---------------------------------------------------------------- endpoints and selectors


@dataclass(frozen=True, slots=True)
class _End:
    """One end of the connection: its pods, or outside addresses."""

    name: str
    pods: tuple[Pod, ...] = ()
    addresses: IntervalSet | None = None

    @property
    def namespace(self) -> str:
        return self.pods[0].namespace if self.pods else ""


def _end(cluster: Cluster, evaluator: Evaluator, text: str) -> _End:
    found = resolve(cluster, evaluator, text)
    if found.pod is None:
        endpoint = found.endpoint
        assert isinstance(endpoint, External)
        return _End(found.name, (), endpoint.addresses)
    name, pods = source_pods(cluster, text)
    return _End(name, tuple(pods))


def _selectable(pod: Pod, evaluator: Evaluator) -> bool:
    """Selectors see the pod (host-network pods are the node's unless --host-network pod)."""
    return not (pod.host_network and evaluator.host_network == "node")


def precise_selector(
    group: tuple[Pod, ...], universe: list[Pod]
) -> tuple[LabelSelector, list[Pod]]:
    """A selector matching every pod of `group` and as few other pods of `universe` as the
    labels allow, and those others (none when the labels tell the group apart).

    Constraints are the labels the group shares (`matchLabels`) and `DoesNotExist` for keys
    the group lacks, chosen greedily (most pods excluded first; labels controllers change per
    revision only when nothing else helps). Pods with the group's very labels stay matched.
    """
    ids = {id(p) for p in group}
    others = [p for p in universe if id(p) not in ids]
    labels = [dict(p.labels) for p in group]
    common = {k: v for k, v in labels[0].items() if all(d.get(k) == v for d in labels[1:])}
    present = {k for d in labels for k in d}
    absent = sorted({k for o in others for k, _ in o.labels} - present)
    constraints: list[tuple[str, str, str]] = [("label", k, v) for k, v in sorted(common.items())]
    constraints += [("absent", k, "") for k in absent]

    def excludes(c: tuple[str, str, str], pod: Pod) -> bool:
        kind, key, value = c
        got = dict(pod.labels).get(key)
        return got != value if kind == "label" else got is not None

    def rank(c: tuple[str, str, str]) -> tuple[int, int]:
        preferred = PREFERRED_KEYS.index(c[1]) if c[1] in PREFERRED_KEYS else len(PREFERRED_KEYS)
        return (c[0] != "label", preferred)

    chosen: list[tuple[str, str, str]] = []
    remaining = others
    for allow_volatile in (False, True):
        while remaining:
            usable = [
                c
                for c in constraints
                if c not in chosen and (allow_volatile or c[1] not in VOLATILE_LABELS)
            ]
            scored = [(sum(excludes(c, o) for o in remaining), c) for c in usable]
            scored = [(k, c) for k, c in scored if k]
            if not scored:
                break
            best = min(scored, key=lambda kc: (-kc[0], *rank(kc[1]), kc[1]))[1]
            chosen.append(best)
            remaining = [o for o in remaining if not excludes(best, o)]
    if not chosen:
        # nothing else to exclude now: still name the group by a stable label, if it has one
        stable = sorted(
            (c for c in constraints if c[0] == "label" and c[1] not in VOLATILE_LABELS), key=rank
        )
        chosen = stable[:1]
    match_labels = tuple(sorted((k, v) for kind, k, v in chosen if kind == "label"))
    expressions = tuple(
        Requirement(k, "DoesNotExist") for kind, k, _ in sorted(chosen) if kind == "absent"
    )
    return LabelSelector(match_labels, expressions), remaining


def _cidrs(addresses: IntervalSet) -> list[str]:
    """The fewest CIDRs covering exactly `addresses`."""
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


@dataclass(frozen=True, slots=True)
class _Peers:
    peers: tuple[Peer, ...]
    loose: tuple[Pod, ...]
    """Pods the peers match besides the intended ones (the labels cannot tell them apart)."""
    unmatchable: str = ""


def _peers_for(other: _End, policy_namespace: str, cluster: Cluster, ev: Evaluator) -> _Peers:
    if other.addresses is not None:
        blocks = tuple(Peer(ip_block=IPBlock(c)) for c in _cidrs(other.addresses))
        return _Peers(blocks, ())
    if not all(_selectable(p, ev) for p in other.pods):
        # host-network pods are the node's: only their IPs can match them
        ips = sorted({p.ip for p in other.pods if p.ip})
        if len(ips) < len(other.pods) or not ips:
            return _Peers((), (), f"{other.name} uses the host network and has no IP to match")
        sets = [external(ip).addresses for ip in ips]
        merged = sets[0]
        for s in sets[1:]:
            merged = merged | s
        return _Peers(tuple(Peer(ip_block=IPBlock(c)) for c in _cidrs(merged)), ())
    ns = other.namespace
    universe = [p for p in cluster.pods if p.namespace == ns and _selectable(p, ev)]
    selector, loose = precise_selector(other.pods, universe)
    ns_selector = None if ns == policy_namespace else LabelSelector(((NAMESPACE_NAME_LABEL, ns),))
    return _Peers((Peer(pod_selector=selector, namespace_selector=ns_selector),), tuple(loose))


# ---------------------------------------------------------------- manifests


def _selector_manifest(sel: LabelSelector) -> dict[str, object]:
    out: dict[str, object] = {}
    if sel.match_labels:
        out["matchLabels"] = dict(sel.match_labels)
    if sel.match_expressions:
        expressions: list[dict[str, object]] = []
        for r in sel.match_expressions:
            item: dict[str, object] = {"key": r.key, "operator": r.operator}
            if r.operator in ("In", "NotIn"):
                item["values"] = list(r.values)
            expressions.append(item)
        out["matchExpressions"] = expressions
    return out


def _rule_manifest(rule: Rule, direction: Direction) -> dict[str, object]:
    out: dict[str, object] = {}
    peers: list[dict[str, object]] = []
    for peer in rule.peers:
        item: dict[str, object] = {}
        if peer.ip_block is not None:
            block: dict[str, object] = {"cidr": peer.ip_block.cidr}
            if peer.ip_block.except_:
                block["except"] = list(peer.ip_block.except_)
            item["ipBlock"] = block
        if peer.namespace_selector is not None:
            item["namespaceSelector"] = _selector_manifest(peer.namespace_selector)
        if peer.pod_selector is not None:
            item["podSelector"] = _selector_manifest(peer.pod_selector)
        peers.append(item)
    if peers:
        out["from" if direction == "ingress" else "to"] = peers
    if rule.ports:
        ports: list[dict[str, object]] = []
        for p in rule.ports:
            entry: dict[str, object] = {"protocol": p.protocol}
            if p.port is not None:
                entry["port"] = p.port
            if p.end_port is not None:
                entry["endPort"] = p.end_port
            ports.append(entry)
        out["ports"] = ports
    return out


def policy_manifest(policy: NetworkPolicy) -> dict[str, object]:
    """The NetworkPolicy as a Kubernetes manifest (keys in the order people write them).

    `policyTypes` is always written (the effective types), so that adding an egress rule to
    a policy that omitted them cannot change what it isolates."""
    spec: dict[str, object] = {
        "podSelector": _selector_manifest(policy.pod_selector),
        "policyTypes": list(policy.policy_types),
    }
    if policy.affects_ingress or policy.ingress:
        spec["ingress"] = [_rule_manifest(r, "ingress") for r in policy.ingress]
    if policy.affects_egress or policy.egress:
        spec["egress"] = [_rule_manifest(r, "egress") for r in policy.egress]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": policy.name, "namespace": policy.namespace},
        "spec": spec,
    }


def rule_manifest(added: AddedRule) -> dict[str, object]:
    return _rule_manifest(added.rule, added.direction)


# ---------------------------------------------------------------- candidates


def _slug(text: str) -> str:
    text = text.split("[", 1)[0].rsplit("/", 1)[-1].lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "x"


def _policy_name(cluster: Cluster, namespace: str, base: str) -> str:
    base = base[:240].strip("-")
    taken = {p.name for p in cluster.policies if p.namespace == namespace}
    name, i = base, 2
    while name in taken:
        name, i = f"{base}-{i}", i + 1
    return name


@dataclass(frozen=True, slots=True)
class _Candidate:
    change: Change
    breadth: int
    """Pods the changed policy selects besides the subjects (its rule applies to them too)."""
    loose: tuple[tuple[str, tuple[Pod, ...]], ...]
    """Per end whose selector cannot be exact: its name and the pods it also matches (the
    peers, or the subjects of a new policy; the latter also apply to an amended policy)."""


def _candidates(
    direction: Direction,
    subjects: tuple[Pod, ...],
    subject_end: _End,
    other: _End,
    port: PolicyPort,
    cluster: Cluster,
    ev: Evaluator,
    src: _End,
    dst: _End,
) -> tuple[list[_Candidate], str]:
    """The ways to open `direction` for `subjects` towards (from) `other` on `port`."""
    namespace = subjects[0].namespace
    peers = _peers_for(other, namespace, cluster, ev)
    if peers.unmatchable:
        return [], peers.unmatchable
    rule = Rule(peers.peers, (port,))
    infos = [ev.pod_info(p) for p in subjects]
    universe = [p for p in cluster.pods if p.namespace == namespace and _selectable(p, ev)]
    found: list[_Candidate] = []
    for cp in ev.namespace_policies(namespace):
        if cp.isolates(direction) and all(cp.selects(i) for i in infos):
            old = cp.policy
            new = (
                dataclasses.replace(old, ingress=(*old.ingress, rule))
                if direction == "ingress"
                else dataclasses.replace(old, egress=(*old.egress, rule))
            )
            breadth = sum(cp.selects(ev.pod_info(p)) for p in universe) - len(subjects)
            change = Change(new, (AddedRule(direction, rule),), old)
            found.append(_Candidate(change, breadth, ()))
    # the new policy selects the subjects alone, as far as their labels allow
    selector, loose_subjects = precise_selector(subjects, universe)
    port_text = str(port.port).lower()
    base = f"allow-{_slug(src.name)}-to-{_slug(dst.name)}-{port_text}-{port.protocol.lower()}"
    name = _policy_name(cluster, namespace, f"{base}-{direction}")
    policy = NetworkPolicy(
        namespace,
        name,
        selector,
        (rule,) if direction == "ingress" else (),
        (rule,) if direction == "egress" else (),
        ("Ingress",) if direction == "ingress" else ("Egress",),
    )
    loose = tuple(
        (end, pods)
        for end, pods in ((other.name, peers.loose), (subject_end.name, tuple(loose_subjects)))
        if pods
    )
    found = [dataclasses.replace(c, loose=loose) for c in found]
    change = Change(policy, (AddedRule(direction, rule),))
    found.append(_Candidate(change, len(loose_subjects), loose))
    return found, ""


def _merged(combo: tuple[_Candidate, ...]) -> tuple[_Candidate, ...]:
    """Both directions' rules added to one policy (source and destination in one namespace,
    isolated by the same policy) make one change of that policy."""
    if len(combo) != 2:
        return combo
    egress, ingress = combo
    first, second = egress.change, ingress.change
    if first.original is None or second.original is None:
        return combo
    if first.original.key != second.original.key:
        return combo
    policy = dataclasses.replace(first.policy, ingress=second.policy.ingress)
    change = Change(policy, first.added + second.added, first.original)
    return (_Candidate(change, egress.breadth + ingress.breadth, egress.loose + ingress.loose),)


def _apply(cluster: Cluster, changes: tuple[Change, ...]) -> Cluster:
    policies = list(cluster.policies)
    for ch in changes:
        if ch.original is None:
            policies.append(ch.policy)
        else:
            policies = [
                ch.policy
                if p.namespace == ch.original.namespace and p.name == ch.original.name
                else p
                for p in policies
            ]
    return dataclasses.replace(cluster, policies=tuple(policies))


# ---------------------------------------------------------------- re-analysis


def _class_index(result: Connectivity) -> dict[int, int]:
    return {id(p): c.index for c in result.classes for p in c.pods}


def _atom_map(before: Connectivity, after: Connectivity) -> np.ndarray:
    """For each port atom after the change, the atom before it that contains it (the rules
    after are those before plus one, so the atoms after cut those before)."""
    starts: dict[str, tuple[list[int], list[int]]] = {}
    for i, (proto, lo, _) in enumerate(before.atoms.atoms):
        s = starts.setdefault(proto, ([], []))
        s[0].append(lo)
        s[1].append(i)
    out = np.empty(len(after.atoms.atoms), dtype=np.int64)
    for j, (proto, lo, _) in enumerate(after.atoms.atoms):
        los, ids = starts[proto]
        out[j] = ids[bisect_right(los, lo) - 1]
    return out


def _outside_map(before: Connectivity, after: Connectivity) -> np.ndarray:
    """For each outside range after the change, the range before that contains it; -1 when
    none does (an address family the input did not touch before)."""
    firsts = [r.ranges[0][0] for r in before.outside]
    out = np.full(len(after.outside), -1, dtype=np.int64)
    for j, piece in enumerate(after.outside):
        i = bisect_right(firsts, piece.ranges[0][0]) - 1
        if i >= 0 and piece.is_subset(before.outside[i]):
            out[j] = i
    return out


def _convert(masks: Mask, atom_map: np.ndarray, words: int) -> Mask:
    """Port masks over the atoms before, as masks over the atoms after."""
    if not len(masks):
        return np.zeros((0, words), dtype=np.uint64)
    bits = np.unpackbits(masks.view(np.uint8), axis=1, bitorder="little").astype(bool)
    taken = bits[:, atom_map]
    padded = np.zeros((len(masks), words * 64), dtype=bool)
    padded[:, : taken.shape[1]] = taken
    return np.packbits(padded, axis=1, bitorder="little").view("<u8").astype(np.uint64)


@dataclass(slots=True)
class _Verdict:
    ok: bool
    why: str = ""
    extra: dict[tuple[str, str], ConnectionSet] = field(default_factory=dict)
    pairs: int = 0


def _number(pod: Pod, protocol: Protocol, port: int | str) -> int | None:
    if isinstance(port, int):
        return port
    for cp in pod.ports:
        if cp.name == port and cp.protocol == protocol:
            return cp.port
    return None


def _intended(
    end: _End, dst: _End, protocol: Protocol, port: int | str
) -> list[tuple[Pod | None, Pod | None, int]]:
    """The pod pairs (None for the outside end) the connection means, with the port number
    resolved on the destination; self pairs left out."""
    out: list[tuple[Pod | None, Pod | None, int]] = []
    for s in end.pods or (None,):
        for d in dst.pods or (None,):
            if s is not None and s is d:
                continue
            number = _number(d, protocol, port) if d is not None else port
            if isinstance(number, int):
                out.append((s, d, number))
    return out


def _endpoint(ev: Evaluator, end: _End, pod: Pod | None) -> Endpoint:
    if pod is None:
        assert end.addresses is not None
        return External(end.addresses)
    return ev.pod_info(pod)


def _verify(
    cluster: Cluster,
    changes: tuple[Change, ...],
    before: Connectivity,
    src: _End,
    dst: _End,
    protocol: Protocol,
    port: int | str,
    workloads: bool,
) -> _Verdict:
    """Apply `changes`, analyse again, and compare."""
    changed = _apply(cluster, changes)
    ev = Evaluator(changed, before.evaluator.host_network)
    after = compute_connectivity(changed, ev, host_network=before.evaluator.host_network)
    b_of, a_of = _class_index(before), _class_index(after)
    for pod in cluster.pods:
        bi, ai = b_of.get(id(pod)), a_of.get(id(pod))
        if bi is None or ai is None:
            continue
        if (
            before.isolated_ingress[bi] != after.isolated_ingress[ai]
            or before.isolated_egress[bi] != after.isolated_egress[ai]
        ):
            return _Verdict(False, f"it would change the isolation of {pod.key}")
    for s, d, num in _intended(src, dst, protocol, port):
        allowed = ev.allowed(_endpoint(ev, src, s), _endpoint(ev, dst, d))
        if not allowed.allows(protocol, num):
            return _Verdict(False, "it does not allow every pod of the connection")
    # the rows that can change: sources selected by an egress change, peers of an ingress one
    n_after = len(after.classes)
    rows: set[int] = set()
    compiled = {cp.key: cp for cp in ev.policies}
    for ch in changes:
        cp = compiled[ch.policy.key]
        for added in ch.added:
            rule = cp.rules(added.direction)[-1]  # one rule added per direction, at the end
            for cls in after.classes:
                rep = cls.representative
                if added.direction == "egress" and cp.selects(rep):
                    rows.add(cls.index)
                if added.direction == "ingress" and rule.matching_peers(rep):
                    rows.add(cls.index)
            if added.direction == "ingress":
                for a, piece in enumerate(after.outside):
                    if rule.matching_peers(External(piece)):
                        rows.add(n_after + a)
    n_before = len(before.classes)
    col_map = np.empty(n_after + len(after.outside), dtype=np.int64)
    for cls in after.classes:
        col_map[cls.index] = b_of[id(cls.pods[0])]
    outside_map = _outside_map(before, after)
    col_map[n_after:] = np.where(outside_map >= 0, n_before + outside_map, -1)
    known = col_map >= 0
    atom_map = _atom_map(before, after)
    words = after.atoms.words
    src_ids = {id(p) for p in src.pods}
    dst_ids = {id(p) for p in dst.pods}

    def column(col: int) -> Endpoint:
        if col < n_after:
            return after.classes[col].representative
        return External(after.outside[col - n_after])

    def row_before(r: int) -> Mask:
        """What row `r` (after the change) allowed before it, over the columns after it."""
        out = np.zeros((len(col_map), words), dtype=np.uint64)
        b = int(col_map[r])
        if b >= 0:
            row = before.row(b) if b < n_before else before.outside_row(b - n_before)
            out[known] = _convert(row[col_map[known]], atom_map, words)
        # ranges the input did not cut before: ask the one-pair evaluator
        for col in np.flatnonzero(~known if b >= 0 else np.ones(len(col_map), bool)).tolist():
            out[col] = after.atoms.mask(before.evaluator.allowed(column(r), column(col)))
        return out

    verdict = _Verdict(True)
    for r in sorted(rows):
        if r < n_after:
            row_a = after.row(r)
            sources: list[Pod | IntervalSet] = list(after.classes[r].pods)
        else:
            row_a = after.outside_row(r - n_after)
            sources = [after.outside[r - n_after]]
        new = row_a & ~row_before(r)
        for col in np.flatnonzero(new.any(axis=1)).tolist():
            conns = after.atoms.connections(new[col])
            targets: list[Pod | IntervalSet] = (
                list(after.classes[col].pods) if col < n_after else [after.outside[col - n_after]]
            )
            for x in sources:
                for y in targets:
                    if x is y:
                        continue
                    left = conns
                    if _is_intended(x, src, src_ids) and _is_intended(y, dst, dst_ids):
                        number: int | str | None = (
                            _number(y, protocol, port) if isinstance(y, Pod) else port
                        )
                        if isinstance(number, int):
                            left = conns - ConnectionSet.port(protocol, number)
                    if left.is_empty():
                        continue
                    verdict.pairs += 1
                    key = (endpoint_name(x, workloads), endpoint_name(y, workloads))
                    held = verdict.extra.get(key)
                    verdict.extra[key] = left if held is None else held | left
    return verdict


def _is_intended(endpoint: Pod | IntervalSet, end: _End, ids: set[int]) -> bool:
    if isinstance(endpoint, Pod):
        return id(endpoint) in ids
    return end.addresses is not None and endpoint.is_subset(end.addresses)


# ---------------------------------------------------------------- the suggestion


def suggest(
    cluster: Cluster,
    src: str,
    dst: str,
    protocol: Protocol,
    port: int | str,
    *,
    host_network: HostNetworkMode = "node",
    workloads: bool = False,
    evaluator: Evaluator | None = None,
) -> Suggestion:
    """The smallest verified change that allows `src` -> `dst` on (protocol, port).

    `src`/`dst` are named as for explain (a pod, a workload: all its pods; an address).
    Raises EndpointError for a name of nothing in the input."""
    ev = evaluator or Evaluator(cluster, host_network)
    a, b = _end(cluster, ev, src), _end(cluster, ev, dst)
    shown_port: int | str = int(port) if isinstance(port, str) and port.isdigit() else port
    out = Suggestion(a.name, b.name, protocol, shown_port, "allowed")
    if a.addresses is not None and b.addresses is not None:
        out.reason = "both ends are outside the cluster: no NetworkPolicy governs it"
        return out
    if isinstance(shown_port, str) and not b.pods:
        out.status = "impossible"
        out.reason = f"a named port ({shown_port}) never matches an outside address"
        return out
    if len(a.pods) == 1 and a.pods == b.pods:
        out.reason = "traffic from a pod to itself is always allowed"
        return out
    pairs = _intended(a, b, protocol, shown_port)
    if not pairs:
        out.status = "impossible"
        out.reason = (
            f"{b.name} has no {protocol} container port named {shown_port!r}: "
            "no NetworkPolicy can allow it"
        )
        return out
    missing = [d.key for d in b.pods if _number(d, protocol, shown_port) is None]
    if missing:
        out.notes += (
            f"left out: pods of {b.name} without a {protocol} port named {shown_port!r} "
            f"({', '.join(missing[:3])})",
        )
    denied: set[Direction] = set()
    for s, d, number in pairs:
        se, de = _endpoint(ev, a, s), _endpoint(ev, b, d)
        egress = ev.side("egress", se, de)
        ingress = ev.side("ingress", de, se)
        if not egress.allowed.allows(protocol, number):
            denied.add("egress")
        if not ingress.allowed.allows(protocol, number):
            denied.add("ingress")
    out.denied_by = tuple(d for d in ("egress", "ingress") if d in denied)  # type: ignore[misc]
    if not denied:
        return out
    egress_subjects = [p for p in a.pods if ev.policies_selecting(ev.pod_info(p), "egress")]
    ingress_subjects = [p for p in b.pods if ev.policies_selecting(ev.pod_info(p), "ingress")]
    policy_port = PolicyPort(protocol, shown_port)
    options: dict[Direction, list[_Candidate]] = {}
    for direction, subjects, subject_end, other in (
        ("egress", egress_subjects, a, b),
        ("ingress", ingress_subjects, b, a),
    ):
        if direction not in denied:
            continue
        found, why = _candidates(
            direction, tuple(subjects), subject_end, other, policy_port, cluster, ev, a, b
        )
        if not found:
            out.status = "impossible"
            out.reason = why
            return out
        options[direction] = found  # type: ignore[index]
    combos: list[tuple[_Candidate, ...]] = [()]
    for direction in ("egress", "ingress"):
        if direction in options:
            combos = [(*c, x) for c in combos for x in options[direction]]  # type: ignore[index]
    combos = [_merged(c) for c in combos]

    # Among changes that open nothing else: the rule applying to the fewest other pods, then
    # a rule added to an existing policy (fewer objects). A policy for the subject alone
    # amended beats a new one; a namespace-wide default deny amended does not.
    def order(combo: tuple[_Candidate, ...]) -> tuple[int, int]:
        return (sum(x.breadth for x in combo), sum(x.change.original is None for x in combo))

    combos.sort(key=order)
    before = compute_connectivity(cluster, ev, host_network=host_network)
    best: tuple[tuple[int, int, int], tuple[_Candidate, ...], _Verdict] | None = None
    failures: list[str] = []
    for combo in combos:
        verdict = _verify(
            cluster, tuple(x.change for x in combo), before, a, b, protocol, shown_port, workloads
        )
        if not verdict.ok:
            failures.append(verdict.why)
            continue
        score = (verdict.pairs, *order(combo))
        if best is None or score < best[0]:
            best = (score, combo, verdict)
        if verdict.pairs == 0:
            break
    if best is None:
        out.status = "impossible"
        out.reason = "no candidate change passed re-analysis: " + "; ".join(sorted(set(failures)))
        return out
    _, combo, verdict = best
    out.status = "suggested"
    out.changes = tuple(x.change for x in combo)
    out.extra = tuple(Connection(s, d, conns) for (s, d), conns in sorted(verdict.extra.items()))
    out.extra_pairs = verdict.pairs
    if verdict.extra:
        hints: list[str] = []
        for x in combo:
            for end, pods in x.loose:
                shown = ", ".join(sorted({pod_name(p, workloads) for p in pods})[:5])
                hints.append(
                    f"no selector tells {end} apart from {shown} (same labels): add the label "
                    f"{HINT_KEY}={_slug(end)} to {end} (its pod template) and select on it "
                    "for an exact rule"
                )
        out.hints = tuple(dict.fromkeys(hints))
    return out
