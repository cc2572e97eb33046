"""Configurations that look like a classic mistake to a textual linter but are not one.

Each case is a correct configuration a team writes every day; the check named must stay
silent. False positives are bugs: a linter that cries wolf gets disabled.
"""

from __future__ import annotations

import textwrap

from netpolicy import api
from netpolicy.load import load_text

APP = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: backend, namespace: shop}
spec:
  selector: {matchLabels: {app: backend}}
  template:
    metadata: {labels: {app: backend}}
    spec:
      containers: [{name: api, image: api, ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
"""

DNS_TO_KUBE_SYSTEM = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - to:
        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
          podSelector: {matchLabels: {k8s-app: kube-dns}}
      ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
"""


def checks(text: str) -> dict[str, list[str]]:
    """check ID -> objects it reports, for the manifests in `text`."""
    result = load_text(textwrap.dedent(text), filename="t.yaml")
    assert not [d for d in result.diagnostics if d.severity == "error"]
    found: dict[str, list[str]] = {}
    for f in api.lint(result.cluster).findings:
        found.setdefault(f.check, []).append(f.object)
    return found


def test_the_standard_dns_rule_without_kube_system_in_the_input_is_clean() -> None:
    # The app repository holds only its own namespace: kube-system exists in every cluster.
    found = checks(APP + DNS_TO_KUBE_SYSTEM)
    assert "dns-egress-blocked" not in found
    assert "peer-selects-nothing" not in found


def test_dns_to_any_address_is_not_the_metadata_service() -> None:
    dns_anywhere = """\
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: allow-dns, namespace: shop}
    spec:
      podSelector: {}
      policyTypes: [Egress]
      egress:
        - ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
    """
    found = checks(APP + textwrap.dedent(dns_anywhere))
    assert "cloud-metadata-reachable" not in found
    assert "dns-egress-blocked" not in found


def test_egress_to_every_namespace_is_not_a_broad_peer() -> None:
    # broad-peer is about what a pod admits (ingress); egress to everywhere is a deliberate
    # choice whose one dangerous destination cloud-metadata-reachable covers
    egress_all = """\
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: backend-out, namespace: shop}
    spec:
      podSelector: {matchLabels: {app: backend}}
      policyTypes: [Egress]
      egress:
        - to: [{namespaceSelector: {}}]
          ports: [{port: 8080}]
    """
    found = checks(APP + DNS_TO_KUBE_SYSTEM + "---\n" + textwrap.dedent(egress_all))
    assert "broad-peer" not in found


def test_an_explicit_empty_egress_list_is_a_deliberate_deny() -> None:
    explicit = """\
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: backend, namespace: web}
    spec:
      podSelector: {matchLabels: {app: backend}}
      policyTypes: [Ingress, Egress]
      ingress: [{from: [{podSelector: {}}]}]
      egress: []
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: backend, namespace: web, labels: {app: backend}}
    """
    assert "policytypes-denies-all" not in checks(explicit)
    # the same policy without `egress: []` written out is the copied-policyTypes mistake
    copied = textwrap.dedent(explicit).replace("  egress: []\n", "")
    assert checks(copied)["policytypes-denies-all"] == ["web/backend"]


def test_objects_in_namespaces_every_cluster_has_are_not_missing() -> None:
    text = """\
    apiVersion: v1
    kind: Namespace
    metadata: {name: shop}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: tool, labels: {app: tool}}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: web, namespace: shpo, labels: {app: web}}
    """
    # `default` always exists; `shpo` is a typo of the declared `shop`
    assert checks(text)["namespace-missing"] == ["shpo/web"]


def test_pods_of_a_replicaset_not_in_the_input_are_named_by_their_deployment() -> None:
    text = """\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web, namespace: shop}
    spec:
      selector: {matchLabels: {app: web}}
      template: {metadata: {labels: {app: web}}}
    ---
    apiVersion: v1
    kind: Pod
    metadata:
      name: web-5d9c7-abcde
      namespace: shop
      labels: {app: web}
      ownerReferences:
        - {kind: ReplicaSet, name: web-5d9c7, controller: true, apiVersion: apps/v1, uid: x}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: db, namespace: shop, labels: {app: db}}
    ---
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: db, namespace: shop}
    spec:
      podSelector: {matchLabels: {app: db}}
      ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]
    """
    assert checks(text)["pods-not-isolated"] == ["shop/web"]


GUARDED = """\
apiVersion: v1
kind: Namespace
metadata: {name: db, labels: {tier: data}}
---
apiVersion: v1
kind: Pod
metadata: {name: pg-0, namespace: db, labels: {app: pg}}
spec: {containers: [{name: pg, image: postgres}]}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: protect-data}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {tier: data}}}
  ingress:
    - name: deny-all
      action: Deny
      from: [{namespaces: {}}]
"""


def test_a_namespace_under_guardrails_is_not_called_open() -> None:
    # db has no NetworkPolicy, but the ANP protect-data selects its namespace (tier=data)
    # and denies ingress from every namespace: pg-0 does not accept connections from every pod
    loaded = load_text(GUARDED, "guarded.yaml")
    [finding] = [
        f for f in api.lint(loaded.cluster).findings if f.check == "namespace-without-policies"
    ]
    assert finding.message == (
        "namespace db has no NetworkPolicy: db/pg-0 is governed only by the cluster-wide "
        "policies ANP protect-data: whatever they pass or leave to the namespace "
        "is open"
    )
