"""Data tests pinning the network-policy-api field comments (apis/v1alpha1, apis/v1alpha2):
each probe is decided through connlist (the class engine) and explain (the one-pair
evaluator), which must agree, and the comment it pins is quoted beside it."""

from __future__ import annotations

import pytest

from netpolicy.analysis.connectivity import compute_connectivity
from netpolicy.analysis.connlist import connection_list
from netpolicy.api import explain
from netpolicy.load import load_text
from netpolicy.model import Cluster, Protocol
from netpolicy.semantics import ConnectionSet, Evaluator, parse_range

PODS = """
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: red}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b, labels: {team: blue}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec:
  containers:
  - name: c
    ports:
    - {containerPort: 8080, name: http}
    - {containerPort: 5353, name: dns, protocol: UDP}
status: {podIP: 10.0.0.5}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: b, labels: {app: api}}
spec:
  containers:
  - name: c
    ports:
    - {containerPort: 9090, name: http, protocol: UDP}
status: {podIP: 10.1.0.7}
---
apiVersion: v1
kind: Pod
metadata: {name: node-agent, namespace: b, labels: {app: agent}}
spec:
  hostNetwork: true
  containers: [{name: c}]
status: {podIP: 172.16.0.1}
"""


def _anp(name: str, priority: int, body: str) -> str:
    return f"""
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {{name: {name}}}
spec:
  priority: {priority}
{body}"""


def _banp(body: str) -> str:
    return f"""
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {{name: default}}
spec:
{body}"""


def _cnp(name: str, tier: str, priority: int, body: str) -> str:
    return f"""
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {{name: {name}}}
spec:
  tier: {tier}
  priority: {priority}
{body}"""


def _np(namespace: str, name: str, spec: str) -> str:
    return f"""
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: {name}, namespace: {namespace}}}
spec:
{spec}"""


ALL_TO_API = """  subject: {namespaces: {matchLabels: {team: red}}}
  egress:
"""
API_FROM_ALL = """  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: api}}}}
  ingress:
"""
TO_API = "    to: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: api}}}}]\n"
FROM_WEB = "    from: [{namespaces: {matchLabels: {team: red}}}]\n"


def load(*parts: str) -> Cluster:
    loaded = load_text(PODS + "".join(parts), "case.yaml")
    assert not loaded.errors, [str(e) for e in loaded.errors]
    return loaded.cluster


def allowed(cluster: Cluster, src: str, dst: str, protocol: Protocol, port: int | str) -> bool:
    """The verdict of connlist and of explain, which must agree."""
    result = compute_connectivity(cluster)
    table = {(c.src, c.dst): c.connections for c in connection_list(result)}
    decision = explain(cluster, src, dst, protocol, port).decision
    number = decision.port_number
    listed = number is not None and table.get(
        (_endpoint(table, src), _endpoint(table, dst)), ConnectionSet.none()
    ).allows(protocol, number)
    assert listed == decision.allowed, (src, dst, protocol, port)
    return decision.allowed


def _endpoint(table: dict[tuple[str, str], ConnectionSet], name: str) -> str:
    """A pod's name, or the listed outside range holding an address."""
    if "/" in name:
        return name
    address = parse_range(name)
    for pair in table:
        for end in pair:
            if "/" not in end and address.is_subset(parse_range(end)):
                return end
    return name


def test_lower_priority_value_is_checked_first() -> None:
    # "Policies with lower priority values have higher precedence, and are checked before
    # policies with higher priority values."
    deny = ALL_TO_API + "  - action: Deny\n" + TO_API
    allow = ALL_TO_API + "  - action: Allow\n" + TO_API
    assert allowed(
        load(_anp("first", 10, allow), _anp("second", 20, deny)), "a/web", "b/api", "TCP", 80
    )
    assert not allowed(
        load(_anp("first", 20, allow), _anp("second", 10, deny)), "a/web", "b/api", "TCP", 80
    )


