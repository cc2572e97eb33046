"""The checks. Each is a generator of findings over one `LintContext`.

Every verdict comes from `netpolicy.semantics`: which pods a selector selects (`PodColumns`,
the vectorized matchers), which connections the class engine allows, which rule of which
policy allows an outside address (`Evaluator.side`). Nothing here reads YAML.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Iterator

import numpy as np

from netpolicy.analysis.dns import DNS_LABEL, DNS_NAMESPACE, dns_reach
from netpolicy.analysis.lint.catalog import check
from netpolicy.analysis.lint.context import LintContext, listing, plural
from netpolicy.analysis.lint.findings import Finding, with_severity
from netpolicy.analysis.lint.guardrails import (
    admin_rule_shadowed,
    pass_to_nothing,
    same_priority_overlap,
)
from netpolicy.model import NAMESPACE_NAME_LABEL, LabelSelector, NetworkPolicy, Peer, SourceRef
from netpolicy.semantics import (
    ALL_ADDRESSES,
    CompiledPeer,
    CompiledPolicy,
    CompiledRule,
    ConnectionSet,
    Direction,
    address_value,
    selector_matches,
)
from netpolicy.semantics.compile import namespace_labels

CheckFn = Callable[[LintContext], Iterator[Finding]]

METADATA_ADDRESSES = ("169.254.169.254", "fd00:ec2::254")
"""The cloud metadata service (AWS, GCP, Azure, OpenStack; AWS's IPv6 endpoint)."""

METADATA_PORTS = ConnectionSet.port("TCP", 80) | ConnectionSet.port("TCP", 443)
"""Where metadata services listen (HTTP; 443 for the few that also serve TLS)."""

ALWAYS_THERE = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
"""Namespaces every cluster has, whether or not the input declares them."""

DIRECTIONS: tuple[Direction, ...] = ("ingress", "egress")


def _policy_finding(
    check: str, policy: NetworkPolicy, source: SourceRef, message: str, fix: str = ""
) -> Finding:
    return Finding(check, "warning", policy.key, "NetworkPolicy", source, message, fix)


def _peer_text(peer: Peer) -> str:
    parts = []
    if peer.namespace_selector is not None:
        parts.append(f"namespaceSelector {peer.namespace_selector}")
    if peer.pod_selector is not None:
        parts.append(f"podSelector {peer.pod_selector}")
    if peer.ip_block is not None:
        block = peer.ip_block
        parts.append(
            f"ipBlock {block.cidr}"
            + (f" except {', '.join(block.except_)}" if block.except_ else "")
        )
    return " + ".join(parts) or "every peer"


def _ports_text(rule: CompiledRule) -> str:
    """The ports of a rule as written: `TCP 8080, UDP 53-60, TCP metrics`, or every port."""
    if not rule.ports:
        return "every port"
    parts = []
    for cport in rule.ports:
        p = cport.port
        if p.port is None:
            parts.append(f"every {p.protocol} port")
        elif p.end_port is not None:
            parts.append(f"{p.protocol} {p.port}-{p.end_port}")
        else:
            parts.append(f"{p.protocol} {p.port}")
    return ", ".join(parts)


def _selector_yaml(selector: LabelSelector, indent: str) -> str:
    if selector.is_empty:
        return "{}"
    lines = []
    if selector.match_labels:
        labels = ", ".join(f"{k}: {v}" for k, v in selector.match_labels)
        lines.append(f"{indent}  matchLabels: {{{labels}}}")
    for r in selector.match_expressions:
        values = f", values: [{', '.join(r.values)}]" if r.values else ""
        lines.append(
            f"{indent}  matchExpressions: [{{key: {r.key}, operator: {r.operator}{values}}}]"
        )
    return "\n" + "\n".join(lines)


def _closest_labels(selector: LabelSelector, labels: Collection[tuple[str, str]]) -> list[str]:
    """Labels in use that are close to the ones `selector` asks for (typos): a close value of
    the same key, or the same value under a close key."""
    values: dict[str, set[str]] = {}
    for k, v in labels:
        values.setdefault(k, set()).add(v)
    wanted = list(selector.match_labels)
    wanted += [(r.key, v) for r in selector.match_expressions for v in r.values]
    out: list[str] = []
    for k, v in wanted:
        if v in values.get(k, ()):
            continue
        if k in values:
            close = [f"{k}={m}" for m in difflib.get_close_matches(v, sorted(values[k]), 2, 0.75)]
        else:
            keys = difflib.get_close_matches(k, sorted(values), 2, 0.75)
            close = [f"{key}={v}" for key in keys if v in values[key]]
        out += [c for c in close if c not in out]
    return out


# --- selectors that select nothing -----------------------------------------------------------


def policy_selects_nothing(ctx: LintContext) -> Iterator[Finding]:
    if not ctx.has_pods:
        return
    columns = ctx.columns
    for cp in ctx.evaluator.policies:
        if ctx.selected(cp).any():
            continue
        policy = cp.policy
        ns = policy.namespace
        elsewhere = columns.pod_selector_mask(policy.pod_selector) & ~columns.host_network
        other_ns = sorted(
            {
                ctx.connectivity.classes[int(c)].representative.namespace
                for c in np.flatnonzero(elsewhere)
            }
            - {ns}
        )
        in_ns = [p for p in ctx.cluster.pods if p.namespace == ns]
        if not in_ns:
            what = f"namespace {ns} has no pods or workloads in the input"
        else:
            what = f"no pod or workload of namespace {ns} matches podSelector {policy.pod_selector}"
        message = f"{policy.key} selects nothing: {what}, so the policy has no effect"
        fix = ""
        if other_ns:
            message += (
                f"; its podSelector matches {listing(ctx.class_owners(np.flatnonzero(elsewhere)))}"
                f" in namespace {listing(other_ns)} (written into the wrong namespace?)"
            )
            fix = f"metadata:\n  name: {policy.name}\n  namespace: {other_ns[0]}"
        elif in_ns:
            close = _closest_labels(policy.pod_selector, {kv for p in in_ns for kv in p.labels})
            if close:
                message += f" (labels in use there that are close: {', '.join(close)})"
            fix = (
                "spec:\n  podSelector:" + _selector_yaml(_suggest(policy.pod_selector, close), "  ")
                if close
                else f"Select pods that exist: kubectl get pods -n {ns} --show-labels"
            )
        if any(p.host_network for p in in_ns) and not fix.startswith("metadata"):
            message += " (host-network pods are never selected)"
        yield _policy_finding(
            "policy-selects-nothing", policy, policy.source_of("podSelector"), message, fix
        )


def _suggest(selector: LabelSelector, close: list[str]) -> LabelSelector:
    """`selector` with each matchLabels entry replaced by the close label of the same key."""
    by_key = dict(c.split("=", 1) for c in close)
    labels = tuple((k, by_key.get(k, v)) for k, v in selector.match_labels)
    return LabelSelector(labels, selector.match_expressions)


def peer_selects_nothing(ctx: LintContext) -> Iterator[Finding]:
    if not ctx.has_pods:
        return
    cluster = ctx.cluster
    ns_labels = {ns.name: namespace_labels(ns.name, dict(ns.labels)) for ns in cluster.namespaces}
    for cp in ctx.evaluator.policies:
        for rule in (*cp.ingress, *cp.egress):
            for cpeer in rule.peers:
                peer = cpeer.peer
                if peer is None or peer.ip_block is not None:
                    continue
                if ctx.matched(cpeer).any():
                    continue
                yield from _peer_nothing(ctx, cp, rule, cpeer, peer, ns_labels)


def _may_be_outside_input(ctx: LintContext, selector: LabelSelector) -> bool:
    """Whether a namespace selector that matches none of the input's namespaces may mean one
    the input leaves out: one every cluster has (kube-system for DNS), or one named by
    `kubernetes.io/metadata.name`, or any namespace when the input declares none."""
    if not any(ns.declared for ns in ctx.cluster.namespaces):
        return True
    looked_at = selector.keys()
    if NAMESPACE_NAME_LABEL in looked_at:
        return True
    return any(selector_matches(selector, namespace_labels(name, None)) for name in ALWAYS_THERE)


def _peer_nothing(
    ctx: LintContext,
    cp: CompiledPolicy,
    rule: CompiledRule,
    cpeer: CompiledPeer,
    peer: Peer,
    ns_labels: dict[str, dict[str, str]],
) -> Iterator[Finding]:
    where = f"{rule.id} peer #{cpeer.index + 1}"
    effect = "allows nothing: the traffic it was meant to allow stays denied"
    if peer.namespace_selector is not None:
        namespaces = [
            n
            for n, labels in ns_labels.items()
            if selector_matches(peer.namespace_selector, labels)
        ]
        if not namespaces:
            close = _closest_labels(
                peer.namespace_selector,
                {kv for labels in ns_labels.values() for kv in labels.items()},
            )
            if not close and _may_be_outside_input(ctx, peer.namespace_selector):
                return
            hint = f" (namespace labels in use that are close: {', '.join(close)})" if close else ""
            yield _policy_finding(
                "peer-selects-nothing",
                cp.policy,
                peer.source,
                f"{where}: namespaceSelector {peer.namespace_selector} matches no namespace of "
                f"the input{hint}, so the peer {effect}",
                "Label the namespace (kubectl label namespace NAME KEY=VALUE), or select it by "
                "name:\nnamespaceSelector:\n  matchLabels: {kubernetes.io/metadata.name: NAME}",
            )
            return
    else:
        namespaces = [cp.policy.namespace]
    with_pods = [ns for ns in namespaces if ns in ctx.pods_by_namespace]
    if not with_pods or peer.pod_selector is None:
        # the namespaces exist but the input holds none of their pods: nothing to judge by
        return
    close = _closest_labels(peer.pod_selector, ctx.labels_in(with_pods))
    partial = len(with_pods) != len(namespaces) or (
        peer.namespace_selector is not None and peer.namespace_selector.is_empty
    )
    if partial and not close:
        # some namespaces it selects (for `{}`, also those not in the input) have no pods in
        # the input: the pods it means may simply not be given; only a near-miss label is a typo
        return
    hint = f" (labels in use there that are close: {', '.join(close)})" if close else ""
    scope = f"namespace {listing(namespaces)}"
    fix = (
        "podSelector:" + _selector_yaml(_suggest(peer.pod_selector, close), "")
        if close
        else f"Check the labels: kubectl get pods -n {namespaces[0]} --show-labels"
    )
    yield _policy_finding(
        "peer-selects-nothing",
        cp.policy,
        peer.source,
        f"{where}: podSelector {peer.pod_selector} matches no pod of {scope}{hint}, so the "
        f"peer {effect}",
        fix,
    )


# --- broad peers and rules that cancel isolation ----------------------------------------------


def _allows_all(rule: CompiledRule) -> bool:
    return not rule.ports and all(p.peer is None for p in rule.peers)


def broad_peer(ctx: LintContext) -> Iterator[Finding]:
    # ingress only: an egress rule to everywhere is a common, deliberate choice, and its one
    # dangerous destination has its own check (cloud-metadata-reachable)
    for cp in ctx.evaluator.policies:
        selected = ctx.selected(cp)
        if not selected.any():
            continue
        for rule in cp.ingress:
            for cpeer in rule.peers:
                peer = cpeer.peer
                if peer is None:
                    continue
                every_pod = (
                    peer.namespace_selector is not None
                    and peer.namespace_selector.is_empty
                    and (peer.pod_selector is None or peer.pod_selector.is_empty)
                )
                every_address = (
                    peer.ip_block is not None
                    and peer.ip_block.cidr in ("0.0.0.0/0", "::/0")
                    and not peer.ip_block.except_
                )
                if not (every_pod or every_address):
                    continue
                what = (
                    "every pod of every namespace (also namespaces created later)"
                    if every_pod
                    else f"every {'IPv4' if ':' not in peer.ip_block.cidr else 'IPv6'} address"  # type: ignore[union-attr]
                )
                ports = _ports_text(rule)
                towards = "into"
                subjects = listing(ctx.class_owners(np.flatnonzero(selected)))
                yield Finding(
                    "broad-peer",
                    "info",
                    cp.key,
                    "NetworkPolicy",
                    peer.source,
                    f"{rule.id} peer #{cpeer.index + 1} admits {what} {towards} {subjects} "
                    f"({ports}), which is otherwise isolated for {rule.direction}",
                    "Narrow the peer to the namespaces or pods that need it, e.g.:\n"
                    "- namespaceSelector:\n    matchLabels: {team: NAME}\n"
                    "  podSelector:\n    matchLabels: {app: NAME}"
                    if every_pod
                    else "Narrow the ipBlock to the ranges that need it.",
                )


def isolation_defeated(ctx: LintContext) -> Iterator[Finding]:
    policies = ctx.evaluator.policies
    for cp in policies:
        for direction in DIRECTIONS:
            for rule in cp.rules(direction):
                if not _allows_all(rule):
                    continue
                selected = ctx.selected(cp)
                others = [
                    other
                    for other in policies
                    if other is not cp
                    and other.policy.namespace == cp.policy.namespace
                    and other.isolates(direction)
                    and not any(_allows_all(r) for r in other.rules(direction))
                    and (ctx.selected(other) & selected).any()
                ]
                if not others:
                    continue
                both = np.zeros_like(selected)
                for other in others:
                    both |= ctx.selected(other)
                both &= selected
                pods = listing(ctx.class_owners(np.flatnonzero(both)))
                peers = "from" if direction == "ingress" else "to"
                yield _policy_finding(
                    "isolation-defeated",
                    cp.policy,
                    rule.source,
                    f"{rule.id} allows every {direction} connection (no {peers}, no ports): "
                    f"{pods}, isolated for {direction} by {listing([o.key for o in others])}, "
                    + (
                        "accept connections from everywhere"
                        if direction == "ingress"
                        else "may open connections to everywhere"
                    )
                    + " on every port, which cancels that isolation",
                    f"Remove the rule, or narrow it:\n{direction}:\n  - {peers}:\n"
                    "      - podSelector:\n          matchLabels: {app: NAME}\n"
                    "    ports:\n      - {port: 8080, protocol: TCP}",
                )


def and_or_confusion(ctx: LintContext) -> Iterator[Finding]:
    sizes = ctx.sizes
    for cp in ctx.evaluator.policies:
        for rule in (*cp.ingress, *cp.egress):
            ns_only = [
                p
                for p in rule.peers
                if p.peer is not None
                and p.peer.namespace_selector is not None
                and p.peer.pod_selector is None
            ]
            pod_only = [
                p
                for p in rule.peers
                if p.peer is not None
                and p.peer.pod_selector is not None
                and p.peer.namespace_selector is None
                and p.peer.ip_block is None
            ]
            for a in ns_only:
                for b in pod_only:
                    yield from _and_or(ctx, cp, rule, a, b, sizes)


def _and_or(
    ctx: LintContext,
    cp: CompiledPolicy,
    rule: CompiledRule,
    a: CompiledPeer,
    b: CompiledPeer,
    sizes: np.ndarray,
) -> Iterator[Finding]:
    assert a.peer is not None and b.peer is not None
    ns_sel, pod_sel = a.peer.namespace_selector, b.peer.pod_selector
    assert ns_sel is not None and pod_sel is not None
    columns = ctx.columns
    either = ctx.matched(a) | ctx.matched(b)
    both = (
        columns.namespace_selector_mask(ns_sel)
        & columns.pod_selector_mask(pod_sel)
        & ~columns.host_network
    )
    if ctx.has_pods and np.array_equal(either, both):
        return
    n_a, n_b = int(sizes[ctx.matched(a)].sum()), int(sizes[ctx.matched(b)].sum())
    n_or, n_and = int(sizes[either].sum()), int(sizes[both].sum())
    key = "from" if rule.direction == "ingress" else "to"
    first = min((a, b), key=lambda p: p.index)
    yield Finding(
        "and-or-confusion",
        "warning",
        cp.key,
        "NetworkPolicy",
        first.peer.source if first.peer is not None else rule.source,
        f"{rule.id}: peers #{a.index + 1} (namespaceSelector {ns_sel}) and #{b.index + 1} "
        f"(podSelector {pod_sel}) are two peers, OR-ed. As written the rule admits every pod "
        f"of the namespaces matching {ns_sel} ({plural(n_a, 'pod')}) or the pods {pod_sel} "
        f"of namespace {cp.policy.namespace} ({plural(n_b, 'pod')}): {plural(n_or, 'pod')} in "
        f"all. If one peer was meant (AND) it admits only the pods {pod_sel} in namespaces "
        f"matching {ns_sel}: {plural(n_and, 'pod')}",
        f"For AND, write one peer (no `-` before podSelector):\n{key}:\n  - namespaceSelector:"
        + _selector_yaml(ns_sel, "    ")
        + "\n    podSelector:"
        + _selector_yaml(pod_sel, "    "),
    )


# --- namespaces and pods left open -------------------------------------------------------------


def namespace_without_policies(ctx: LintContext) -> Iterator[Finding]:
    with_policies = set(ctx.policies_by_namespace)
    for ns in ctx.cluster.namespaces:
        if ns.name in with_policies or ns.name not in ctx.namespaces_with_pods:
            continue
        pods = [p for p in ctx.cluster.pods if p.namespace == ns.name]
        owners = sorted({ctx.owner_of(p)[0] for p in pods})
        source = ns.source if ns.declared else pods[0].source
        # cluster-wide guardrails may still decide some of these pods' traffic
        guarding = sorted(
            {
                cp.key
                for cls in ctx.connectivity.classes
                if cls.representative.namespace == ns.name
                for cp in ctx.evaluator.tiers.all
                if cp.selects(cls.representative)
            }
        )
        effect = (
            f"{'accepts' if len(owners) == 1 else 'accept'} connections from every pod and "
            "address and may connect anywhere"
            if not guarding
            else f"{'is' if len(owners) == 1 else 'are'} governed only by the cluster-wide "
            f"policies {listing(guarding)}: whatever they pass or leave to the namespace is "
            "open"
        )
        yield Finding(
            "namespace-without-policies",
            "info",
            ns.name,
            "Namespace",
            source,
            f"namespace {ns.name} has no NetworkPolicy: {listing(owners)} {effect}",
            "Start with an ingress default deny, then allow what the workloads need:\n"
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n"
            f"  name: default-deny-ingress\n  namespace: {ns.name}\nspec:\n  podSelector: {{}}\n"
            "  policyTypes: [Ingress]",
        )


def pods_not_isolated(ctx: LintContext) -> Iterator[Finding]:
    result = ctx.connectivity
    by_ns: dict[str, tuple[list[int], list[int]]] = {}
    for cls in result.classes:
        if cls.representative.host_network:
            continue
        isolated, open_ = by_ns.setdefault(cls.representative.namespace, ([], []))
        (isolated if result.isolated_ingress[cls.index] else open_).append(cls.index)
    for ns, (isolated, open_) in sorted(by_ns.items()):
        if not isolated or not open_:
            continue
        isolated_names = set(ctx.class_owners(isolated))
        seen: set[str] = set()
        for c in open_:
            for pod in result.classes[c].pods:
                name, kind, source = ctx.owner_of(pod)
                if name in seen or name in isolated_names:
                    continue
                seen.add(name)
                yield Finding(
                    "pods-not-isolated",
                    "info",
                    name,
                    kind,
                    source,
                    f"{name} is not isolated for ingress (no policy selects it) while "
                    f"{listing(sorted(isolated_names))} in namespace {ns} are: it accepts "
                    "connections from every pod and address",
                    "Cover the whole namespace with a default deny:\n"
                    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n"
                    f"  name: default-deny-ingress\n  namespace: {ns}\nspec:\n"
                    "  podSelector: {}\n  policyTypes: [Ingress]",
                )


# --- ports ---------------------------------------------------------------------------------------


def named_port_unmatched(ctx: LintContext) -> Iterator[Finding]:
    if not ctx.has_pods:
        return
    classes = ctx.connectivity.classes
    for cp in ctx.evaluator.policies:
        for rule in (*cp.ingress, *cp.egress):
            named = [p for p in rule.ports if p.is_named]
            if not named:
                continue
            if rule.direction == "egress" and all(p.is_ip_block for p in rule.peers):
                continue  # named-port-to-ipblock
            if rule.direction == "ingress":
                dests = ctx.selected(cp)
            else:
                dests = np.zeros(len(classes), dtype=bool)
                for peer in rule.peers:
                    dests |= ctx.matched(peer)
            targets = [classes[int(c)].representative for c in np.flatnonzero(dests)]
            if not targets:
                continue
            for port in named:
                name, proto = str(port.port.port), port.port.protocol
                if any(
                    cport.name == name and cport.protocol == proto
                    for t in targets
                    for cport in t.ports
                ):
                    continue
                other_proto = sorted(
                    {cport.protocol for t in targets for cport in t.ports if cport.name == name}
                )
                declared = sorted({cport.name for t in targets for cport in t.ports if cport.name})
                hint = ""
                if other_proto:
                    hint = f" (it is declared for {'/'.join(other_proto)}, not {proto})"
                elif declared:
                    hint = f" (declared names: {listing(declared, 5)})"
                who = "the pods it selects" if rule.direction == "ingress" else "the peer pods"
                yield _policy_finding(
                    "named-port-unmatched",
                    cp.policy,
                    port.port.source,
                    f"{rule.id}: named port {name!r} ({proto}) is declared by none of {who} "
                    f"({listing(ctx.class_owners(np.flatnonzero(dests)))}){hint}, so the entry "
                    "matches no port and that traffic stays denied",
                    "Use a port name a container declares, or the number:\nports:\n"
                    f"  - {{port: 8080, protocol: {proto}}}",
                )


def named_port_to_ipblock(ctx: LintContext) -> Iterator[Finding]:
    for cp in ctx.evaluator.policies:
        for rule in cp.egress:
            if not rule.peers or not all(p.is_ip_block for p in rule.peers):
                continue
            for port in rule.ports:
                if not port.is_named:
                    continue
                yield Finding(
                    "named-port-to-ipblock",
                    "error",
                    cp.key,
                    "NetworkPolicy",
                    port.port.source,
                    f"{rule.id}: named port {port.port.port!r} towards ipBlock peers only: a "
                    "port name resolves on a pod's container ports, never on an outside "
                    "address, so this entry can never match",
                    "Use the port number:\nports:\n"
                    f"  - {{port: 443, protocol: {port.port.protocol}}}",
                )


# --- policyTypes ---------------------------------------------------------------------------------


def policytypes_denies_all(ctx: LintContext) -> Iterator[Finding]:
    for cp in ctx.evaluator.policies:
        policy = cp.policy
        if not policy.ingress and not policy.egress:
            continue  # the deliberate default deny
        selected = ctx.selected(cp)
        if not selected.any():
            continue
        written_keys = {name for name, _ in policy.spec_sources}
        for direction in DIRECTIONS:
            if not cp.isolates(direction) or cp.rules(direction) or direction in written_keys:
                continue  # `egress: []` written out is a deliberate deny
            cut = ctx.isolated_only_by(cp, direction)
            if not cut.any():
                continue
            written = any(name == "policyTypes" for name, _ in policy.spec_sources)
            why = (
                f"policyTypes lists {direction.capitalize()}"
                if written
                else "policyTypes is not written, so it defaults to Ingress (always) plus "
                "Egress when there are egress rules"
            )
            verb = "accept no connection" if direction == "ingress" else "can open no connection"
            types = "[Ingress, Egress]" if direction == "egress" else "[Egress]"
            yield _policy_finding(
                "policytypes-denies-all",
                policy,
                policy.source_of("policyTypes") if written else policy.source,
                f"{policy.key} has no {direction} rules but {why}: "
                f"{listing(ctx.class_owners(np.flatnonzero(cut)))}, which no other policy "
                f"isolates for {direction}, now {verb}",
                (
                    f"If {direction} should stay open, list only the other direction:\n"
                    f"  policyTypes: [{'Egress' if direction == 'ingress' else 'Ingress'}]\n"
                    f"otherwise add the {direction} rules the pods need"
                    if written or direction == "egress"
                    else "Keep ingress open by writing the types explicitly:\n"
                    f"  policyTypes: {types}"
                ),
            )


def rules_ignored(ctx: LintContext) -> Iterator[Finding]:
    for policy in ctx.cluster.policies:
        for direction, rules, applies in (
            ("ingress", policy.ingress, policy.affects_ingress),
            ("egress", policy.egress, policy.affects_egress),
        ):
            if not rules or applies:
                continue
            kind = direction.capitalize()
            yield Finding(
                "rules-ignored",
                "error",
                policy.key,
                "NetworkPolicy",
                policy.source_of(direction),
                f"{policy.key} has {plural(len(rules), direction + ' rule')} but policyTypes "
                f"({', '.join(policy.policy_types) or 'empty'}) lacks {kind}: the rules are "
                "ignored",
                f"Add {kind} to policyTypes:\n  policyTypes: "
                f"[{', '.join(sorted({*policy.policy_types, kind}))}]",
            )


# --- the input itself --------------------------------------------------------------------------


def duplicate_object(ctx: LintContext) -> Iterator[Finding]:
    for dup in ctx.cluster.duplicates:
        yield Finding(
            "duplicate-object",
            "error",
            dup.key,
            dup.kind,
            dup.later,
            f"{dup.kind} {dup.key} is defined twice ({dup.first} and {dup.later}): in a cluster "
            f"the later one applied replaces the earlier, so the definition at {dup.first} has "
            "no effect",
            "Rename one of them, or merge them into one object",
        )


def namespace_missing(ctx: LintContext) -> Iterator[Finding]:
    declared = [ns.name for ns in ctx.cluster.namespaces if ns.declared]
    missing = {
        ns.name for ns in ctx.cluster.namespaces if not ns.declared and ns.name not in ALWAYS_THERE
    }
    if not declared or not missing:
        return
    objects: list[tuple[str, str, str, SourceRef]] = [
        (p.namespace, p.key, "NetworkPolicy", p.source) for p in ctx.cluster.policies
    ]
    objects += [
        (w.namespace, f"{w.namespace}/{w.name}", w.kind, w.source) for w in ctx.cluster.workloads
    ]
    objects += [
        (p.namespace, p.key, "Pod", p.source) for p in ctx.cluster.pods if not p.from_template
    ]
    for ns, name, kind, source in objects:
        if ns not in missing:
            continue
        close = difflib.get_close_matches(ns, declared, n=1, cutoff=0.7)
        hint = f" (did you mean {close[0]}?)" if close else ""
        yield Finding(
            "namespace-missing",
            "warning",
            name,
            kind,
            source,
            f"{kind} {name} is in namespace {ns}, which the input does not declare while it "
            f"declares {listing(sorted(declared))}{hint}: its labels are unknown, so "
            "namespaceSelectors other than kubernetes.io/metadata.name cannot match it",
            f"Fix metadata.namespace{f' ({close[0]})' if close else ''}, or add the namespace:\n"
            f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}",
        )


