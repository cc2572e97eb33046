"""Every API-server validation rule: a tiny policy, the message, and the field path."""

from __future__ import annotations

import pytest

from netpolicy.load import validate

from ._helpers import load_policy, of

INVALID = [
    # (spec, message substring, path)
    (
        "podSelector: {matchExpressions: [{key: a, operator: Equals, values: [x]}]}",
        'Unsupported value: "Equals": supported values: "In", "NotIn", "Exists", "DoesNotExist"',
        "spec.podSelector.matchExpressions[0].operator",
    ),
    (
        "podSelector: {matchExpressions: [{key: a, operator: In}]}",
        "must be specified when `operator` is 'In' or 'NotIn'",
        "spec.podSelector.matchExpressions[0].values",
    ),
    (
        "podSelector: {matchExpressions: [{key: a, operator: NotIn, values: []}]}",
        "must be specified when `operator` is 'In' or 'NotIn'",
        "spec.podSelector.matchExpressions[0].values",
    ),
    (
        "podSelector: {matchExpressions: [{key: a, operator: Exists, values: [x]}]}",
        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        "spec.podSelector.matchExpressions[0].values",
    ),
    (
        "podSelector: {matchExpressions: [{key: a, operator: DoesNotExist, values: [x]}]}",
        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        "spec.podSelector.matchExpressions[0].values",
    ),
    (
        "podSelector: {matchExpressions: [{key: -bad, operator: Exists}]}",
        "name part must consist of alphanumeric characters",
        "spec.podSelector.matchExpressions[0].key",
    ),
    (
        "podSelector: {matchExpressions: [{key: a, operator: In, values: [-x]}]}",
        "a valid label must be an empty string or consist of alphanumeric characters",
        "spec.podSelector.matchExpressions[0].values[0]",
    ),
    (
        "podSelector: {matchLabels: {'a/b/c': x}}",
        "with an optional DNS subdomain prefix",
        "spec.podSelector.matchLabels[a/b/c]",
    ),
    (
        "podSelector: {matchLabels: {'Example.com/app': x}}",
        "prefix part a lowercase RFC 1123 subdomain",
        "spec.podSelector.matchLabels[Example.com/app]",
    ),
    (
        "podSelector: {matchLabels: {'/app': x}}",
        "prefix part must be non-empty",
        "spec.podSelector.matchLabels[/app]",
    ),
    (
        f"podSelector: {{matchLabels: {{{'k' * 64}: x}}}}",
        "name part must be no more than 63 characters",
        f"spec.podSelector.matchLabels.{'k' * 64}",
    ),
    (
        f"podSelector: {{matchLabels: {{app: {'v' * 64}}}}}",
        "must be no more than 63 characters",
        "spec.podSelector.matchLabels.app",
    ),
    (
        "podSelector: {matchLabels: {app: 'a b'}}",
        "a valid label must be an empty string",
        "spec.podSelector.matchLabels.app",
    ),
    (
        "ingress: [{from: [{namespaceSelector: {matchLabels: {app: x_}}}]}]",
        "a valid label must be an empty string",
        "spec.ingress[0].from[0].namespaceSelector.matchLabels.app",
    ),
    (
        "ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/33}}]}]",
        'Invalid value: "10.0.0.0/33": must be a valid CIDR value',
        "spec.ingress[0].from[0].ipBlock.cidr",
    ),
    (
        "ingress: [{from: [{ipBlock: {cidr: 10.0.0.0}}]}]",
        "must be a valid CIDR value",
        "spec.ingress[0].from[0].ipBlock.cidr",
    ),
    (
        "ingress: [{from: [{ipBlock: {cidr: 010.0.0.0/8}}]}]",
        "must be a valid CIDR value",
        "spec.ingress[0].from[0].ipBlock.cidr",
    ),
    (
        "ingress: [{from: [{ipBlock: {cidr: '2001:db8::/129'}}]}]",
        "must be a valid CIDR value",
        "spec.ingress[0].from[0].ipBlock.cidr",
    ),
    (
        "ingress: [{from: [{ipBlock: {cidr: ''}}]}]",
        "Required value",
        "spec.ingress[0].from[0].ipBlock.cidr",
    ),
    (
        "ingress: [{from: [{ipBlock: {except: [10.0.0.0/8]}}]}]",
        "Required value",
        "spec.ingress[0].from[0].ipBlock.cidr",
    ),
    (
        "ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}}]}]",
        "must be a strict subset of `cidr`",
        "spec.ingress[0].from[0].ipBlock.except[0]",
    ),
    (
        "ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16]}}]}]",
        "must be a strict subset of `cidr`",
        "spec.ingress[0].from[0].ipBlock.except[0]",
    ),
    (
        "ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: ['fd00::/64']}}]}]",
        "must be a strict subset of `cidr`",
        "spec.ingress[0].from[0].ipBlock.except[0]",
    ),
    (
        "egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0]}}]}]",
        "must be a valid CIDR value",
        "spec.egress[0].to[0].ipBlock.except[0]",
    ),
    (
        "ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]",
        "may not specify both ipBlock and another peer",
        "spec.ingress[0].from[0]",
    ),
    (
        "egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}, namespaceSelector: {}}]}]",
        "may not specify both ipBlock and another peer",
        "spec.egress[0].to[0]",
    ),
    ("ingress: [{from: [{}]}]", "must specify a peer", "spec.ingress[0].from[0]"),
    ("egress: [{to: [null]}]", "must specify a peer", "spec.egress[0].to[0]"),
    (
        "ingress: [{ports: [{protocol: ICMP}]}]",
        'Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"',
        "spec.ingress[0].ports[0].protocol",
    ),
    (
        "ingress: [{ports: [{protocol: tcp, port: 80}]}]",
        'Unsupported value: "tcp"',
        "spec.ingress[0].ports[0].protocol",
    ),
    (
        "ingress: [{ports: [{port: 0}]}]",
        "Invalid value: 0: must be between 1 and 65535, inclusive",
        "spec.ingress[0].ports[0].port",
    ),
    (
        "egress: [{ports: [{port: 65536}]}]",
        "must be between 1 and 65535, inclusive",
        "spec.egress[0].ports[0].port",
    ),
    (
        "ingress: [{ports: [{port: '80'}]}]",
        'Invalid value: "80": must contain at least one letter (a-z)',
        "spec.ingress[0].ports[0].port",
    ),
    (
        "ingress: [{ports: [{port: a-very-long-port-name}]}]",
        "must be no more than 15 characters",
        "spec.ingress[0].ports[0].port",
    ),
    (
        "ingress: [{ports: [{port: HTTP}]}]",
        "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
        "spec.ingress[0].ports[0].port",
    ),
    (
        "ingress: [{ports: [{port: web--x}]}]",
        "must not contain consecutive hyphens",
        "spec.ingress[0].ports[0].port",
    ),
    (
        "ingress: [{ports: [{port: -web}]}]",
        "must not begin or end with a hyphen",
        "spec.ingress[0].ports[0].port",
    ),
    (
        "ingress: [{ports: [{port: http, endPort: 90}]}]",
        "may not be specified when `port` is non-numeric",
        "spec.ingress[0].ports[0].endPort",
    ),
    (
        "ingress: [{ports: [{endPort: 90}]}]",
        "may not be specified when `port` is not specified",
        "spec.ingress[0].ports[0].endPort",
    ),
    (
        "ingress: [{ports: [{port: 80, endPort: 79}]}]",
        "Invalid value: 79: must be greater than or equal to `port`",
        "spec.ingress[0].ports[0].endPort",
    ),
    (
        "ingress: [{ports: [{port: 80, endPort: 70000}]}]",
        "must be between 1 and 65535, inclusive",
        "spec.ingress[0].ports[0].endPort",
    ),
    (
        "policyTypes: [Ingress, Both]",
        'Unsupported value: "Both": supported values: "Ingress", "Egress"',
        "spec.policyTypes[1]",
    ),
    (
        "policyTypes: [ingress]",
        'Unsupported value: "ingress"',
        "spec.policyTypes[0]",
    ),
    (
        "policyTypes: [Ingress, Egress, Ingress]",
        "may not specify more than two policyTypes",
        "spec.policyTypes",
    ),
]


