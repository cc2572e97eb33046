"""Cluster-wide guardrails on real packets (root, ip, nft; skipped otherwise).

The lab's expected verdicts come from the engine, which evaluates the tier chain (Admin,
NetworkPolicy, Baseline, default); the router enforces `render_ruleset`'s tier chains. They
must agree on every probe, for netpolicy's own fixture (every tier, action and port kind at
once, with verdicts checked by hand against the API's field comments) and for the peer
suite's ANP/BANP scenarios (read from ../shared; skipped with the reason where absent).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from netpolicy.enforce import RulesetOptions, render_ruleset
from netpolicy.lab.verify import LabReport, plan_lab, run_plan, verify
from netpolicy.load import load_manifests, load_text
from netpolicy.model import Cluster

pytestmark = pytest.mark.lab

DATA = Path(__file__).with_name("data")
FIXTURE = DATA / "guardrails-tiers.yaml"

# (source, destination, port, protocol): passes the router, with the reason from the API
HAND_CHECKED: dict[tuple[str, str, int, str], bool] = {
    # ANP monitoring-always (priority 5) Allow on the port named metrics overrides the
    # NetworkPolicy that only admits tenant-a's own pods
    ("monitoring/prom", "tenant-a/web", 8080, "TCP"): True,
    # ANP tenant-a-guard Pass -> NP web-from-own-namespace: tenant-b is not its peer
    ("tenant-b/web", "tenant-a/web", 80, "TCP"): False,
    ("tenant-a/db", "tenant-a/web", 80, "TCP"): True,
    # ANP tenant-a-guard rule #1 Deny (TCP 5432) before the CNP lock-db's Accept
    ("tenant-b/web", "tenant-a/db", 5432, "TCP"): False,
    # Pass skips the rest of the Admin tier (lock-db's Deny): no NP selects db, so the BANP
    # allows the port named echo (SCTP 7) from tenants
    ("tenant-b/web", "tenant-a/db", 7, "SCTP"): True,
    # from tenant-a no Pass: CNP lock-db rule #2 Deny
    ("tenant-a/web", "tenant-a/db", 7, "SCTP"): False,
    # CNP lock-db rule #1 Accept, destinationNamedPort pg
    ("tenant-a/web", "tenant-a/db", 5432, "TCP"): True,
    ("infra/dns", "tenant-a/db", 5432, "TCP"): False,
    # BANP http from tenants (named port http = 8050 on api); Admin egress Deny 8000-8100
    ("tenant-b/web", "tenant-b/api", 8050, "TCP"): True,
    ("tenant-a/web", "tenant-b/api", 8050, "TCP"): False,
    # Admin egress Allow to networks (dns by its IP) still needs dns's ingress: NP denies
    ("tenant-a/web", "infra/dns", 53, "UDP"): False,
    ("tenant-b/api", "infra/dns", 53, "UDP"): True,
    ("tenant-b/web", "infra/dns", 53, "TCP"): False,
    # Baseline CNP: Pass to 10.50.3.0/24 (prom) goes to the default; grafana gets the Deny
    ("tenant-a/web", "monitoring/prom", 9090, "TCP"): True,
    ("tenant-a/web", "monitoring/grafana", 9090, "TCP"): False,
    ("infra/dns", "monitoring/grafana", 9090, "TCP"): True,
    # Baseline CNP Deny on a UDP range
    ("tenant-a/web", "tenant-b/api", 5353, "UDP"): False,
    # monitoring-always: named port metrics = 9001 on tenant-b/web; BANP denies the rest
    ("monitoring/prom", "tenant-b/web", 9001, "TCP"): True,
    ("monitoring/prom", "tenant-b/web", 80, "TCP"): False,
}

# every tier rule that the probes above must have counted at least once
COUNTED = (
    "ANP monitoring-always ingress rule #1 (scrape) Allow",
    "ANP tenant-a-guard ingress rule #1 (no-db-from-b) Deny",
    "ANP tenant-a-guard ingress rule #2 (rest-of-b-to-namespace-owners) Pass",
    "ANP tenant-a-guard egress rule #1 (dns-by-address) Allow",
    "ANP tenant-a-guard egress rule #2 (no-b-high-ports) Deny",
    "CNP lock-db ingress rule #1 (web-to-pg) Accept",
    "CNP lock-db ingress rule #2 (nothing-else) Deny",
    "BANP default ingress rule #1 (http-and-echo-from-tenants) Allow",
    "BANP default ingress rule #2 (deny-rest) Deny",
    "CNP tenant-egress-baseline egress rule #1 (monitoring-to-default) Pass",
    "CNP tenant-egress-baseline egress rule #2 (no-9090) Deny",
    "CNP tenant-egress-baseline egress rule #3 (no-mdns) Deny",
)

# peer-suite scenarios: Admin and Baseline rules with Pass, NetworkPolicies behind some
PEER_SCENARIOS = (
    "anp_banp_blog_demo",
    "anp_banp_blog_demo_2",
    "anp_banp_core_test",
    "anp_banp_explain_demo_2",
    "anp_banp_test_with_named_port_matched",
    "anp_demo",
    "anp_np_banp_core_test",
    "anp_test_3_pass_traffic",
    "anp_test_4_with_priority_chang_pass_to_banp",
    "anp_test_multiple_anps",
    "anp_with_banp_new_test",
    "anp_with_banp_pass_test",
    "anp_with_np_and_banp_pass_test",
    "anp_with_np_pass_test",
    "anp_and_banp_using_networks_test",
    "banp_test_core_gress_rules",
    "exposure_test_with_anp_3_w_banp",
)


def summary(report: LabReport) -> str:
    lines = [f"{len(report.disagreements)} disagreements, {len(report.engine_mismatches)} engine"]
    lines += [
        f"  {o.src} -> {o.dst} {o.port}/{o.protocol}: expected {o.expected}, "
        f"{o.detail} ({o.reason})"
        for o in report.disagreements[:20]
    ]
    lines += [f"  engine: {m}" for m in report.engine_mismatches[:20]]
    return "\n".join(lines)


def fixture_cluster() -> Cluster:
    loaded = load_manifests([FIXTURE])
    assert [d for d in loaded.diagnostics if d.severity == "error"] == []
    return loaded.cluster


def has_every_tier_and_pass(cluster: Cluster) -> bool:
    tiers = {p.tier for p in cluster.cluster_policies}
    actions = {r.action for p in cluster.cluster_policies for r in (*p.ingress, *p.egress)}
    return tiers == {"Admin", "Baseline"} and "Pass" in actions


def test_fixture_verifies_with_the_tier_rules_counting(lab_prefix: str) -> None:
    cluster = fixture_cluster()
    assert has_every_tier_and_pass(cluster)
    plan = plan_lab(cluster, ports="policy")
    report = run_plan(plan, prefix=lab_prefix, read_counters=True)
    assert report.ok, summary(report)
    assert report.agreed == len(report.outcomes) > 300
    assert report.engine_mismatches == ()
    observed = {(o.src, o.dst, o.port, o.protocol): o.observed for o in report.outcomes}
    wrong = {probe: want for probe, want in HAND_CHECKED.items() if observed[probe] != want}
    assert wrong == {}, "the packets differ from the hand-checked verdicts"
    # denied probes are rejected by the router, as NetworkPolicy denials are
    assert {o.detail for o in report.outcomes if not o.observed} <= {"unreachable", "prohibited"}
    packets: dict[str, int] = {}
    for stat in report.rule_counters:
        packets[stat.comment] = packets.get(stat.comment, 0) + stat.packets
    missing = [rule for rule in COUNTED if packets.get(rule, 0) == 0]
    assert missing == [], "tier rules that no probe reached"
    # the `nodes` peer matches no address, so its rule renders to nothing
    assert not any("no-nodes" in comment for comment in packets)


def test_fixture_without_tier_chains_disagrees(lab_prefix: str) -> None:
    """The comparison is not vacuous: the NetworkPolicy-only ruleset fails the tier plan."""
    plan = plan_lab(fixture_cluster(), ports="policy", cross_check=False)
    bare = dataclasses.replace(plan.cluster, cluster_policies=())
    ruleset = render_ruleset(bare, RulesetOptions(tcp_reset=False))
    report = run_plan(dataclasses.replace(plan, ruleset=ruleset), prefix=lab_prefix)
    assert not report.ok
    wrong = {(o.src, o.dst, o.port, o.protocol) for o in report.disagreements}
    assert ("tenant-b/web", "tenant-a/db", 5432, "TCP") in wrong  # the Admin Deny
    assert ("monitoring/prom", "tenant-a/web", 8080, "TCP") in wrong  # the Admin Allow


@pytest.mark.parametrize("scenario", PEER_SCENARIOS)
def test_peer_suite_guardrail_scenario_verifies(
    scenario: str, peer_suite: Path, lab_prefix: str
) -> None:
    folder = peer_suite / "tests" / scenario
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    cluster = load_manifests([folder]).cluster
    assert cluster.cluster_policies, "the scenario's guardrails did not load"
    report = verify(cluster, prefix=lab_prefix, ports="policy")
    assert len(report.pods) >= 2
    assert report.ok, summary(report)
    assert report.agreed == len(report.outcomes) > 0


def test_at_least_five_peer_scenarios_have_both_tiers_pass_and_both_verdicts(
    peer_suite: Path,
) -> None:
    """The Done-when of issue 13: five scenarios with Admin and Baseline rules, Pass included,
    each with allowed and denied probes (the parametrized test above runs them)."""
    rich = []
    for scenario in PEER_SCENARIOS:
        folder = peer_suite / "tests" / scenario
        if not folder.is_dir():
            continue
        cluster = load_manifests([folder]).cluster
        expected = plan_lab(cluster, ports="policy", cross_check=False).probes.expected
        if has_every_tier_and_pass(cluster) and expected.any() and not expected.all():
            rich.append(scenario)
    assert len(rich) >= 5, rich


IPV6 = """
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {app: a}}
spec: {containers: [{name: c, ports: [{containerPort: 80}, {containerPort: 443}]}]}
status: {podIP: "fd00:10::a"}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: x, labels: {app: b}}
spec: {containers: [{name: c, ports: [{containerPort: 80}, {containerPort: 443}]}]}
status: {podIP: "fd00:20::b"}
---
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: y, labels: {app: c}}
spec: {containers: [{name: c, ports: [{containerPort: 80}, {containerPort: 443}]}]}
status: {podIP: "fd00:20::c"}
---
apiVersion: v1
kind: Pod
metadata: {name: v4, namespace: y, labels: {app: v4}}
spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}
status: {podIP: 10.3.0.2}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: v6-guard}
spec:
  priority: 3
  subject: {namespaces: {}}
  egress:
  - {name: no-80-to-20, action: Deny, to: [{networks: ["fd00:20::/64"]}],
     ports: [{portNumber: {protocol: TCP, port: 80}}]}
  - {name: rest-to-20, action: Pass, to: [{networks: ["fd00:20::/64"]}]}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: y}}}
  ingress:
  - {name: only-443, action: Deny, from: [{namespaces: {}}],
     ports: [{portRange: {protocol: TCP, start: 1, end: 442}}]}
"""


def test_ipv6_pods_under_both_tiers(lab_prefix: str) -> None:
    """IPv6 subjects and networks reach the tier chains through the ip6 maps."""
    cluster = load_text(IPV6, filename="ipv6.yaml").cluster
    assert "egress_admin_ip6" in render_ruleset(cluster, RulesetOptions())
    report = verify(cluster, prefix=lab_prefix, ports="policy")
    assert report.ok, summary(report)
    observed = {(o.src, o.dst, o.port): o.observed for o in report.outcomes}
    assert observed[("x/a", "x/b", 80)] is False  # Admin Deny by network
    assert observed[("x/a", "x/b", 443)] is True  # Pass, no NP, no Baseline for x
    assert observed[("x/a", "y/c", 80)] is False  # Admin Deny before the Baseline
    assert observed[("x/b", "x/a", 80)] is True  # outside fd00:20::/64
    assert observed[("x/b", "y/c", 443)] is True  # Pass -> Baseline: 443 not denied