# --- what the engine decides -------------------------------------------------------------------


def dns_egress_blocked(ctx: LintContext) -> Iterator[Finding]:
    result = ctx.connectivity
    reach = dns_reach(result)
    grouped: dict[tuple[str, tuple[str, ...]], list[int]] = {}
    targets: tuple[str, ...] = ()
    for c, r in reach.items():
        if r.ok:
            continue
        targets = r.targets
        policies = ctx.evaluator.policies_selecting(result.classes[c].representative, "egress")
        grouped.setdefault((policies[0].key, r.blocked), []).append(c)
    by_key = {cp.key: cp for cp in ctx.evaluator.policies}
    for (policy_key, blocked), classes in sorted(grouped.items()):
        cp = by_key[policy_key]
        isolating = sorted(
            {
                p.key
                for c in classes
                for p in ctx.evaluator.policies_selecting(
                    result.classes[c].representative, "egress"
                )
            }
        )
        denied = " and ".join(f"{p} 53" for p in blocked)
        to = (
            f"to {listing(list(targets))}"
            if targets
            else "to the cluster DNS (the input holds no kube-dns pods; any pod or address counts)"
        )
        pods = ctx.class_owners(classes)
        verb = "is" if len(pods) == 1 else "are"
        effect = (
            "cannot resolve names"
            if "UDP" in blocked
            else "cannot resolve names whose answers need TCP (large or truncated responses)"
        )
        dns_peer = (
            "    - namespaceSelector:\n        matchLabels: {kubernetes.io/metadata.name: "
            f"{DNS_NAMESPACE}}}\n      podSelector:\n        matchLabels: "
            f"{{{DNS_LABEL[0]}: {DNS_LABEL[1]}}}\n"
        )
        yield _policy_finding(
            "dns-egress-blocked",
            cp.policy,
            cp.policy.source,
            f"{listing(pods)} {verb} isolated for egress by {listing(isolating)} and {effect}: "
            f"{denied} {to} {'is' if len(blocked) == 1 else 'are'} denied",
            "Allow DNS in an egress rule of a policy selecting these pods:\negress:\n"
            f"  - to:\n{dns_peer}    ports:\n      - {{port: 53, protocol: UDP}}\n"
            "      - {port: 53, protocol: TCP}",
        )


