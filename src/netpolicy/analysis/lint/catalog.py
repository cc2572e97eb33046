"""Every lint check: stable ID, default severity, and the paragraph `lint --list` prints.

Severities: `error` for configurations that cannot do what was written (rules that are
ignored, ports that can never match, an object given twice); `warning` for what breaks traffic
or opens it against the evident intent; `info` for steps of gradual adoption and for tidying
(ingress-only isolation, namespaces not yet covered, redundant rules, broad but deliberate
peers). A correct configuration (default deny, DNS allowed, narrow allows) has no warning and
no error.
"""

from __future__ import annotations

from netpolicy.analysis.lint.findings import Check

CHECKS: tuple[Check, ...] = (
    Check(
        "dns-egress-blocked",
        "warning",
        "a pod isolated for egress cannot reach DNS",
        "Once a policy with Egress in its policyTypes selects a pod, every connection the pod "
        "opens must be allowed by an egress rule, name lookups included. A pod that cannot reach "
        "UDP 53 and TCP 53 on the cluster DNS pods (kube-system pods labelled k8s-app: kube-dns; "
        "any address when the input has none) cannot resolve service names, so almost every "
        "connection it makes fails. Allow both protocols to the DNS pods, and make sure their "
        "ingress admits the pod.",
    ),
    Check(
        "policy-selects-nothing",
        "warning",
        "a policy's podSelector matches no pod or workload of its namespace",
        "A NetworkPolicy applies only to pods of its own namespace that its podSelector selects. "
        "When none of the input's pods or workloads in that namespace match, the policy does "
        "nothing: usually a label typo, or the policy was written into the wrong namespace (the "
        "finding names the namespace whose pods it would select). Not reported when the input "
        "holds no pods or workloads at all.",
    ),
    Check(
        "peer-selects-nothing",
        "warning",
        "a from/to peer matches no pod or namespace of the input",
        "A peer with a podSelector and/or namespaceSelector that matches nothing in the input "
        "allows nothing: the traffic it was meant to allow stays denied. It is usually a label "
        "typo (the finding suggests close labels that do exist) or a namespace without the "
        "expected labels; namespaces only carry kubernetes.io/metadata.name automatically. "
        "Where the input may simply leave the meant pods out (namespaces it selects have no "
        "pods in the input, `namespaceSelector: {}`, a namespace selected by name, or one every "
        "cluster has such as kube-system) it is reported only for a near-miss label.",
    ),
    Check(
        "broad-peer",
        "info",
        "an ingress peer admits every pod of the cluster or every address",
        "A peer `namespaceSelector: {}` (alone or with `podSelector: {}`) admits every pod of "
        "every namespace, including namespaces created later; an ipBlock 0.0.0.0/0 or ::/0 "
        "without except admits every address. Into a pod that is otherwise isolated for "
        "ingress this is often broader than meant (e.g. a database open to every tenant). "
        "Deliberate cases (DNS servers, a public frontend) are common, hence info. Egress to "
        "everywhere is not reported; its dangerous part is cloud-metadata-reachable.",
    ),
    Check(
        "isolation-defeated",
        "warning",
        "an allow-everything rule cancels another policy's isolation",
        "Policies are additive: a rule with no peers and no ports allows every connection in its "
        "direction, so a policy holding one cancels the isolation that other policies give the "
        "same pods. Remove the rule, or narrow it with peers or ports.",
    ),
    Check(
        "and-or-confusion",
        "warning",
        "`- namespaceSelector` and `- podSelector` as two peers where one AND-ed peer was meant",
        "In a from/to list each `-` starts a peer and peers are OR-ed: `- namespaceSelector: X` "
        "followed by `- podSelector: Y` admits every pod of the namespaces X plus the pods Y of "
        "the policy's own namespace. Written as one peer (no `-` before podSelector) it admits "
        "only the pods Y in the namespaces X. The finding spells out both readings with what "
        "each admits in the input.",
    ),
    Check(
        "namespace-without-policies",
        "info",
        "a namespace with pods or workloads and no NetworkPolicy",
        "Without any NetworkPolicy every pod of the namespace accepts connections from "
        "everywhere and may connect anywhere; namespaces do not isolate by themselves. The "
        "first step is an ingress default deny plus the allows the workloads need.",
    ),
    Check(
        "pods-not-isolated",
        "info",
        "pods left open in a namespace where others are isolated for ingress",
        "When some pods of a namespace are isolated for ingress, the others are often believed "
        "protected too, but a pod is isolated only if a policy selects it. A namespace-wide "
        "default deny (`podSelector: {}`) covers them all, including pods created later.",
    ),
    Check(
        "named-port-unmatched",
        "warning",
        "a named port that no destination pod declares",
        "A named port is resolved on each destination pod's container ports with the same "
        "protocol (for ingress the selected pods, for egress the peer pods). When none of them "
        "declares that name with that protocol the port entry matches nothing, and the traffic "
        "stays denied.",
    ),
    Check(
        "named-port-to-ipblock",
        "error",
        "a named port in an egress rule whose peers are only ipBlocks",
        "A named port can only be resolved on a pod's container ports, never on an outside "
        "address, so an egress rule whose peers are all ipBlocks can never match on a named "
        "port. Use the port number.",
    ),
    Check(
        "policytypes-denies-all",
        "warning",
        "a direction in policyTypes without rules cuts all that traffic",
        "Listing Ingress or Egress in policyTypes isolates the selected pods in that direction; "
        "with no rules for it, all that traffic is denied. When the policy also has rules for the "
        "other direction, this is usually a copied policyTypes list rather than an intended deny. "
        "Also reported: an egress-only policy without policyTypes, which isolates for ingress "
        "too (the default always includes Ingress). Not reported: the deliberate default deny "
        "(no rules at all), a direction written out as an empty list (`egress: []`), and pods "
        "that other policies isolate in that direction anyway.",
    ),
    Check(
        "rules-ignored",
        "error",
        "rules under a policyTypes that lacks their direction do nothing",
        "When policyTypes is written, only the listed directions take effect: ingress rules "
        "under `policyTypes: [Egress]` (or egress rules without Egress) are ignored by every "
        "network plugin. Add the direction to policyTypes or delete the rules.",
    ),
    Check(
        "duplicate-object",
        "error",
        "the same kind/namespace/name twice in the input",
        "Two objects with one kind, namespace and name are one object in a cluster: the later "
        "one applied replaces the earlier, so the earlier definition silently has no effect. "
        "Rename one or merge them.",
    ),
    Check(
        "namespace-missing",
        "warning",
        "a policy or pod in a namespace the input does not declare",
        "When the input declares namespaces but not the one an object lives in, the namespace's "
        "labels are unknown and namespaceSelectors cannot match it except by "
        "kubernetes.io/metadata.name; often a typo in metadata.namespace. The namespaces every "
        "cluster has (default, kube-system, kube-public, kube-node-lease) are not reported.",
    ),
    Check(
        "redundant",
        "info",
        "a rule or policy whose removal changes no allowed connection",
        "Decided on the input's pods: every connection the rule (or the whole policy) allows is "
        "also allowed by other rules, or is denied anyway by the other side. Redundant rules are "
        "harmless but make policies harder to review. Whole policies are judged first, then "
        "rules, each from the last to the first, so that of two identical rules only the later "
        "is reported and everything reported can be removed together. Policies without rules "
        "(default deny) and rules that match nothing (other checks report those) are never "
        "reported.",
    ),
    Check(
        "admin-rule-shadowed",
        "warning",
        "a cluster-wide rule that rules of higher precedence always decide first",
        "In the Admin and Baseline tiers the first matching rule decides each port: rules in "
        "written order, policies by ascending priority. A rule whose every subject pod, peer "
        "and port is matched first by earlier rules of its policy or by policies of its tier "
        "with a lower priority number (for a Baseline rule also: decided by the Admin tier, "
        "or the pod selected by a NetworkPolicy, which keeps the Baseline tier from being "
        "reached) never decides anything, whatever its action: usually a more specific "
        "exception written after the broad rule it was meant to override. Decided on the "
        "input's pods; policies of one priority have no defined order and never shadow each "
        "other. Delete the rule or move it above the rules that shadow it.",
    ),
    Check(
        "pass-to-nothing",
        "warning",
        "a Pass rule whose traffic no NetworkPolicy and no Baseline rule decides",
        "Pass hands a connection from the Admin tier to the pod's NetworkPolicies, and where "
        "none selects the pod in that direction to the Baseline tier, and then to the default: "
        "allow. When for every subject pod the passed traffic meets neither a NetworkPolicy "
        "nor a Baseline rule, the Pass allows it exactly like Allow/Accept, usually not what "
        "delegating was meant to do. A Pass in the Baseline tier always goes on to the "
        "default. Write Allow/Accept if that is the intent; otherwise add the NetworkPolicies "
        "or the Baseline rule that should decide.",
    ),
    Check(
        "same-priority-overlap",
        "warning",
        "two policies of one tier with one priority that can select the same pods",
        "Two AdminNetworkPolicies or ClusterNetworkPolicies of one tier with the same priority "
        "that can select the same pods for a direction both have rules for are applied in an "
        'order the API leaves undefined ("the implementation can apply any of the matching '
        'policies"), so network plugins may decide their common connections differently. '
        "Reported at both priorities (the loader warns once, with the same decision). Give "
        "them distinct priorities.",
    ),
    Check(
        "ipblock-covers-pods",
        "warning",
        "an ipBlock contains pod IPs of the input",
        "ipBlocks are meant for cluster-external addresses. Whether an ipBlock matches pod "
        "traffic by the pod's IP differs between network plugins (and with NAT), so rules that "
        "rely on it behave differently from cluster to cluster. Select pods with selectors, or "
        "except the pod range.",
    ),
    Check(
        "cloud-metadata-reachable",
        "warning",
        "a pod isolated for egress can still reach 169.254.169.254",
        "The cloud metadata service hands out node credentials. A pod whose egress is restricted "
        "but still allows 169.254.169.254 (or AWS's fd00:ec2::254) on TCP 80 or 443, typically "
        "through `0.0.0.0/0` without it in except, can reach it. Add 169.254.169.254/32 to the "
        "except list.",
    ),
)

CHECK_IDS: frozenset[str] = frozenset(c.id for c in CHECKS)


def check(check_id: str) -> Check:
    for c in CHECKS:
        if c.id == check_id:
            return c
    raise KeyError(check_id)