@pytest.mark.parametrize(("spec", "message", "path"), INVALID)
def test_invalid_policy_is_rejected_with_message_and_path(
    spec: str, message: str, path: str
) -> None:
    result = load_policy(spec)
    errors = of(result, "error")
    assert result.cluster.policies == ()
    assert any(message in e.message and e.source.path == path for e in errors), errors
    assert all(e.source.line > 0 and e.source.file == "p.yaml" for e in errors)


TYPE_ERRORS = [
    ("ingress: {from: []}", "must be a list, not a mapping", "spec.ingress"),
    (
        "podSelector: {matchLabels: [a, b]}",
        "must be a mapping, not a list",
        "spec.podSelector.matchLabels",
    ),
    ("podSelector: []", "must be a mapping, not a list", "spec.podSelector"),
    (
        "ingress: [{ports: [{port: [1]}]}]",
        "must be an integer or a string",
        "spec.ingress[0].ports[0].port",
    ),
    (
        "ingress: [{ports: [{port: true}]}]",
        "must be an integer or a string",
        "spec.ingress[0].ports[0].port",
    ),
    (
        "ingress: [{ports: [{port: 80, endPort: '90'}]}]",
        "must be an integer, not a string",
        "spec.ingress[0].ports[0].endPort",
    ),
    (
        "ingress: [{ports: [{protocol: 6}]}]",
        "must be a string, not an integer",
        "spec.ingress[0].ports[0].protocol",
    ),
    (
        "ingress: [{from: [{ipBlock: {cidr: [1]}}]}]",
        "must be a string, not a list",
        "spec.ingress[0].from[0].ipBlock.cidr",
    ),
    (
        "ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: 10.1.0.0/16}}]}]",
        "must be a list, not a string",
        "spec.ingress[0].from[0].ipBlock.except",
    ),
    (
        "ingress: [{from: [{podSelector: {matchLabels: {app: 1}}}]}]",
        "must be a string, not an integer",
        "spec.ingress[0].from[0].podSelector.matchLabels.app",
    ),
    (
        "ingress: [{from: [{podSelector: {matchExpressions: {key: a}}}]}]",
        "must be a list, not a mapping",
        "spec.ingress[0].from[0].podSelector.matchExpressions",
    ),
    (
        "ingress: [{from: [{podSelector: {matchExpressions: [{key: a, operator: In, values: x}]}}]}]",  # noqa: E501
        "must be a list, not a string",
        "spec.ingress[0].from[0].podSelector.matchExpressions[0].values",
    ),
    (
        "ingress: [{from: {podSelector: {}}}]",
        "must be a list, not a mapping",
        "spec.ingress[0].from",
    ),
    ("ingress: [[1]]", "must be a mapping, not a list", "spec.ingress[0]"),
    ("policyTypes: Ingress", "must be a list, not a string", "spec.policyTypes"),
]


