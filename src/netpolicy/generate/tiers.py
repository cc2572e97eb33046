"""`generate --tier admin|baseline`: the generated policies as cluster-wide guardrails
(ClusterNetworkPolicy, `policy.networking.k8s.io/v1alpha2`), allowing exactly what the
NetworkPolicies would.

The mapping (per governed namespace):

- every intent becomes an **Admin-tier `Accept`** rule: one ClusterNetworkPolicy per subject,
  as the NetworkPolicies group them (a destination's ingress, a source's egress, DNS), subject
  `pods` (the namespace by name and the same pod selector), the same peers (`namespaces`,
  `pods`, and `networks` for a CIDR the namespace may reach) and ports (`protocols`). Accept
  is final: no NetworkPolicy of a namespace owner can take an intent away;
- the default deny becomes a ClusterNetworkPolicy `Deny` of ingress from every namespace and
  (unless ingress-only) of egress to every namespace and every network: in the **Baseline**
  tier with `--tier baseline` (the API's "deny unless a NetworkPolicy allows": namespace owners
  may still open more with NetworkPolicies), in the **Admin** tier after every Accept with
  `--tier admin` (nothing else may be opened);
- what no cluster-wide rule can say stays a NetworkPolicy: an ingress peer is only ever
  `namespaces` or `pods`, so ingress from outside addresses is decided by a NetworkPolicy
  ingress default deny per governed namespace and the ingress rules of intents from CIDRs.

Checked before anything is written (located errors, then nothing is generated): a named port
of a ClusterNetworkPolicy matches its name in every protocol, so a name the destination
declares on another protocol too cannot be said; with `--tier admin`, ingress from pods inside
a CIDR cannot either (the Admin Deny takes pods before any NetworkPolicy sees them). The
proof (`generate.proof`) asks the engine, which evaluates the tiers, exactly as without
`--tier`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import yaml

from netpolicy.analysis.exposure import selector_to_contract
from netpolicy.model import (
    NAMESPACE_NAME_LABEL,
    AdminPeer,
    AdminPort,
    AdminRule,
    ClusterPolicy,
    Diagnostic,
    LabelSelector,
    NetworkPolicy,
    Peer,
    PolicyPort,
    Rule,
    Tier,
)
from netpolicy.semantics import selector_matches

if TYPE_CHECKING:
    from netpolicy.generate.intents import Intents
    from netpolicy.generate.policies import GeneratedPolicy, GeneratedRule, Resolved

TIERS: tuple[str, ...] = ("admin", "baseline")
ACCEPT_PRIORITY = 100
"""The first Admin priority of the Accept policies (each the next one up)."""
MAX_PRIORITY = 1000
EVERYWHERE = ("0.0.0.0/0", "::/0")
CLUSTER_KEY = "_cluster-wide"
"""The key of the cluster-scoped YAML in `Generated.yaml` (no namespace can be named so)."""


@dataclass(frozen=True, slots=True)
class GeneratedClusterPolicy:
    """A generated ClusterNetworkPolicy, why it exists, and the namespace it serves."""

    policy: ClusterPolicy
    purpose: str
    namespace: str
    intents: tuple[str, ...] = ()
    """The labels of the intents its rules serve."""


def _by_name(namespace: str) -> LabelSelector:
    return LabelSelector(((NAMESPACE_NAME_LABEL, namespace),))


def _admin_peer(peer: Peer) -> AdminPeer:
    """A generated NetworkPolicy peer (always with a namespace selector) as a cluster-wide one."""
    if peer.ip_block is not None:
        return AdminPeer(networks=(peer.ip_block.cidr,))
    return AdminPeer(namespace_selector=peer.namespace_selector, pod_selector=peer.pod_selector)


def _admin_port(port: PolicyPort) -> AdminPort:
    if isinstance(port.port, str):
        # "NamedPort selects a port on a pod(s) based on name": no protocol
        return AdminPort(None, port.port)
    if port.port is None:
        return AdminPort(port.protocol, 1, 65535)
    end = port.end_port if port.end_port and port.end_port != port.port else None
    return AdminPort(port.protocol, port.port, end)


def _accept(rule: Rule, index: int) -> AdminRule:
    return AdminRule(
        "Accept",
        tuple(_admin_peer(p) for p in rule.peers),
        tuple(_admin_port(p) for p in rule.ports),
        f"intent-{index + 1}",
    )


def _named_conflicts(
    generated: GeneratedPolicy, resolved: dict[Any, Resolved], pods_of: Any
) -> list[str]:
    """The named ports of a policy's rules that some destination pod declares on another
    protocol too (a cluster-wide named port would open both)."""
    found = []
    for g in generated.rules:
        for port in g.rule.ports:
            if not isinstance(port.port, str):
                continue
            for pod in pods_of(generated, g, resolved):
                protocols = {c.protocol for c in pod.ports if c.name == port.port}
                if protocols - {port.protocol}:
                    on = ", ".join(sorted(protocols))
                    found.append(f"{pod.key} declares {port.port!r} on {on}")
    return found


def to_tiers(
    policies: tuple[GeneratedPolicy, ...],
    governed: Iterable[str],
    tier: Literal["admin", "baseline"],
    *,
    ingress_only: bool,
    resolved: dict[Any, Resolved],
    intents: Intents,
) -> tuple[tuple[GeneratedPolicy, ...], tuple[GeneratedClusterPolicy, ...], list[Diagnostic]]:
    """The NetworkPolicies that stay, the ClusterNetworkPolicies, and the problems."""
    from netpolicy.generate.policies import GeneratedPolicy

    kept: list[GeneratedPolicy] = []
    accepts: list[GeneratedClusterPolicy] = []
    denies: list[GeneratedClusterPolicy] = []
    problems: list[Diagnostic] = []
    taken: set[str] = set()

    def name(base: str) -> str:
        base = base[:240].strip("-")
        out, i = base, 2
        while out in taken:
            out, i = f"{base}-{i}", i + 1
        taken.add(out)
        return out

    for ns in governed:
        mine = [g for g in policies if g.policy.namespace == ns]
        for g in mine:
            p = g.policy
            if not g.rules and p.pod_selector.is_empty:
                # the default deny: outside ingress stays a NetworkPolicy, the rest a tier
                kept.append(
                    GeneratedPolicy(
                        NetworkPolicy(ns, p.name, LabelSelector(), (), (), ("Ingress",)),
                        f"default deny of ingress from outside the cluster for every pod of "
                        f"namespace {ns} (no cluster-wide ingress rule can name an outside "
                        "address)",
                    )
                )
                continue
            direction = "ingress" if p.ingress else "egress"
            for conflict in _named_conflicts(g, resolved, _destination_pods):
                problems.append(
                    Diagnostic(
                        "error",
                        f"--tier {tier}: {ns}/{p.name}: a ClusterNetworkPolicy's named port "
                        f"matches its name in every protocol, and {conflict}: give the port "
                        "by number in the intent",
                        intents.source,
                        "intents",
                    )
                )
            pod_rules: list[tuple[Rule, GeneratedRule]] = []
            outside_rules: list[GeneratedRule] = []
            for gr in g.rules:
                pods = tuple(q for q in gr.rule.peers if q.ip_block is None)
                blocks = tuple(q for q in gr.rule.peers if q.ip_block is not None)
                if direction == "egress":
                    pod_rules.append((gr.rule, gr))
                    continue
                if pods:
                    pod_rules.append((dataclasses.replace(gr.rule, peers=pods), gr))
                if blocks:
                    outside_rules.append(
                        dataclasses.replace(gr, rule=dataclasses.replace(gr.rule, peers=blocks))
                    )
                    if tier == "admin":
                        covered = [
                            q.key
                            for i in gr.intents
                            for q in resolved[i.src].pods
                            if not q.host_network
                        ]
                        if covered:
                            problems.append(
                                Diagnostic(
                                    "error",
                                    f"--tier admin: {gr.intents[0].label}: the CIDR holds "
                                    f"pods ({', '.join(sorted(covered)[:3])}): the Admin "
                                    "Deny takes them before a NetworkPolicy could let them "
                                    "in (narrow the CIDR, or use --tier baseline)",
                                    intents.source,
                                    "intents",
                                )
                            )
            if outside_rules:
                kept.append(
                    GeneratedPolicy(
                        dataclasses.replace(p, ingress=tuple(r.rule for r in outside_rules)),
                        f"{g.purpose} (from outside the cluster)",
                        tuple(outside_rules),
                    )
                )
            if not pod_rules:
                continue
            rules = tuple(_accept(rule, i) for i, (rule, _) in enumerate(pod_rules))
            accepts.append(
                GeneratedClusterPolicy(
                    ClusterPolicy(
                        "ClusterNetworkPolicy",
                        name(f"{ns}-{p.name}"),
                        "Admin",
                        0,  # numbered below, in order
                        LabelSelector(),
                        None,
                        rules if direction == "ingress" else (),
                        rules if direction == "egress" else (),
                    ),
                    g.purpose,
                    ns,
                    tuple(i.label for _, gr in pod_rules for i in gr.intents),
                )
            )
            # the subject: the policy's pods in its namespace
            accepts[-1] = dataclasses.replace(
                accepts[-1],
                policy=dataclasses.replace(
                    accepts[-1].policy, namespace_selector=_by_name(ns), pod_selector=p.pod_selector
                ),
            )
        deny_tier: Tier = "Admin" if tier == "admin" else "Baseline"
        everyone = AdminPeer(namespace_selector=LabelSelector())
        denies.append(
            GeneratedClusterPolicy(
                ClusterPolicy(
                    "ClusterNetworkPolicy",
                    name(f"{ns}-default-deny"),
                    deny_tier,
                    0,
                    _by_name(ns),
                    None,
                    (AdminRule("Deny", (everyone,), (), "deny-all-ingress"),),
                    ()
                    if ingress_only
                    else (
                        AdminRule(
                            "Deny",
                            (everyone, AdminPeer(networks=EVERYWHERE)),
                            (),
                            "deny-all-egress",
                        ),
                    ),
                ),
                f"default deny ({'ingress' if ingress_only else 'ingress and egress'}) for "
                f"every pod of namespace {ns}"
                + (
                    " (Baseline: a NetworkPolicy selecting a pod decides instead)"
                    if deny_tier == "Baseline"
                    else " (Admin, after the intents: nothing else may be opened)"
                ),
                ns,
            )
        )
    after = ACCEPT_PRIORITY + len(accepts) if tier == "admin" else 0
    numbered = [_numbered(c, ACCEPT_PRIORITY + i) for i, c in enumerate(accepts)] + [
        _numbered(c, after + i) for i, c in enumerate(denies)
    ]
    if any(g.policy.priority > MAX_PRIORITY for g in numbered):
        problems.append(
            Diagnostic(
                "error",
                f"--tier {tier}: {len(numbered)} ClusterNetworkPolicies do not fit in the "
                f"priorities {ACCEPT_PRIORITY}..{MAX_PRIORITY}",
                intents.source,
                "intents",
            )
        )
    return tuple(kept), tuple(numbered), problems


def _numbered(generated: GeneratedClusterPolicy, priority: int) -> GeneratedClusterPolicy:
    return dataclasses.replace(
        generated, policy=dataclasses.replace(generated.policy, priority=priority)
    )


def _destination_pods(
    generated: GeneratedPolicy, rule: GeneratedRule, resolved: dict[Any, Resolved]
) -> list[Any]:
    """The pods a rule's named ports resolve on: the subject's own (ingress), else the pods
    of its peers' intent destinations (egress)."""
    if rule.direction == "ingress":
        pol = generated.policy
        return [
            q
            for i in rule.intents
            for q in resolved[i.dst].pods
            if q.namespace == pol.namespace and selector_matches(pol.pod_selector, dict(q.labels))
        ]
    return [q for i in rule.intents for q in resolved[i.dst].pods]