def ipblock_covers_pods(ctx: LintContext) -> Iterator[Finding]:
    if not any(p.ip for p in ctx.cluster.pods):
        return
    columns = ctx.columns
    # the pods' names in sorted order, and each class's first three of them (by rank): a
    # finding names the first three pods it covers and counts the rest, so no peer that
    # covers much of the cluster costs more than its classes
    classes = ctx.connectivity.classes
    names = sorted(f"{p.key} ({p.ip})" for c in classes for p in c.pods)
    rank = {name: i for i, name in enumerate(names)}
    first = np.full((len(classes), 3), len(names), dtype=np.int64)
    for c in classes:
        ranks = sorted(rank[f"{p.key} ({p.ip})"] for p in c.pods)[:3]
        first[c.index, : len(ranks)] = ranks
    for cp in ctx.evaluator.policies:
        for rule in (*cp.ingress, *cp.egress):
            for cpeer in rule.peers:
                if not cpeer.is_ip_block or cpeer.peer is None:
                    continue
                covered = columns.address_mask(cpeer.addresses) & ~columns.host_network
                if not covered.any():
                    continue
                count = int(ctx.sizes[covered].sum())
                shown = np.sort(first[covered].ravel())[:3]
                listed = [names[i] for i in shown.tolist() if i < len(names)]
                if count > len(listed):
                    listed.append(f"and {count - len(listed)} more")
                    shown_text = ", ".join(listed[:-1]) + " " + listed[-1]
                else:
                    shown_text = ", ".join(listed)
                yield _policy_finding(
                    "ipblock-covers-pods",
                    cp.policy,
                    cpeer.peer.source,
                    f"{rule.id} peer #{cpeer.index + 1}: {_peer_text(cpeer.peer)} contains the "
                    f"IPs of {plural(count, 'pod')} ({shown_text}); whether an ipBlock "
                    "matches pod traffic differs between network plugins",
                    "Select those pods with a podSelector/namespaceSelector peer, and keep their "
                    "range out of the ipBlock:\nipBlock:\n"
                    f"  cidr: {cpeer.peer.ip_block.cidr}\n  except: [POD_CIDR]",  # type: ignore[union-attr]
                )