def test_first_matching_rule_in_written_order_wins() -> None:
    # "The relative precedence of egress rules within a single ANP object ... will be
    # determined by the order in which the rule is written."
    body = (
        ALL_TO_API
        + "  - action: Deny\n"
        + TO_API
        + "    ports: [{portNumber: {protocol: TCP, port: 80}}]\n"
        + "  - action: Allow\n"
        + TO_API
    )
    cluster = load(
        _anp("order", 1, body),
        _np("a", "deny-egress", "  podSelector: {}\n  policyTypes: [Egress]\n"),
    )
    assert not allowed(cluster, "a/web", "b/api", "TCP", 80)
    # "Allow: allows the selected traffic (even if it would otherwise have been denied by
    # NetworkPolicy)"
    assert allowed(cluster, "a/web", "b/api", "TCP", 81)


def test_pass_hands_the_connection_to_network_policy() -> None:
    # "Pass: instructs the selected traffic to skip any remaining ANP rules, and then pass
    # execution to any NetworkPolicies that select the pod."
    body = ALL_TO_API + "  - action: Pass\n" + TO_API + "  - action: Deny\n" + TO_API
    np = _np(
        "a",
        "web-egress",
        "  podSelector: {}\n  policyTypes: [Egress]\n"
        "  egress: [{ports: [{port: 9090, protocol: UDP}]}]\n",
    )
    cluster = load(_anp("delegate", 5, body), np)
    assert allowed(cluster, "a/web", "b/api", "UDP", 9090)
    assert not allowed(cluster, "a/web", "b/api", "TCP", 80)
    chain = explain(cluster, "a/web", "b/api", "UDP", 9090).decision.egress.chain
    assert " -> ".join(s.describe() for s in chain) == (
        "ANP delegate egress rule #1 Pass -> NP a/web-egress egress rule #1 Allow"
    )


def test_pass_without_network_policy_goes_to_the_baseline() -> None:
    # "If the pod is not selected by any NetworkPolicies then execution is passed to any
    # BaselineAdminNetworkPolicies that select the pod."
    anp = _anp("delegate", 5, ALL_TO_API + "  - action: Pass\n" + TO_API)
    banp = _banp(ALL_TO_API + "  - action: Deny\n" + TO_API)
    assert not allowed(load(anp, banp), "a/web", "b/api", "TCP", 80)
    assert allowed(load(anp), "a/web", "b/api", "TCP", 80)


def test_baseline_only_where_no_network_policy_selects_the_pod() -> None:
    # BANP ingress rules apply "if they are not matched by any AdminNetworkPolicy or
    # NetworkPolicy rules"; "v1.NetworkPolicy always makes a final decision for selected pods"
    banp = _banp(API_FROM_ALL + "  - action: Deny\n" + FROM_WEB)
    assert not allowed(load(banp), "a/web", "b/api", "UDP", 9090)
    allow_np = _np("b", "api-in", "  podSelector: {}\n  ingress: [{}]\n")
    assert allowed(load(banp, allow_np), "a/web", "b/api", "UDP", 9090)
    # an egress-only NetworkPolicy does not select the pod for ingress: the baseline decides
    egress_np = _np("b", "api-out", "  podSelector: {}\n  policyTypes: [Egress]\n")
    assert not allowed(load(banp, egress_np), "a/web", "b/api", "UDP", 9090)


def test_baseline_pass_goes_to_the_default_allow() -> None:
    # v1alpha2 Pass: "Skips all further ClusterNetworkPolicy rules in the current tier ...
    # and passes evaluation to the next tier"; after the Baseline tier, "all pods can
    # communicate with each other".
    cnp = _cnp(
        "base",
        "Baseline",
        1,
        ALL_TO_API + "  - action: Pass\n" + TO_API + "  - action: Deny\n" + TO_API,
    )
    assert allowed(load(cnp), "a/web", "b/api", "TCP", 80)


