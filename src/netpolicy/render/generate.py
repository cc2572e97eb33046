"""`netpolicy generate`: the one-screen summary of what was generated and what the engine proved."""

from __future__ import annotations

from netpolicy.generate.policies import Generated
from netpolicy.generate.proof import Proof

SHOWN = 10
"""Differences and blocked intents listed (the rest counted)."""
SHOWN_INTENTS = 12
"""Intents listed with their pairs (the rest summed): the summary fits one screen."""


def _plural(n: int, word: str) -> str:
    if n == 1:
        return f"{n} {word}"
    many = word[:-1] + "ies" if word.endswith("y") and word[-2] not in "aeiou" else word + "s"
    return f"{n} {many}"


def render_generate_summary(generated: Generated, written: list[str] | None = None) -> str:
    """Intents, policies and rules per namespace, then the proof: pairs compared per check,
    the pairs each intent covers, and any difference (there should be none)."""
    g = generated
    namespaces = sorted(ns for ns in g.yaml if not ns.startswith("_"))  # not _cluster-wide
    lines: list[str] = []
    user = [i for i in g.all_intents if not i.dns]
    mode = "ingress only" if g.ingress_only else "ingress and egress"
    dns = (
        "DNS allowed"
        if g.dns and not g.ingress_only
        else ("DNS left to the open egress" if g.ingress_only else "no DNS")
    )
    lines.append(
        f"Generated {_plural(len(g.policies), 'NetworkPolicy')} ({_plural(g.rule_count, 'rule')}) "
        f"for {_plural(len(user), 'intent')} in {_plural(len(namespaces), 'namespace')} "
        f"({mode}, {dns})"
    )
    width = max((len(ns) for ns in namespaces), default=0)
    for ns in namespaces:
        mine = [p for p in g.policies if p.policy.namespace == ns]
        rules = sum(len(p.rules) for p in mine)
        names = ", ".join(p.policy.name for p in mine)
        counts = f"{_plural(len(mine), 'policy'):<11} {_plural(rules, 'rule'):<9}"
        lines.append(f"  {ns:<{width}}  {counts} {names}")
    if g.cluster_policies:
        tiers = sorted({c.policy.tier for c in g.cluster_policies})
        rules = sum(len(c.policy.ingress) + len(c.policy.egress) for c in g.cluster_policies)
        lines.append(
            f"  and {_plural(len(g.cluster_policies), 'ClusterNetworkPolicy')} "
            f"({_plural(rules, 'rule')}; tiers {', '.join(tiers)}; --tier {g.tier})"
        )
    if written:
        lines += [f"  wrote {w}" for w in written]
    if g.replaced:
        lines.append(
            f"  in place of {_plural(len(g.replaced), 'existing policy')}: "
            + ", ".join(p.key for p in g.replaced[:6])
            + (f" and {len(g.replaced) - 6} more" if len(g.replaced) > 6 else "")
        )
    if g.proof is not None:
        lines += ["", *_proof_lines(g, g.proof)]
    return "\n".join(lines) + "\n"


def _proof_lines(g: Generated, proof: Proof) -> list[str]:
    lines = [
        f"Proof (the engine on the cluster with these policies: {proof.pods} pods and workload "
        f"stand-ins, {proof.governed_pods} in governed namespaces)"
    ]
    for check, count in proof.checks.items():
        bad = sum(1 for m in proof.mismatches if m.check == check)
        what = {
            "ingress half": "every connection into a governed pod",
            "egress half": "every connection out of a governed pod",
            "connections": "between governed pods and outside ranges",
        }[check]
        verdict = "exactly the intents" + (" and DNS" if g.dns and check != "ingress half" else "")
        lines.append(
            f"  {check:<13} {what}: {_plural(count, 'pair')} compared, "
            + (verdict if not bad else f"{bad} DIFFERENT")
        )
    lines.append(f"  allowed pairs: {proof.allowed_pairs}, each exactly as intended")
    width = max((len(i.label) for i in g.all_intents if not i.dns), default=0)
    dns_pairs = 0
    shown = 0
    more: list[int] = []
    for k, intent in enumerate(g.all_intents):
        pairs = proof.intent_pairs.get(k, 0)
        if intent.dns:
            dns_pairs += pairs
            continue
        if shown == SHOWN_INTENTS:
            more.append(pairs)
            continue
        shown += 1
        note = _plural(pairs, "pair") if pairs else "no pair allowed end to end"
        lines.append(f"  {intent.label:<{width}}  {intent.describe()}  ({note})")
    if more:
        none = sum(1 for n in more if not n)
        lines.append(
            f"  ... {_plural(len(more), 'more intent')}: {sum(more)} pairs"
            + (f", {none} of them with no pair allowed end to end" if none else "")
        )
    if g.dns:
        lines.append(
            "  DNS  UDP/TCP 53 to kube-system pods labelled k8s-app=kube-dns ("
            + (_plural(dns_pairs, "pair") if dns_pairs else "none in the cluster")
            + ")"
        )
    for b in proof.blocked[:SHOWN]:
        lines.append(
            f"  blocked: {b.intent.label} {b.src} => {b.dst} : {b.missing.describe()} "
            f"({b.reason}: its own policies do not allow it)"
        )
    if len(proof.blocked) > SHOWN:
        lines.append(f"  ... {len(proof.blocked) - SHOWN} more blocked pairs")
    if proof.ok:
        lines.append(
            "Proved: the generated policies allow exactly the intents"
            + (" plus DNS" if g.dns else "")
            + (" (the ingress half)" if g.ingress_only else "")
            + ", nothing more, nothing less."
        )
    else:
        lines.append(f"PROOF FAILED: {_plural(len(proof.mismatches), 'difference')}")
        for m in proof.mismatches[:SHOWN]:
            lines.append(
                f"  {m.check}: {m.src} => {m.dst} : expected {m.expected.describe()}, "
                f"allowed {m.actual.describe()}"
            )
        if len(proof.mismatches) > SHOWN:
            lines.append(f"  ... {len(proof.mismatches) - SHOWN} more")
    return lines


__all__ = ["render_generate_summary"]