def cloud_metadata_reachable(ctx: LintContext) -> Iterator[Finding]:
    result = ctx.connectivity
    table = result.rule_tables["egress"]
    for r, rule in enumerate(table.compiled):
        subjects = table.selects[r]
        if not len(subjects) or not table.static[r].any():
            continue  # selects nothing, or only named ports (never an outside address)
        if not rule.static_connections() & METADATA_PORTS:
            continue  # e.g. DNS to anywhere: nothing listens there on those ports
        reached = [
            address
            for address in METADATA_ADDRESSES
            if address_value(address) in rule.peer_addresses()
        ]
        if not reached:
            continue
        peer = rule.peers[0].peer
        source = rule.source
        for cpeer in rule.peers:
            if any(address_value(a) in cpeer.matched_addresses(ALL_ADDRESSES) for a in reached):
                source = cpeer.peer.source if cpeer.peer is not None else rule.source
                peer = cpeer.peer
                break
        cidr = peer.ip_block.cidr if peer is not None and peer.ip_block is not None else "0.0.0.0/0"
        ports = _ports_text(rule)
        yield _policy_finding(
            "cloud-metadata-reachable",
            rule.policy,
            source,
            f"{rule.id} lets {listing(ctx.class_owners(subjects))}, otherwise isolated for "
            f"egress, reach the cloud metadata service {listing(reached)} ({ports}): it hands "
            "out the node's credentials",
            f"Except the metadata address:\nipBlock:\n  cidr: {cidr}\n"
            "  except: [169.254.169.254/32]",
        )


