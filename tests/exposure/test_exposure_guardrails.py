"""Exposure with ClusterNetworkPolicies (v1alpha2): the tier chain per peer beyond the input,
derived by hand from the API comments (Accept and Deny final, Pass on to the NetworkPolicies,
Baseline only where no NetworkPolicy selects the pod)."""

from __future__ import annotations

import textwrap

from netpolicy.analysis.connectivity import compute_connectivity
from netpolicy.analysis.exposure import compute_exposure
from netpolicy.load import load_text

WORLD = """
apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec: {containers: [{name: c, ports: [{containerPort: 80, name: http}]}]}
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: guard}
spec:
  tier: Admin
  priority: 5
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: a}}}
  ingress:
  - name: no-untrusted
    action: Deny
    from: [{namespaces: {matchLabels: {trust: none}}}]
  - name: monitoring
    action: Accept
    from: [{namespaces: {matchLabels: {team: monitoring}}}]
    protocols: [{destinationNamedPort: http}]
  - name: to-owners
    action: Pass
    from: [{namespaces: {matchLabels: {team: dev}}}]
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: fallback}
spec:
  tier: Baseline
  priority: 0
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: a}}}
  ingress:
  - {name: deny-all, action: Deny, from: [{namespaces: {}}]}
"""


def ingress(text: str) -> dict[str, str]:
    loaded = load_text(textwrap.dedent(text), "t.yaml")
    assert not [d for d in loaded.diagnostics if d.severity == "error"]
    exposure = compute_exposure(compute_connectivity(loaded.cluster))
    assert all(u.direction != "ingress" for u in exposure.unprotected)
    return {i.peer.text(): i.ports.describe() for i in exposure.ingress if i.workload == "a/web"}


def test_the_tier_chain_per_peer():
    """Every pod beyond the input falls to the Baseline Deny (no entire-cluster line); the
    monitoring namespaces get the named port resolved on web (TCP 80); untrusted ones nothing
    (the entire cluster has nothing either: not listed); dev is passed to the NetworkPolicies,
    and with none selecting web, to the Baseline Deny: nothing."""
    assert ingress(WORLD) == {
        "0.0.0.0-255.255.255.255": "All Connections",
        "[namespace with {team=monitoring}]/[all pods]": "TCP 80",
    }


def test_a_network_policy_takes_what_the_admin_tier_passes():
    """With a NetworkPolicy admitting every namespace on TCP 8080, the Baseline never applies:
    the entire cluster may use 8080, monitoring also 80, dev (passed) 8080, untrusted nothing,
    listed because it differs from the entire cluster."""
    policy = """
    ---
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: web, namespace: a}
    spec:
      podSelector: {}
      ingress: [{from: [{namespaceSelector: {}}], ports: [{port: 8080}]}]
    """
    assert ingress(WORLD + textwrap.dedent(policy)) == {
        "entire-cluster": "TCP 8080",
        "[namespace with {team=monitoring}]/[all pods]": "TCP 80,8080",
        "[namespace with {trust=none}]/[all pods]": "No Connections",
    }
