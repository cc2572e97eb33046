"""The adoption dashboard with cluster-wide guardrails: an Admin Deny or a Baseline Deny (where
no NetworkPolicy selects the pod) isolates, guardrails carry a namespace through steps 1 and 3
but never through step 2 (the namespace owners' own ingress intent). Expected values derived
by hand from the manifests and the network-policy-api comments."""

from __future__ import annotations

import textwrap

from netpolicy.analysis.connectivity import compute_connectivity
from netpolicy.analysis.coverage import (
    EGRESS_WITH_DNS,
    INGRESS_ALLOWS,
    INGRESS_DEFAULT_DENY,
    NO_POLICIES,
    coverage,
)
from netpolicy.load import load_text
from netpolicy.render.coverage import workload_to_dict

PODS = """
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {tenant: shop}}
---
apiVersion: v1
kind: Namespace
metadata: {name: other, labels: {tenant: other}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: other, labels: {app: client}}
spec: {containers: [{name: c}]}
status: {podIP: 10.0.1.1}
---
apiVersion: v1
kind: Pod
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec: {containers: [{name: c, ports: [{containerPort: 53, protocol: UDP}]}]}
status: {podIP: 10.0.2.1}
"""

ADMIN_DENY_FROM_OTHER = """
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: tenants}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {tenant: shop}}}
  ingress:
  - {name: no-other, action: Deny, from: [{namespaces: {matchLabels: {tenant: other}}}]}
"""

BASELINE_DENY_ALL = """
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: default-deny}
spec:
  tier: Baseline
  priority: 0
  subject: {namespaces: {matchLabels: {tenant: shop}}}
  ingress:
  - {name: all, action: Deny, from: [{namespaces: {}}]}
  egress:
  - name: all-but-dns
    action: Pass
    to:
    - pods:
        namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
        podSelector: {}
  - {name: all, action: Deny, to: [{namespaces: {}}, {networks: [0.0.0.0/0]}]}
"""

SHOP_ALLOWS_OTHER = """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {tenant: other}}}], ports: [{port: 80}]}]
"""


def shop(text: str):
    loaded = load_text(textwrap.dedent(PODS + text), "t.yaml")
    assert not [d for d in loaded.diagnostics if d.severity == "error"], loaded.diagnostics
    cov = coverage(compute_connectivity(loaded.cluster))
    row = next(r for r in cov.namespaces if r.namespace == "shop")
    web = next(w for w in cov.workloads if w.name == "shop/web")
    return row, web


def test_no_guardrail_no_policy_is_open():
    row, web = shop("")
    assert (row.step, row.next_step) == (NO_POLICIES, INGRESS_DEFAULT_DENY)
    assert not web.isolated_ingress and web.guardrails_only == ()


def test_an_admin_deny_isolates_without_a_network_policy():
    """other -> shop/web is denied by the Admin tier: shop/web's ingress is no longer all
    allowed, so it counts as isolated (step 1) but blocks step 2 as guardrails-only."""
    row, web = shop(ADMIN_DENY_FROM_OTHER)
    assert web.isolated_ingress and not web.isolated_egress
    assert web.guardrails_only == ("ingress",)
    assert row.counts.ingress == 1 and row.policies == 0
    assert (row.step, row.next_step) == (INGRESS_DEFAULT_DENY, INGRESS_ALLOWS)
    assert [(b.workload, b.reason) for b in row.blocking] == [("shop/web", "guardrailsOnly")]
    assert workload_to_dict(web)["guardrailsOnly"] == ["ingress"]


def test_a_network_policy_states_the_intent_the_guardrail_cannot():
    """With shop's own NetworkPolicy the NetworkPolicy isolates shop/web (step 2 reached);
    its egress is still open."""
    row, web = shop(ADMIN_DENY_FROM_OTHER + SHOP_ALLOWS_OTHER)
    assert web.isolated_ingress and web.ingress_intent and web.guardrails_only == ()
    assert (row.step, row.next_step) == (INGRESS_ALLOWS, EGRESS_WITH_DNS)
    assert [b.reason for b in row.blocking] == ["egressOpen"]


def test_a_baseline_default_deny_carries_egress_with_dns():
    """The Baseline CNP denies shop/web's egress except what it passes to kube-system (then
    allowed by default): egress isolated by guardrails, DNS (UDP 53 to coredns) open; TCP 53
    too (Pass covers every port). With shop's NetworkPolicy for ingress intent, step 3."""
    row, web = shop(BASELINE_DENY_ALL + SHOP_ALLOWS_OTHER)
    assert web.isolated_egress and web.dns_blocked == ()
    assert web.guardrails_only == ("egress",)
    assert (row.step, row.next_step) == (EGRESS_WITH_DNS, None)


def test_a_baseline_deny_of_dns_blocks_the_last_step():
    """Without the Pass the Baseline Deny cuts DNS too."""
    head, _, rest = BASELINE_DENY_ALL.partition("  - name: all-but-dns\n")
    text = head + rest[rest.index("  - {name: all,") :]
    assert text != BASELINE_DENY_ALL
    row, web = shop(text + SHOP_ALLOWS_OTHER)
    assert web.isolated_egress and set(web.dns_blocked) == {"UDP", "TCP"}
    assert (row.step, row.next_step) == (INGRESS_ALLOWS, EGRESS_WITH_DNS)
    assert [b.reason for b in row.blocking] == ["dnsBlocked"]
