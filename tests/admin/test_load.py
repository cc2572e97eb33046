"""Loading and validating the three kinds as their CRDs do: every rejection is a located
error (file:line and field path) and the object is left out; what the analysis cannot decide
is a located warning."""

from __future__ import annotations

import pytest

from netpolicy.load import load_text
from netpolicy.model import LabelSelector

GROUP = "apiVersion: policy.networking.k8s.io/"
HEAD = {
    "AdminNetworkPolicy": GROUP
    + "v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: p}\nspec:\n  priority: 1\n",
    "BaselineAdminNetworkPolicy": GROUP
    + "v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec:\n",
    "ClusterNetworkPolicy": GROUP
    + "v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: p}\nspec:\n"
    + "  tier: Admin\n  priority: 1\n",
}
SUBJECT = "  subject: {namespaces: {}}\n"


def test_all_three_kinds_load() -> None:
    text = "---\n".join(
        HEAD[k] + SUBJECT + f"  egress:\n  - action: {a}\n    to: [{{namespaces: {{}}}}]\n"
        for k, a in (
            ("AdminNetworkPolicy", "Pass"),
            ("BaselineAdminNetworkPolicy", "Allow"),
            ("ClusterNetworkPolicy", "Accept"),
        )
    )
    loaded = load_text(text, "p.yaml")
    assert not loaded.errors
    kinds = [(p.kind, p.tier, p.egress[0].action) for p in loaded.cluster.cluster_policies]
    assert kinds == [
        ("AdminNetworkPolicy", "Admin", "Pass"),
        ("BaselineAdminNetworkPolicy", "Baseline", "Allow"),
        ("ClusterNetworkPolicy", "Admin", "Accept"),
    ]
    assert loaded.cluster.cluster_policies[0].namespace_selector == LabelSelector()


def test_ports_and_protocols() -> None:
    anp = (
        HEAD["AdminNetworkPolicy"]
        + SUBJECT
        + (
            "  ingress:\n  - action: Allow\n    from: [{namespaces: {}}]\n    ports:\n"
            "    - portNumber: {protocol: UDP, port: 53}\n"
            "    - portRange: {start: 80, end: 90}\n"
            "    - namedPort: http\n"
        )
    )
    cnp = (
        HEAD["ClusterNetworkPolicy"]
        + SUBJECT
        + (
            "  ingress:\n  - action: Accept\n    from: [{namespaces: {}}]\n    protocols:\n"
            "    - udp: {destinationPort: {number: 53}}\n"
            "    - tcp: {destinationPort: {range: {start: 80, end: 90}}}\n"
            "    - destinationNamedPort: http\n"
        )
    )
    for text in (anp, cnp):
        loaded = load_text(text, "p.yaml")
        assert not loaded.errors
        ports = loaded.cluster.cluster_policies[0].ingress[0].ports
        assert [(p.protocol, p.port, p.end_port) for p in ports] == [
            ("UDP", 53, None),
            ("TCP", 80, 90),
            (None, "http", None),
        ]


RULE = "  egress:\n  - action: Deny\n    to: [{namespaces: {}}]\n"


