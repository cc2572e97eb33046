"""What `generate` writes: its shape, its order, its refusals, and that it lints clean."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings

from netpolicy import api
from netpolicy.generate.policies import MARKER, generate_policies
from netpolicy.load import load_text
from netpolicy.model import Cluster

from .test_intents import ISSUE_EXAMPLE
from .test_roundtrip import World, cases

DEMO = api.load_demo().cluster


def _generate(text: str, cluster: Cluster = DEMO, **options: bool):  # type: ignore[no-untyped-def]
    return api.generate(text, cluster, **options)


def _names(generated) -> list[str]:  # type: ignore[no-untyped-def]
    return [g.policy.key for g in generated.policies]


def test_the_issue_example_on_the_demo() -> None:
    g = _generate(ISSUE_EXAMPLE)
    assert not g.has_errors, g.diagnostics
    assert _names(g) == [
        "payments/default-deny",
        "payments/allow-dns",
        "payments/db-ingress",
        "shop/default-deny",
        "shop/allow-dns",
        "shop/backend-ingress",
        "shop/frontend-ingress",
        "shop/backend-egress",
        "shop/frontend-egress",
    ]
    assert g.proof.ok and g.proof.allowed_pairs == 3
    assert [k.key for k in g.replaced] == [p.key for p in DEMO.policies]
    db = next(p.policy for p in g.policies if p.policy.key == "payments/db-ingress")
    (rule,) = db.ingress
    (peer,) = rule.peers
    # the source by its own labels AND its namespace, in one peer
    assert str(peer.pod_selector) == "app=backend"
    assert str(peer.namespace_selector) == "kubernetes.io/metadata.name=shop"
    assert [(p.protocol, p.port) for p in rule.ports] == [("TCP", "postgres")]


def test_yaml_comments_name_the_intents_and_load_back_as_generated() -> None:
    g = _generate(ISSUE_EXAMPLE)
    shop = g.yaml["shop"]
    assert shop.startswith(MARKER)
    comment = "  # intent #1 (<intents>:6): shop/frontend -> shop/backend : 8080/TCP"
    assert f"{comment}\n  - from:" in shop
    assert "  # DNS: UDP and TCP 53 to kube-system/kube-dns\n  - to:" in shop
    loaded = load_text(g.text(), filename="generated.yaml")
    assert [d for d in loaded.diagnostics if d.severity != "info"] == []
    assert loaded.cluster.policies == tuple(p.policy for p in g.policies)


def test_output_is_deterministic_and_independent_of_intent_order() -> None:
    first = _generate(ISSUE_EXAMPLE).text()
    assert _generate(ISSUE_EXAMPLE).text() == first
    lines = ISSUE_EXAMPLE.splitlines()
    head, body = lines[:5], lines[5:]
    swapped = "\n".join(head + body[6:9] + body[3:6] + body[0:3]) + "\n"
    again = _generate(swapped)
    strip = [line for line in again.text().splitlines() if "# intent" not in line]
    assert strip == [line for line in first.splitlines() if "# intent" not in line]


MERGE = textwrap.dedent(
    """\
    apiVersion: netpolicy/v1
    kind: Intents
    namespaces: [shop]
    dns: false
    intents:
      - {from: shop/frontend, to: shop/backend, ports: [8080/TCP]}
      - {from: monitoring/prometheus, to: shop/backend, ports: [8080/TCP]}
      - {from: shop/frontend, to: shop/backend, ports: [metrics]}
      - {from: shop/cart, to: shop/backend}
      - {from: monitoring/prometheus, to: shop/backend, ports: [metrics]}
    """
)


def test_fewest_rules_merge_peers_and_ports() -> None:
    g = _generate(MERGE)
    assert not g.has_errors, g.diagnostics
    backend = next(p for p in g.policies if p.policy.key == "shop/backend-ingress")
    rules = [
        ([str(peer.pod_selector) for peer in r.rule.peers], [str(p.port) for p in r.rule.ports])
        for r in backend.rules
    ]
    # frontend and prometheus want the same ports: one rule (peers by namespace, then
    # labels); cart wants every port
    assert rules == [(["app=prometheus", "app=frontend"], ["8080", "metrics"]), (["app=cart"], [])]
    assert [[i.index for i in r.intents] for r in backend.rules] == [[1, 2, 3, 5], [4]]
    assert g.proof.ok
    # monitoring is not governed: only the ingress side of prometheus is written
    assert "monitoring" not in g.yaml


def test_ingress_only_writes_no_egress_policy() -> None:
    g = _generate(ISSUE_EXAMPLE, ingress_only=True)
    assert all(p.policy.egress == () and p.policy.policy_types == ("Ingress",) for p in g.policies)
    assert _names(g) == [
        "payments/default-deny",
        "payments/db-ingress",
        "shop/default-deny",
        "shop/backend-ingress",
        "shop/frontend-ingress",
    ]
    assert g.proof.ok and list(g.proof.checks) == ["ingress half", "connections"]


def test_no_dns() -> None:
    g = _generate(ISSUE_EXAMPLE, dns=False)
    assert not any(p.policy.name == "allow-dns" for p in g.policies)
    assert g.proof.ok


WEAK = textwrap.dedent(
    """\
    apiVersion: v1
    kind: Namespace
    metadata: {name: web}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: shop, namespace: web}
    spec:
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec: {containers: [{name: c, image: x, ports: [{containerPort: 80, name: http}]}]}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: shop-canary, namespace: web}
    spec:
      selector: {matchLabels: {app: web, track: canary}}
      template:
        metadata: {labels: {app: web, track: canary}}
        spec: {containers: [{name: c, image: x}]}
    """
)


def test_labels_too_weak_stop_with_the_workload_and_the_label_to_add() -> None:
    cluster = load_text(WEAK, filename="weak.yaml").cluster
    intents = (
        "apiVersion: netpolicy/v1\nkind: Intents\nnamespaces: [web]\nintents:\n"
        "  - {from: web/shop-canary, to: web/shop, ports: [http]}\n"
        "  - {from: web/shop, to: web/shop-canary}\n"
    )
    g = _generate(intents, cluster)
    assert g.has_errors and g.policies == () and g.proof is None
    (problem,) = [d for d in g.diagnostics if d.severity == "error"]
    assert problem.code == "weak-labels"
    assert problem.message == (
        "intent #1: the labels of web/shop[Deployment] (app=web) also select "
        "web/shop-canary[Deployment]: no policy can select it alone. Add a label only it "
        "carries to its pod template, e.g. netpolicy.io/name: shop"
    )
    assert str(problem.source) == "<intents>:5"
    # the canary has a label of its own: selecting it alone is fine
    only_canary = intents.replace("  - {from: web/shop, to: web/shop-canary}\n", "")
    only_canary = only_canary.replace("to: web/shop,", "to: web/*,")
    found = _generate(only_canary, cluster)
    assert not found.has_errors, found.diagnostics
    assert found.proof.ok


@pytest.mark.parametrize(
    ("intent", "message"),
    [
        ("{from: shop/nope, to: shop/backend}", "shop/nope is no workload or pod of the cluster"),
        (
            "{from: shop/frontend, to: shop/backend, ports: [grpc]}",
            "no pod of shop/backend[Deployment] declares a TCP port named 'grpc' (its ports: "
            "http 8080/TCP, metrics 9090/TCP)",
        ),
    ],
)
def test_endpoint_errors(intent: str, message: str) -> None:
    text = f"apiVersion: netpolicy/v1\nkind: Intents\nnamespaces: [shop]\nintents:\n  - {intent}\n"
    g = _generate(text)
    assert g.policies == ()
    errors = [d.message for d in g.diagnostics if d.severity == "error"]
    assert len(errors) == 1 and message in errors[0], errors


def test_intents_governing_nothing_warn() -> None:
    text = (
        "apiVersion: netpolicy/v1\nkind: Intents\nnamespaces: [payments]\nintents:\n"
        "  - {from: shop/frontend, to: shop/backend, ports: [http]}\n"
    )
    g = _generate(text)
    assert not g.has_errors and g.proof.ok
    assert any("nothing is generated for it" in d.message for d in g.diagnostics)


def _lint_findings(cluster: Cluster) -> list[str]:
    report = api.lint(cluster)
    return [
        f"{f.severity} {f.check} {f.object}: {f.message}"
        for f in report.findings
        if f.severity != "info"
    ]


def test_generated_policies_lint_clean_on_the_demo() -> None:
    for options in ({}, {"ingress_only": True}, {"dns": False}):
        g = _generate(ISSUE_EXAMPLE, **options)
        loaded = load_text(g.text(), filename="generated.yaml").cluster.policies
        kept = tuple(p for p in DEMO.policies if p.namespace not in g.intents.namespaces)
        cluster = Cluster(DEMO.namespaces, DEMO.pods, DEMO.workloads, kept + loaded)
        findings = _lint_findings(cluster)
        if options.get("dns") is False:
            # without DNS the egress-isolated pods cannot resolve names: lint says so, rightly
            assert findings and all("dns-egress-blocked" in f for f in findings)
        else:
            assert findings == [], findings


@settings(max_examples=60)
@given(cases())
def test_generated_policies_lint_clean_on_random_clusters(case: tuple[World, object]) -> None:
    world, intents = case
    g = generate_policies(intents, world.cluster)  # type: ignore[arg-type]
    if g.has_errors:
        return
    assert g.cluster is not None
    cluster = g.cluster
    findings = _lint_findings(cluster)
    # what lint may rightly say of a correct configuration built from these random intents:
    # an ipBlock intent whose CIDR holds pod IPs; a selector or namespace intent matching no
    # pod; DNS (when the world has no DNS pod or DNS is off); a named port a pod lacks
    allowed = (
        "ipblock-covers-pods",
        "peer-selects-nothing",
        "policy-selects-nothing",
        "dns-egress-blocked",
        "named-port-unmatched",
        "cloud-metadata-reachable",
    )
    if intents.dns:  # type: ignore[attr-defined]
        allowed = tuple(a for a in allowed if a != "dns-egress-blocked")
    unexpected = [f for f in findings if f.split()[1] not in allowed]
    assert unexpected == [], unexpected
    errors = [f for f in findings if f.startswith("error")]
    assert errors == []


def test_the_example_policies_are_what_generate_writes() -> None:
    """examples/shop/policies (the README walk-through) are up to date with the generator."""
    from pathlib import Path

    from netpolicy.generate.intents import load_intents
    from netpolicy.load import load_manifests

    repo = Path(__file__).resolve().parents[2]
    example = repo / "examples" / "shop"
    intents, problems = load_intents(
        (example / "intents.yaml").read_text(), filename="examples/shop/intents.yaml"
    )
    assert problems == []
    cluster = load_manifests([example / "workloads.yaml"]).cluster
    g = api.generate(intents, cluster)
    assert g.proof.ok and not g.has_errors
    for ns, text in g.yaml.items():
        assert (example / "policies" / f"{ns}.yaml").read_text() == text, (
            "regenerate: netpolicy generate examples/shop/intents.yaml --cluster "
            "examples/shop/workloads.yaml -o examples/shop/policies"
        )


def test_a_bare_port_name_takes_the_protocol_the_destination_declares() -> None:
    from netpolicy.model import ContainerPort, Namespace, OwnerRef, Pod, labels_of

    cluster = Cluster(
        (Namespace("a"),),
        (
            Pod("a", "client", labels_of({"app": "client"})),
            Pod(
                "a",
                "dns-0",
                labels_of({"app": "dns"}),
                ports=(ContainerPort(53, "UDP", "dns"), ContainerPort(53, "TCP", "dns")),
                owner=OwnerRef("StatefulSet", "dns"),
            ),
            Pod(
                "a",
                "syslog",
                labels_of({"app": "syslog"}),
                ports=(ContainerPort(514, "UDP", "log"),),
            ),
        ),
    )
    text = (
        "apiVersion: netpolicy/v1\nkind: Intents\nnamespaces: [a]\ndns: false\nintents:\n"
        "  - {from: a/client, to: a/dns, ports: [dns]}\n"
        "  - {from: a/client, to: a/syslog, ports: [log]}\n"
        "  - {from: a/client, to: a/syslog, ports: [log/TCP]}\n"
    )
    g = _generate(text, cluster)
    errors = [d.message for d in g.diagnostics if d.severity == "error"]
    # log/TCP asked for TCP explicitly: syslog declares log on UDP only
    assert errors == [
        "intent #3: no pod of a/syslog declares a TCP port named 'log' (its ports: log 514/UDP)"
    ]
    g = _generate(
        text.replace("  - {from: a/client, to: a/syslog, ports: [log/TCP]}\n", ""), cluster
    )
    assert g.proof.ok, g.diagnostics
    ports = {
        p.policy.name: [(x.protocol, x.port) for r in p.policy.ingress for x in r.ports]
        for p in g.policies
    }
    assert ports["dns-ingress"] == [("TCP", "dns"), ("UDP", "dns")]
    assert ports["syslog-ingress"] == [("UDP", "log")]


def test_a_host_network_workload_cannot_be_selected() -> None:
    from netpolicy.model import Namespace, Pod, labels_of

    cluster = Cluster(
        (Namespace("a"),),
        (
            Pod("a", "agent", labels_of({"run": "agent"}), host_network=True),
            Pod("a", "web", labels_of({"app": "web"})),
        ),
    )
    text = (
        "apiVersion: netpolicy/v1\nkind: Intents\nnamespaces: [a]\nintents:\n"
        "  - {from: a/agent, to: a/web}\n  - {from: a/web, to: a/gone}\n"
    )
    g = _generate(text, cluster)
    assert [d.message for d in g.diagnostics if d.severity == "error"] == [
        "intent #1: a/agent uses the host network: no NetworkPolicy selects its pods",
        "intent #2: a/gone is no workload or pod of the cluster (namespace a: a/web)",
    ]
