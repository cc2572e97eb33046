"""NetworkPolicy conversion: defaults, peers, ports, selectors."""

from __future__ import annotations

import pytest

from netpolicy.model import IPBlock, LabelSelector, PolicyPort, Requirement

from ._helpers import load_policy, of


@pytest.mark.parametrize(
    ("spec", "types"),
    [
        ("podSelector: {}", ("Ingress",)),
        ("ingress: [{}]", ("Ingress",)),
        ("egress: []", ("Ingress",)),
        ("egress: [{}]", ("Ingress", "Egress")),
        ("egress: [{}]\npolicyTypes: []", ("Ingress", "Egress")),
        ("egress: [{}]\npolicyTypes: [Egress]", ("Egress",)),
        ("policyTypes: [Egress]", ("Egress",)),
        ("ingress: [{}]\npolicyTypes: [Egress, Ingress]", ("Egress", "Ingress")),
    ],
)
def test_effective_policy_types(spec: str, types: tuple[str, ...]) -> None:
    [policy] = load_policy(spec).cluster.policies
    assert policy.policy_types == types


def test_missing_spec_selects_all_and_isolates_ingress() -> None:
    [policy] = load_policy("{}").cluster.policies
    assert policy.pod_selector == LabelSelector()
    assert policy.ingress == () and policy.egress == ()
    assert policy.policy_types == ("Ingress",)


@pytest.mark.parametrize("rule", ["{}", "{from: []}", "{from: null}", "null", "{ports: []}"])
def test_absent_or_empty_from_means_every_peer(rule: str) -> None:
    [policy] = load_policy(f"ingress:\n- {rule}").cluster.policies
    assert policy.ingress[0].peers == ()
    assert policy.ingress[0].ports == ()


def test_peers_keep_absent_and_empty_selectors_apart() -> None:
    [policy] = load_policy(
        """
        ingress:
        - from:
          - podSelector: {}
          - namespaceSelector: {matchLabels: {team: a}}
          - podSelector: {matchLabels: {app: x}}
            namespaceSelector: {}
          - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}
        """
    ).cluster.policies
    p0, p1, p2, p3 = policy.ingress[0].peers
    assert (p0.pod_selector, p0.namespace_selector, p0.ip_block) == (LabelSelector(), None, None)
    assert (p1.pod_selector, p1.namespace_selector) == (None, LabelSelector((("team", "a"),)))
    assert p2.pod_selector == LabelSelector((("app", "x"),))
    assert p2.namespace_selector == LabelSelector()
    assert p3.ip_block == IPBlock("10.0.0.0/8", ("10.1.0.0/16",))
    assert p3.pod_selector is None and p3.namespace_selector is None


def test_ports_default_to_tcp_and_keep_names_and_ranges() -> None:
    [policy] = load_policy(
        """
        egress:
        - ports:
          - port: 53
            protocol: UDP
          - port: dns-tcp
          - port: 8000
            endPort: 9000
          - protocol: SCTP
          - {}
        """
    ).cluster.policies
    assert [(p.protocol, p.port, p.end_port) for p in policy.egress[0].ports] == [
        ("UDP", 53, None),
        ("TCP", "dns-tcp", None),
        ("TCP", 8000, 9000),
        ("SCTP", None, None),
        ("TCP", None, None),
    ]
    assert policy.egress[0].ports[4] == PolicyPort()


def test_selector_expressions() -> None:
    [policy] = load_policy(
        """
        podSelector:
          matchLabels: {app: web, tier: front}
          matchExpressions:
          - {key: env, operator: In, values: [prod, staging]}
          - {key: canary, operator: DoesNotExist}
        """
    ).cluster.policies
    assert policy.pod_selector == LabelSelector(
        (("app", "web"), ("tier", "front")),
        (Requirement("env", "In", ("prod", "staging")), Requirement("canary", "DoesNotExist")),
    )


def test_namespace_defaults_and_key() -> None:
    from ._helpers import load

    result = load("kind: NetworkPolicy\nmetadata: {name: p}\n")
    assert result.cluster.policies[0].key == "default/p"


def test_invalid_policy_is_left_out_and_the_rest_loads() -> None:
    from ._helpers import load, policy_text

    text = (
        policy_text("ingress: [{ports: [{port: 0}]}]", name="bad")
        + "---\n"
        + policy_text("podSelector: {}", name="good")
    )
    result = load(text)
    assert [p.name for p in result.cluster.policies] == ["good"]
    assert len(of(result, "error")) == 1