@pytest.mark.parametrize(
    ("kind", "body", "path", "words"),
    [
        ("AdminNetworkPolicy", SUBJECT + RULE, None, None),
        (
            "AdminNetworkPolicy",
            "  subject: {namespaces: {}, pods: {namespaceSelector: {}, podSelector: {}}}\n" + RULE,
            "spec.subject",
            "exactly one field must be set in a subject",
        ),
        ("AdminNetworkPolicy", RULE, "spec.subject", "Required value"),
        (
            "AdminNetworkPolicy",
            SUBJECT + "  egress:\n  - action: Deny\n    to: []\n",
            "spec.egress[0].to",
            "to field must be defined and contain at least one item",
        ),
        (
            "AdminNetworkPolicy",
            SUBJECT + "  ingress:\n  - action: Allow\n",
            "spec.ingress[0].from",
            "from field must be defined and contain at least one item",
        ),
        (
            "AdminNetworkPolicy",
            SUBJECT + "  egress:\n  - action: Accept\n    to: [{namespaces: {}}]\n",
            "spec.egress[0].action",
            'Unsupported value: "Accept"',
        ),
        (
            "BaselineAdminNetworkPolicy",
            SUBJECT + "  egress:\n  - action: Pass\n    to: [{namespaces: {}}]\n",
            "spec.egress[0].action",
            'Unsupported value: "Pass"',
        ),
        (
            "ClusterNetworkPolicy",
            SUBJECT + "  egress:\n  - action: Allow\n    to: [{namespaces: {}}]\n",
            "spec.egress[0].action",
            'Unsupported value: "Allow"',
        ),
        (
            "AdminNetworkPolicy",
            SUBJECT
            + "  egress:\n  - action: Deny\n    to: [{namespaces: {}, networks: [10.0.0.0/8]}]\n",
            "spec.egress[0].to[0]",
            "exactly one field must be set in a rule peer",
        ),
        (
            "AdminNetworkPolicy",
            SUBJECT + "  ingress:\n  - action: Deny\n    from: [{networks: [10.0.0.0/8]}]\n",
            "spec.ingress[0].from[0].networks",
            "not a ingress peer field",
        ),
        (
            "AdminNetworkPolicy",
            SUBJECT + "  egress:\n  - action: Deny\n    to: [{networks: [10.0.0.0/33]}]\n",
            "spec.egress[0].to[0].networks[0]",
            "invalid CIDR address",
        ),
        (
            "AdminNetworkPolicy",
            SUBJECT
            + "  egress:\n  - action: Allow\n    to: [{networks: [10.0.0.0/8]}]\n"
            + "    ports: [{namedPort: http}]\n",
            "spec.egress[0].to[0]",
            "cannot be set with named ports",
        ),
        (
            "AdminNetworkPolicy",
            SUBJECT
            + "  egress:\n  - action: Deny\n    to: [{namespaces: {}}]\n"
            + "    ports: [{portNumber: {port: 80}, namedPort: http}]\n",
            "spec.egress[0].ports[0]",
            "exactly one field must be set in an AdminNetworkPolicyPort",
        ),
        (
            "AdminNetworkPolicy",
            SUBJECT
            + "  egress:\n  - action: Deny\n    to: [{namespaces: {}}]\n"
            + "    ports: [{portRange: {start: 10, end: 1}}]\n",
            "spec.egress[0].ports[0].portRange",
            "port range 10-1",
        ),
        (
            "ClusterNetworkPolicy",
            SUBJECT
            + "  egress:\n  - action: Deny\n    to: [{namespaces: {}}]\n"
            + "    protocols: [{tcp: {destinationPort: {range: {start: 80, end: 80}}}}]\n",
            "spec.egress[0].protocols[0].tcp.destinationPort.range",
            "start must be less than end",
        ),
        (
            "AdminNetworkPolicy",
            SUBJECT
            + "  egress:\n  - action: Deny\n    to: [{namespaces: {}}]\n"
            + "    ports: [{portNumber: {protocol: TCP, port: 70000}}]\n",
            "spec.egress[0].ports[0].portNumber.port",
            "between 1 and 65535",
        ),
        (
            "AdminNetworkPolicy",
            SUBJECT + "  egress:\n  - action: Deny\n    to: [{domainNames: [example.com]}]\n",
            "spec.egress[0].to[0].domainNames",
            "only supported in Allow rules",
        ),
    ],
)
def test_crd_rejections_are_located(
    kind: str, body: str, path: str | None, words: str | None
) -> None:
    loaded = load_text(HEAD[kind] + body, "p.yaml")
    if path is None:
        assert not loaded.errors and loaded.cluster.cluster_policies
        return
    found = [e for e in loaded.errors if e.source.path == path]
    assert found, [str(e) for e in loaded.errors]
    assert words in found[0].message
    assert found[0].source.line > 1
    assert not loaded.cluster.cluster_policies


def test_priority_and_baseline_name() -> None:
    text = HEAD["AdminNetworkPolicy"].replace("priority: 1", "priority: 1001") + SUBJECT + RULE
    loaded = load_text(text, "p.yaml")
    assert [(e.source.path, e.source.line) for e in loaded.errors] == [("spec.priority", 5)]
    text = HEAD["BaselineAdminNetworkPolicy"].replace("name: default", "name: other") + SUBJECT
    loaded = load_text(text, "p.yaml")
    assert [e.source.path for e in loaded.errors] == ["metadata.name"]


def test_undecidable_peers_are_warned_with_their_location() -> None:
    text = (
        HEAD["AdminNetworkPolicy"]
        + SUBJECT
        + (
            "  egress:\n  - action: Allow\n    to:\n    - nodes: {}\n"
            "    - domainNames: [example.com]\n"
        )
    )
    loaded = load_text(text, "p.yaml")
    assert not loaded.errors
    warned = {d.source.path: d for d in loaded.diagnostics if d.code == "undecidable-peer"}
    assert set(warned) == {"spec.egress[0].to[0].nodes", "spec.egress[0].to[1].domainNames"}
    assert all("open" in d.message for d in warned.values())


def test_same_priority_overlap_warns_with_both_locations() -> None:
    one = HEAD["AdminNetworkPolicy"] + SUBJECT + RULE
    two = one.replace("name: p", "name: q")
    disjoint = two.replace("name: q", "name: r").replace(
        "namespaces: {}}", "namespaces: {matchLabels: {x: a}}}", 1
    )
    apart = one.replace("name: p", "name: s").replace(
        "namespaces: {}}", "namespaces: {matchLabels: {x: b}}}", 1
    )
    loaded = load_text("---\n".join([one, two]), "p.yaml")
    warned = [d for d in loaded.diagnostics if d.code == "same-priority-overlap"]
    assert len(warned) == 1
    assert "p.yaml:1" in warned[0].message and warned[0].source.path == "spec.priority"
    loaded = load_text("---\n".join([disjoint, apart]), "p.yaml")
    assert not [d for d in loaded.diagnostics if d.code == "same-priority-overlap"]
