"""diff with cluster-wide guardrails: the pairs come from the one engine (tier chain included);
the summary counts a pod as isolated in a direction where guardrails leave some of its traffic
not allowed, and lists the AdminNetworkPolicies, BANPs and ClusterNetworkPolicies added,
removed or changed."""

from __future__ import annotations

import json
from pathlib import Path

from netpolicy import api
from netpolicy.load import load_manifests
from netpolicy.model import Cluster
from netpolicy.render.diff import diff_chunks

WORLD = """
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {tenant: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b, labels: {tenant: b}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: b, labels: {app: client}}
spec: {containers: [{name: c}]}
status: {podIP: 10.0.1.1}
"""


def anp(name: str, priority: int, action: str, tenant: str = "b") -> str:
    """An AdminNetworkPolicy on namespace a's ingress from namespace `tenant`."""
    return f"""
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {{name: {name}}}
spec:
  priority: {priority}
  subject: {{namespaces: {{matchLabels: {{tenant: a}}}}}}
  ingress:
  - name: {name}
    action: {action}
    from: [{{namespaces: {{matchLabels: {{tenant: {tenant}}}}}}}]
"""


ALLOW_80_FROM_B = """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-b, namespace: a}
spec:
  podSelector: {}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {tenant: b}}}]
    ports: [{port: 80}]
"""

DENY_ALL_BASELINE = """
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: baseline-deny}
spec:
  tier: Baseline
  priority: 0
  subject: {namespaces: {matchLabels: {tenant: a}}}
  ingress:
  - name: deny-all
    action: Deny
    from: [{namespaces: {}}]
"""


def cluster(tmp_path: Path, name: str, text: str) -> Cluster:
    path = tmp_path / f"{name}.yaml"
    path.write_text(WORLD + text)
    loaded = load_manifests([path])
    assert not [d for d in loaded.diagnostics if d.severity == "error"], loaded.diagnostics
    return loaded.cluster


def changes(old: Cluster, new: Cluster) -> list[tuple[str, str, str, str]]:
    return [
        (c.src, c.dst, c.change, c.after.describe())
        for c in api.diff(old, new).changes()
        if "/" in c.src and "/" in c.dst  # pod pairs (outside ranges unchanged here)
    ]


def test_adding_a_deny_guardrail_isolates_and_is_listed(tmp_path: Path):
    old = cluster(tmp_path, "old", "")
    new = cluster(tmp_path, "new", anp("deny-b", 10, "Deny"))
    assert changes(old, new) == [("b/client", "a/web", "removed", "No Connections")]
    summary = api.diff(old, new).summary()
    # a/web had no NetworkPolicy and keeps none: the Admin Deny decides its ingress
    assert [(i.endpoint, i.direction, i.losing) for i in summary.isolated] == [
        ("a/web", "ingress", 1)
    ]
    assert [g.describe() for g in summary.guardrails] == ["added ANP deny-b (Admin, priority 10)"]
    text = "".join(diff_chunks(api.diff(old, new), "txt", summary))
    assert "Become isolated for ingress (1):" in text
    assert "Guardrails changed (1):\n  added ANP deny-b (Admin, priority 10)" in text
    # and back: removing it opens a/web again
    back = api.diff(new, old).summary()
    assert back.opened == [("a/web", "ingress")]
    assert [g.describe() for g in back.guardrails] == ["removed ANP deny-b (Admin, priority 10)"]


def test_a_priority_change_reorders_the_tier(tmp_path: Path):
    """Allow at 20 under Deny at 10 never decides; moved to 5 it comes first."""
    old = cluster(tmp_path, "old", anp("deny-b", 10, "Deny") + anp("allow-b", 20, "Allow"))
    new = cluster(tmp_path, "new", anp("deny-b", 10, "Deny") + anp("allow-b", 5, "Allow"))
    assert changes(old, new) == [("b/client", "a/web", "added", "All Connections")]
    summary = api.diff(old, new).summary()
    assert [g.describe() for g in summary.guardrails] == [
        "changed ANP allow-b (Admin, priority 5): priority 20 -> 5"
    ]
    # with the Allow first, every endpoint of the input may reach a/web again: by the
    # definition (some traffic not allowed) it is no longer isolated for ingress
    assert summary.isolated == [] and summary.opened == [("a/web", "ingress")]
    payload = json.loads("".join(diff_chunks(api.diff(old, new), "json")))
    assert payload["guardrails"] == [
        {
            "policy": "ANP allow-b",
            "change": "changed",
            "tier": "Admin",
            "priority": 5,
            "parts": ["priority 20 -> 5"],
        }
    ]


def test_adding_a_pass_hands_the_traffic_to_the_network_policy(tmp_path: Path):
    """A Deny at 10 cut b -> a; a Pass at 5 hands it to a's NetworkPolicy (TCP 80)."""
    old = cluster(tmp_path, "old", ALLOW_80_FROM_B + anp("deny-all", 10, "Deny"))
    new = cluster(
        tmp_path, "new", ALLOW_80_FROM_B + anp("deny-all", 10, "Deny") + anp("pass-b", 5, "Pass")
    )
    assert changes(old, new) == [("b/client", "a/web", "added", "TCP 80")]
    summary = api.diff(old, new).summary()
    assert [g.describe() for g in summary.guardrails] == ["added ANP pass-b (Admin, priority 5)"]


def test_a_baseline_deny_isolates_only_where_no_network_policy_selects(tmp_path: Path):
    old = cluster(tmp_path, "old", "")
    new = cluster(tmp_path, "new", DENY_ALL_BASELINE)
    summary = api.diff(old, new).summary()
    assert [(i.endpoint, i.direction) for i in summary.isolated] == [("a/web", "ingress")]
    assert [g.describe() for g in summary.guardrails] == [
        "added CNP baseline-deny (Baseline, priority 0)"
    ]
    # with a NetworkPolicy selecting a/web on both sides, the Baseline tier never applies:
    # no pair changes, a/web was isolated already, the object change is still listed
    old = cluster(tmp_path, "old", ALLOW_80_FROM_B)
    new = cluster(tmp_path, "new", ALLOW_80_FROM_B + DENY_ALL_BASELINE)
    summary = api.diff(old, new).summary()
    assert summary.total == 0 and summary.isolated == []
    assert [g.change for g in summary.guardrails] == ["added"]
    text = "".join(diff_chunks(api.diff(old, new), "txt", summary))
    assert "no change in allowed connections" in text
    assert "added CNP baseline-deny" in text


def test_guardrail_networks_on_one_side_only(tmp_path: Path):
    """An egress Deny towards `networks` on one side only: both sides are cut by it."""
    deny = """
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: no-metadata}
spec:
  priority: 1
  subject: {namespaces: {}}
  egress:
  - name: metadata
    action: Deny
    to: [{networks: [169.254.169.254/32]}]
"""
    old = cluster(tmp_path, "old", "")
    new = cluster(tmp_path, "new", deny)
    got = {(c.src, c.dst, c.change) for c in api.diff(old, new).changes()}
    assert got == {
        ("a/web", "169.254.169.254-169.254.169.254", "removed"),
        ("b/client", "169.254.169.254-169.254.169.254", "removed"),
    }
    isolated = {(i.endpoint, i.direction) for i in api.diff(old, new).summary().isolated}
    assert isolated == {("a/web", "egress"), ("b/client", "egress")}
