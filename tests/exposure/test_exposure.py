"""Exposure on small clusters, with every expected value derived by hand from the policies.

Each peer kind of the contract (entire cluster, outside range, namespace + podSelector,
namespaceSelector + podSelector) and the unprotected workloads are covered; so are the
refinements (a representative matched by an input pod, ports already open to the entire
cluster) and named ports that cannot be resolved.
"""

from __future__ import annotations

import json

import pytest

import netpolicy
from netpolicy import api
from netpolicy.analysis.exposure import Exposure, ExposurePorts, canonical
from netpolicy.load import load_text
from netpolicy.model import LabelSelector, Requirement
from netpolicy.render.exposure import exposure_json_field, exposure_to_dict, render_exposure_txt
from netpolicy.semantics import ConnectionSet, IntervalSet

CLUSTER = """\
apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: v1
kind: Namespace
metadata: {name: b, labels: {env: prod}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec: {containers: [{name: c, image: i, ports: [{containerPort: 8080, name: http}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b-pod, namespace: b, labels: {app: b}}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{namespaceSelector: {}}]
    ports: [{port: 9000}]
  - from: [{podSelector: {matchLabels: {app: new}}}]
    ports: [{port: http}]
  - from: [{namespaceSelector: {matchLabels: {env: prod}}, podSelector: {matchLabels: {role: mon}}}]
    ports: [{port: 9100}]
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: b}}
      podSelector: {matchLabels: {app: b}}
    ports: [{port: 7000}]
  - from: [{namespaceSelector: {}, podSelector: {matchLabels: {app: other}}}]
    ports: [{port: 9000}]
  egress:
  - to: [{ipBlock: {cidr: 203.0.113.0/24, except: [203.0.113.128/25]}}]
    ports: [{port: 443}]
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: c}}}]
    ports: [{port: http}]
"""


def exposure_of(text: str, **kwargs: str) -> Exposure:
    loaded = load_text(text)
    assert not [d for d in loaded.diagnostics if d.severity == "error"], loaded.diagnostics
    return api.exposure(loaded.cluster, **kwargs)


def table(exposure: Exposure, direction: str) -> dict[tuple[str, str], str]:
    """(workload, peer as text) -> ports as text."""
    return {
        (i.workload, i.peer.text()): i.ports.describe()
        for i in exposure.items(direction)  # type: ignore[arg-type]
    }


@pytest.fixture(scope="module")
def shop() -> Exposure:
    return exposure_of(CLUSTER)


def test_ingress_of_an_isolated_workload(shop: Exposure):
    assert {k: v for k, v in table(shop, "ingress").items() if k[0] == "a/web"} == {
        # namespaceSelector: {} -> every pod of every namespace, on 9000
        ("a/web", "entire-cluster"): "TCP 9000",
        # a podSelector alone names the policy's namespace; no pod app=new there; `http`
        # resolves on web's own ports (8080); what the entire cluster has is included
        ("a/web", "a/[pod with {app=new}]"): "TCP 8080,9000",
        # namespaces labelled env=prod: b is one, but it has no role=mon pod
        ("a/web", "[namespace with {env=prod}]/[pod with {role=mon}]"): "TCP 9000,9100",
        # not listed: b/app=b is the input's b-pod (the connection list has it); all
        # namespaces/app=other opens only 9000, which the entire cluster already has
    }


def test_egress_of_an_isolated_workload(shop: Exposure):
    assert {k: v for k, v in table(shop, "egress").items() if k[0] == "a/web"} == {
        # the ipBlock minus its except, as the outside ranges cut by the input's ipBlocks
        ("a/web", "203.0.113.0-203.0.113.127"): "TCP 443",
        # namespace c is not in the input: `http` cannot be resolved, it stays a name
        ("a/web", "c/[all pods]"): "TCP http",
    }