def redundant(ctx: LintContext) -> Iterator[Finding]:
    from netpolicy.analysis.lint.redundant import redundant_findings

    yield from redundant_findings(ctx)


CHECK_FUNCTIONS: dict[str, CheckFn] = {
    "dns-egress-blocked": dns_egress_blocked,
    "policy-selects-nothing": policy_selects_nothing,
    "peer-selects-nothing": peer_selects_nothing,
    "broad-peer": broad_peer,
    "isolation-defeated": isolation_defeated,
    "and-or-confusion": and_or_confusion,
    "namespace-without-policies": namespace_without_policies,
    "pods-not-isolated": pods_not_isolated,
    "named-port-unmatched": named_port_unmatched,
    "named-port-to-ipblock": named_port_to_ipblock,
    "policytypes-denies-all": policytypes_denies_all,
    "rules-ignored": rules_ignored,
    "duplicate-object": duplicate_object,
    "namespace-missing": namespace_missing,
    "redundant": redundant,
    "admin-rule-shadowed": admin_rule_shadowed,
    "pass-to-nothing": pass_to_nothing,
    "same-priority-overlap": same_priority_overlap,
    "ipblock-covers-pods": ipblock_covers_pods,
    "cloud-metadata-reachable": cloud_metadata_reachable,
}


def run_checks(ctx: LintContext, enabled: Collection[str]) -> Iterator[Finding]:
    """The findings of every enabled check, at the check's default severity."""
    for check_id, fn in CHECK_FUNCTIONS.items():
        if check_id in enabled:
            severity = check(check_id).severity
            for finding in fn(ctx):
                yield finding if finding.severity == severity else with_severity(finding, severity)