def test_egress_accept_still_needs_the_destination_ingress() -> None:
    # "Accept: Accepts the selected traffic, allowing it to egress": the destination's own
    # ingress still decides whether it comes in
    cnp = _cnp("out", "Admin", 1, ALL_TO_API + "  - action: Accept\n" + TO_API)
    deny_in = _np("b", "deny-in", "  podSelector: {}\n")
    assert not allowed(load(cnp, deny_in), "a/web", "b/api", "TCP", 80)
    # while an Admin Allow on the destination's ingress overrides its NetworkPolicy
    anp_in = _anp("in", 2, API_FROM_ALL + "  - action: Allow\n" + FROM_WEB)
    assert allowed(load(cnp, deny_in, anp_in), "a/web", "b/api", "TCP", 80)


def test_named_ports_and_ranges() -> None:
    # "NamedPort selects a port on a pod(s) based on name" (any protocol of that name, on the
    # destination); "PortRange selects a port range ... from the assigned Start value to End"
    body = (
        ALL_TO_API
        + "  - action: Allow\n"
        + TO_API
        + "    ports: [{namedPort: http}, {portRange: {protocol: TCP, start: 100, end: 200}}]\n"
        + "  - action: Deny\n"
        + TO_API
    )
    cluster = load(_anp("ports", 1, body))
    assert allowed(cluster, "a/web", "b/api", "UDP", 9090)  # http is UDP 9090 on b/api
    assert not allowed(cluster, "a/web", "b/api", "TCP", 9090)
    assert not allowed(cluster, "a/web", "b/api", "TCP", 8080)  # http of the source: no
    assert allowed(cluster, "a/web", "b/api", "TCP", 100)
    assert allowed(cluster, "a/web", "b/api", "TCP", 200)
    assert not allowed(cluster, "a/web", "b/api", "TCP", 201)


def test_networks_match_pod_ips_too() -> None:
    # "cluster-internal traffic will be checked against the rule as well. So if you Allow or
    # Deny traffic to "0.0.0.0/0", that will allow or deny all IPv4 pod-to-pod traffic"
    body = (
        "  subject: {namespaces: {}}\n  egress:\n"
        "  - action: Deny\n    to: [{networks: [10.1.0.0/16]}]\n"
    )
    cluster = load(_anp("cidr", 1, body))
    assert not allowed(cluster, "a/web", "b/api", "TCP", 80)  # 10.1.0.7
    assert allowed(cluster, "b/api", "a/web", "TCP", 8080)  # 10.0.0.5
    assert not allowed(cluster, "a/web", "10.1.2.3", "TCP", 80)
    assert allowed(cluster, "a/web", "10.2.0.1", "TCP", 80)


def test_host_network_pods_are_neither_subjects_nor_pod_peers() -> None:
    # "Note that host-networked pods are not included in subject selection" / "in this type
    # of peer"
    deny_all = (
        "  subject: {namespaces: {}}\n  egress:\n  - action: Deny\n    to: [{namespaces: {}}]\n"
    )
    cluster = load(_anp("deny", 1, deny_all))
    assert not allowed(cluster, "a/web", "b/api", "TCP", 80)
    # host-network pods are no endpoint of connlist or explain (their traffic is the node's):
    # ask the evaluator and the class engine's pod pairs directly
    ev = Evaluator(cluster)
    agent, web = (next(p for p in cluster.pods if p.name == n) for n in ("node-agent", "web"))
    pairs = {(s, d): c for s, d, c in compute_connectivity(cluster).pod_pairs()}
    for src, dst in ((agent, web), (web, agent)):
        assert ev.allowed(ev.pod_info(src), ev.pod_info(dst)).is_all()
        assert pairs[src, dst].is_all()


@pytest.mark.parametrize("tier_first", ["Admin", "Baseline"])
def test_admin_tier_precedes_network_policy_and_baseline(tier_first: str) -> None:
    # "All Admin tier rules have higher precedence than NetworkPolicy or Baseline tier rules"
    allow_np = _np("b", "api-in", "  podSelector: {}\n  ingress: [{}]\n")
    deny = _cnp("guard", tier_first, 0, API_FROM_ALL + "  - action: Deny\n" + FROM_WEB)
    assert allowed(load(deny, allow_np), "a/web", "b/api", "UDP", 9090) == (
        tier_first == "Baseline"
    )