def test_unprotected_workload(shop: Exposure):
    assert [(u.workload, u.direction) for u in shop.unprotected] == [
        ("b/b-pod", "ingress"),
        ("b/b-pod", "egress"),
    ]
    # every outside address; the pieces the ipBlock cuts (before 203.0.113.0/25, it, after
    # it) allow the same, so they read as one range
    expected = {
        ("b/b-pod", "entire-cluster"): "All Connections",
        ("b/b-pod", "0.0.0.0-255.255.255.255"): "All Connections",
    }
    for direction in ("ingress", "egress"):
        assert {k: v for k, v in table(shop, direction).items() if k[0] == "b/b-pod"} == expected


def test_contract_shapes(shop: Exposure):
    doc = exposure_to_dict(shop)
    assert set(doc) == {"ingress", "egress", "unprotected"}
    by_peer = {
        json.dumps(i["peer"], sort_keys=True): i
        for i in doc["ingress"]  # type: ignore[union-attr]
        if i["workload"] == "a/web"  # type: ignore[index]
    }
    assert '{"entireCluster": true}' in by_peer
    named = by_peer['{"namespace": "a", "podSelector": {"matchLabels": {"app": "new"}}}']
    assert named == {
        "workload": "a/web",
        "peer": {"namespace": "a", "podSelector": {"matchLabels": {"app": "new"}}},
        "all": False,
        "ports": [
            {"protocol": "TCP", "from": 8080, "to": 8080},
            {"protocol": "TCP", "from": 9000, "to": 9000},
        ],
    }
    selectors = {
        "namespaceSelector": {"matchLabels": {"env": "prod"}},
        "podSelector": {"matchLabels": {"role": "mon"}},
    }
    assert json.dumps(selectors, sort_keys=True) in by_peer
    egress = {
        (i["workload"], json.dumps(i["peer"], sort_keys=True)): i
        for i in doc["egress"]  # type: ignore[union-attr]
    }
    assert egress["a/web", '{"ipRange": "203.0.113.0-203.0.113.127"}']["ports"] == [
        {"protocol": "TCP", "from": 443, "to": 443}
    ]
    assert egress["a/web", '{"namespace": "c", "podSelector": {}}']["ports"] == [
        {"protocol": "TCP", "name": "http"}
    ]
    assert egress["b/b-pod", '{"entireCluster": true}']["all"] is True
    assert {"workload": "b/b-pod", "direction": "egress"} in doc["unprotected"]  # type: ignore[operator]
    # the streamed member parses to the same document
    assert json.loads("{" + exposure_json_field(shop)[1:] + "}")["exposure"] == doc


def test_txt_sections(shop: Exposure):
    text = render_exposure_txt(shop)
    assert text.startswith("\nExposure Analysis Result:\nEgress Exposure:\n")
    assert "a/web    =>  c/[all pods] : TCP http\n" in text
    assert (
        "a/web    <=  [namespace with {env=prod}]/[pod with {role=mon}] : TCP 9000,9100\n" in text
    )
    assert text.endswith(
        "Workloads not protected by network policies:\n"
        "b/b-pod is not protected on Ingress\n"
        "b/b-pod is not protected on Egress\n"
    )


def test_focus_and_namespace_keep_only_their_workloads():
    focused = exposure_of(CLUSTER, focus="a/web")
    assert {i.workload for i in (*focused.ingress, *focused.egress)} == {"a/web"}
    assert focused.unprotected == []
    only_b = exposure_of(CLUSTER, namespace="b")
    assert {i.workload for i in (*only_b.ingress, *only_b.egress)} == {"b/b-pod"}


WORKLOADS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: x}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: c, image: i, ports: [{containerPort: 80}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: x}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{podSelector: {matchExpressions: [{key: app, operator: In, values: [fe]}]}}]
    ports: [{port: 80}]
  - from: [{podSelector: {matchLabels: {app: fe}}}]
    ports: [{port: 81}]
  - from: [{namespaceSelector: {matchExpressions: [{key: team, operator: Exists}]}}]
    ports: [{port: 82, endPort: 83}]
  egress:
  - ports: [{port: 53, protocol: UDP}]