# ---------------------------------------------------------------- YAML


def _peer_manifest(peer: AdminPeer) -> dict[str, object]:
    if peer.networks:
        return {"networks": list(peer.networks)}
    assert peer.namespace_selector is not None
    if peer.pod_selector is None:
        return {"namespaces": selector_to_contract(peer.namespace_selector)}
    return {
        "pods": {
            "namespaceSelector": selector_to_contract(peer.namespace_selector),
            "podSelector": selector_to_contract(peer.pod_selector),
        }
    }


def _port_manifest(port: AdminPort) -> dict[str, object]:
    if isinstance(port.port, str):
        return {"destinationNamedPort": port.port}
    number: dict[str, object] = (
        {"range": {"start": port.port, "end": port.end_port}}
        if port.end_port is not None
        else {"number": port.port}
    )
    return {(port.protocol or "TCP").lower(): {"destinationPort": number}}


def _rule_manifest(rule: AdminRule, direction: str) -> dict[str, object]:
    out: dict[str, object] = {"name": rule.name, "action": rule.action}
    out["from" if direction == "ingress" else "to"] = [_peer_manifest(p) for p in rule.peers]
    if rule.ports:
        out["protocols"] = [_port_manifest(p) for p in rule.ports]
    return out


def cluster_policy_manifest(policy: ClusterPolicy) -> dict[str, object]:
    """A ClusterNetworkPolicy (v1alpha2) manifest, keys in the order people write them."""
    subject: dict[str, object] = (
        {"namespaces": selector_to_contract(policy.namespace_selector)}
        if policy.pod_selector is None
        else {
            "pods": {
                "namespaceSelector": selector_to_contract(policy.namespace_selector),
                "podSelector": selector_to_contract(policy.pod_selector),
            }
        }
    )
    spec: dict[str, object] = {"tier": policy.tier, "priority": policy.priority, "subject": subject}
    if policy.ingress:
        spec["ingress"] = [_rule_manifest(r, "ingress") for r in policy.ingress]
    if policy.egress:
        spec["egress"] = [_rule_manifest(r, "egress") for r in policy.egress]
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha2",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": policy.name},
        "spec": spec,
    }


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    def ignore_aliases(self, data: Any) -> bool:
        return True


def cluster_yaml(generated: tuple[GeneratedClusterPolicy, ...], head: list[str]) -> str:
    """Every generated ClusterNetworkPolicy as one YAML stream, a comment above each saying
    what it is for and the intents its rules serve (rule `intent-N` serves the N-th)."""
    docs = []
    for g in generated:
        body = yaml.dump(
            cluster_policy_manifest(g.policy),
            Dumper=_Dumper,
            sort_keys=False,
            default_flow_style=False,
            width=100,
        )
        lines = ["---", f"# {g.purpose}"] + [f"#   serves {label}" for label in g.intents]
        docs.append("\n".join(lines) + "\n" + body)
    return "\n".join(head) + "\n" + "".join(docs)


__all__ = [
    "CLUSTER_KEY",
    "TIERS",
    "GeneratedClusterPolicy",
    "cluster_policy_manifest",
    "cluster_yaml",
    "to_tiers",
]