@pytest.mark.parametrize(("spec", "message", "path"), TYPE_ERRORS)
def test_type_errors_are_located_diagnostics(spec: str, message: str, path: str) -> None:
    result = load_policy(spec)
    assert result.cluster.policies == ()
    assert any(message in e.message and e.source.path == path for e in of(result, "error"))


@pytest.mark.parametrize(
    "spec",
    [
        "podSelector: {}",
        "ingress: [{from: [{ipBlock: {cidr: 10.0.0.1/24, except: [10.0.0.128/25]}}]}]",
        "ingress: [{from: [{ipBlock: {cidr: '2001:db8::/32', except: ['2001:db8:1::/48']}}]}]",
        "ingress: [{from: [{ipBlock: {cidr: 0.0.0.0/0}}]}]",
        "egress: [{ports: [{port: 80, endPort: 80}, {port: 65535}, {protocol: SCTP}]}]",
        "ingress: [{ports: [{port: h2c-web}]}]",
        "podSelector: {matchExpressions: [{key: example.com/tier, operator: NotIn, values: ['']}]}",
        "podSelector: {matchLabels: {app.kubernetes.io/name: My_App.1}}",
        "policyTypes: [Egress, Ingress]",
    ],
)
def test_valid_policies_are_accepted(spec: str) -> None:
    result = load_policy(spec)
    assert not of(result, "error")
    assert len(result.cluster.policies) == 1


def test_metadata_name_is_required() -> None:
    from ._helpers import load

    result = load("kind: NetworkPolicy\nmetadata: {namespace: x}\nspec: {}\n")
    [error] = of(result, "error")
    assert "name or generateName is required" in error.message
    assert error.source.path == "metadata.name"


def test_bad_policy_name_is_a_warning_and_the_policy_kept() -> None:
    from ._helpers import load

    result = load("kind: NetworkPolicy\nmetadata: {name: Bad_Name}\n")
    [warning] = of(result, "warning")
    assert "RFC 1123 subdomain" in warning.message
    assert warning.source.path == "metadata.name"
    assert [p.name for p in result.cluster.policies] == ["Bad_Name"]


def test_bad_object_label_is_a_warning_and_the_object_kept() -> None:
    from ._helpers import load

    result = load("kind: Namespace\nmetadata:\n  name: n\n  labels: {net: a/b}\n")
    [warning] = of(result, "warning")
    assert warning.source.path == "metadata.labels.net"
    assert warning.source.line == 4
    assert ("net", "a/b") in result.cluster.namespaces[0].labels


def test_duplicate_policy_type_is_a_warning_as_the_api_accepts_it() -> None:
    result = load_policy("policyTypes: [Egress, Egress]")
    assert result.cluster.policies[0].policy_types == ("Egress",)
    [warning] = of(result, "warning")
    assert warning.source.path == "spec.policyTypes[1]"


def test_unknown_field_is_a_warning() -> None:
    result = load_policy("podselector: {matchLabels: {app: a}}")
    [warning] = of(result, "warning")
    assert "unknown field 'podselector'" in warning.message
    assert warning.source.line == 5
    assert result.cluster.policies[0].pod_selector.is_empty


def test_parse_cidr_is_strict_but_allows_host_bits() -> None:
    assert str(validate.parse_cidr("10.0.0.1/24")) == "10.0.0.0/24"
    assert str(validate.parse_cidr("2001:db8::1/64")) == "2001:db8::/64"
    for bad in [
        "10.0.0.0",
        "10.0.0.0/255.0.0.0",
        "10.0.0.0/-1",
        "10.0.0.0/+8",
        "fe80::1%eth0/64",
        " 10.0.0.0/8",
    ]:
        assert validate.parse_cidr(bad) is None, bad


def test_qualified_names() -> None:
    assert validate.qualified_name_errors("app") == []
    assert validate.qualified_name_errors("kubernetes.io/metadata.name") == []
    assert validate.qualified_name_errors("")
    assert validate.qualified_name_errors("a/")