"""


def test_workloads_equivalent_selectors_and_rules_without_peers():
    found = exposure_of(WORKLOADS)
    assert table(found, "ingress") == {
        # `app In [fe]` and `app: fe` are the same peer: one item (written as first met),
        # both rules' ports
        ("x/api[Deployment]", "x/[pod with {app in (fe)}]"): "TCP 80-81",
        ("x/api[Deployment]", "[namespace with {team}]/[all pods]"): "TCP 82-83",
    }
    # an egress rule without `to` opens every pod of the cluster and every address
    assert table(found, "egress") == {
        ("x/api[Deployment]", "0.0.0.0-255.255.255.255"): "UDP 53",
        ("x/api[Deployment]", "entire-cluster"): "UDP 53",
    }
    assert found.unprotected == []
    assert found.exposed_to(["entireCluster"]) == {"x/api[Deployment]": {"egress"}}


def test_exposure_ports():
    http = ExposurePorts(ConnectionSet.port("TCP", 80), frozenset({("TCP", "http")}))
    assert http.describe() == "TCP 80,http"
    assert http.to_contract() == [
        {"protocol": "TCP", "from": 80, "to": 80},
        {"protocol": "TCP", "name": "http"},
    ]
    assert not http.is_subset(ExposurePorts(ConnectionSet.port("TCP", 80)))
    # every TCP port covers any TCP port name
    assert http.is_subset(ExposurePorts(ConnectionSet.of("TCP")))
    assert (http | ExposurePorts(ConnectionSet.all())).is_all()
    assert ExposurePorts().describe() == "No Connections"


def test_canonical_selectors():
    single_in = LabelSelector(match_expressions=(Requirement("app", "In", ("x",)),))
    assert canonical(single_in) == canonical(LabelSelector(match_labels=(("app", "x"),)))
    two = LabelSelector(match_expressions=(Requirement("app", "NotIn", ("b", "a")),))
    assert canonical(two) == canonical(
        LabelSelector(match_expressions=(Requirement("app", "NotIn", ("a", "b")),))
    )
    assert canonical(None) == canonical(LabelSelector()) == frozenset()


def test_public_surface():
    assert "exposure" in netpolicy.__all__
    assert netpolicy.exposure is api.exposure
    demo = api.load_demo().cluster
    found = netpolicy.exposure(demo)
    assert found.ingress and found.egress
    assert all(
        isinstance(i.peer.addresses, IntervalSet) for i in found.ingress if i.peer.kind == "ipRange"
    )


DUAL_STACK = """\
apiVersion: v1
kind: Pod
metadata: {name: open, namespace: d, labels: {app: open}}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: shut, namespace: d, labels: {app: shut}}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: shut, namespace: d}
spec:
  podSelector: {matchLabels: {app: shut}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: "2001:db8::/32"}}, {ipBlock: {cidr: 10.0.0.0/8}}]
    ports: [{port: 443}]
"""


def test_outside_ranges_merge_within_a_family_only():
    found = exposure_of(DUAL_STACK)
    egress = table(found, "egress")
    # the open pod reaches every address: one range per family, never one across them
    assert {k[1] for k in egress if k[0] == "d/open" and k[1] != "entire-cluster"} == {
        "0.0.0.0-255.255.255.255",
        "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    }
    # the isolated one: exactly its two ipBlocks, nothing to the cluster
    assert {k[1]: v for k, v in egress.items() if k[0] == "d/shut"} == {
        "10.0.0.0-10.255.255.255": "TCP 443",
        "2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff": "TCP 443",
    }
    assert [(u.workload, u.direction) for u in found.unprotected] == [
        ("d/open", "ingress"),
        ("d/open", "egress"),
        ("d/shut", "ingress"),
    ]
