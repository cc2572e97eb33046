"""Round trip of `generate --tier admin|baseline`: random clusters and random intents ->
ClusterNetworkPolicies (v1alpha2) and the NetworkPolicies beside them -> their YAML through the
real loader -> the connection list equals the intents plus DNS, exactly, as without `--tier`
(`test_roundtrip` computes the expectation from the intents alone); and the built-in proof,
which asks the engine with its tiers, agrees."""

from __future__ import annotations

from typing import Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from netpolicy.generate.intents import Endpoint, Intent, IntentPort, Intents
from netpolicy.generate.policies import generate_policies
from netpolicy.generate.tiers import CLUSTER_KEY
from netpolicy.load import load_text
from netpolicy.model import Cluster, ContainerPort, Namespace, Pod, labels_of
from netpolicy.semantics import IntervalSet, address_atoms, network_set
from tests.generate.test_roundtrip import World, _difference, actual, cases, expected

Tier = Literal["admin", "baseline"]


def _apply(world: World, text: str, governed: set[str]) -> Cluster:
    loaded = load_text(text, filename="generated.yaml")
    assert not [d for d in loaded.diagnostics if d.severity == "error"], loaded.diagnostics
    kept = tuple(p for p in world.cluster.policies if p.namespace not in governed)
    return Cluster(
        world.cluster.namespaces,
        world.cluster.pods,
        world.cluster.workloads,
        kept + loaded.cluster.policies,
        cluster_policies=loaded.cluster.cluster_policies,
    )


def _pieces(cluster: Cluster) -> list[IntervalSet]:
    """The outside ranges the engine lists: cut by the ipBlocks and the `networks` peers."""
    blocks = [
        network_set(peer.ip_block.cidr)
        for p in cluster.policies
        for r in (*p.ingress, *p.egress)
        for peer in r.peers
        if peer.ip_block is not None
    ] + [
        network_set(cidr)
        for cp in cluster.cluster_policies
        for r in (*cp.ingress, *cp.egress)
        for peer in r.peers
        for cidr in peer.networks
    ]
    ipv6 = any(p.ip is not None and ":" in p.ip for p in cluster.pods)
    return address_atoms(blocks, ipv6=ipv6 or None)


REFUSALS = ("declares", "the CIDR holds pods")
"""What --tier refuses in these worlds: a named port no destination declares (as without
--tier) or declares on another protocol too, and (admin) ingress from pods inside a CIDR."""


def _check(world: World, intents: Intents, tier: Tier, *, ingress_only: bool) -> None:
    generated = generate_policies(intents, world.cluster, ingress_only=ingress_only, tier=tier)
    errors = [d for d in generated.diagnostics if d.severity == "error"]
    if errors:
        assert all(any(r in d.message for r in REFUSALS) for d in errors), errors
        return
    assert generated.proof is not None and generated.proof.ok, generated.proof.mismatches[:3]
    assert all(g.policy.kind == "ClusterNetworkPolicy" for g in generated.cluster_policies)
    # only the outside-ingress part stays a NetworkPolicy: no egress NetworkPolicy at all
    assert not any(g.policy.egress for g in generated.policies)
    governed = set(intents.namespaces)
    final = _apply(world, generated.text(), governed)
    got = actual(final, governed, ingress_only=ingress_only)
    want = expected(world, intents, _pieces(final), ingress_only=ingress_only, dns=intents.dns)
    assert got == want, _difference(got, want)


@settings(max_examples=120)
@given(cases(), st.sampled_from(("admin", "baseline")))
def test_tiered_policies_allow_exactly_the_intents(case: tuple[World, Intents], tier: Tier) -> None:
    world, intents = case
    _check(world, intents, tier, ingress_only=False)


@settings(max_examples=60)
@given(cases(), st.sampled_from(("admin", "baseline")))
def test_tiered_ingress_only(case: tuple[World, Intents], tier: Tier) -> None:
    world, intents = case
    _check(world, intents, tier, ingress_only=True)


def _shop() -> tuple[World, Intents]:
    web = Pod(
        "shop",
        "web",
        labels_of({"app": "web"}),
        ip="10.0.0.1",
        ports=(ContainerPort(8080, "TCP", "http"),),
    )
    api_pod = Pod("shop", "api", labels_of({"app": "api"}), ip="10.0.0.2")
    dns = Pod("kube-system", "coredns", labels_of({"k8s-app": "kube-dns"}), ip="10.0.9.9")
    cluster = Cluster((Namespace("shop"), Namespace("kube-system")), (web, api_pod, dns), (), ())
    intents = Intents(
        ("shop",),
        (
            Intent(
                Endpoint("workload", "shop", "api"),
                Endpoint("workload", "shop", "web"),
                (IntentPort("TCP", "http"),),
                1,
            ),
            Intent(
                Endpoint("cidr", cidr="192.168.0.0/16"),
                Endpoint("workload", "shop", "web"),
                (IntentPort("TCP", 8080),),
                2,
            ),
        ),
        True,
    )
    return World(cluster, (("shop", "web"), ("shop", "api"))), intents


def test_the_mapping_of_each_tier():
    """Intents are Admin Accept rules; the default deny is a Baseline (or, with admin, a later
    Admin) Deny; ingress from outside stays a NetworkPolicy (default deny + the CIDR's rule)."""
    world, intents = _shop()
    for tier, deny_tier in (("baseline", "Baseline"), ("admin", "Admin")):
        generated = generate_policies(intents, world.cluster, tier=tier)  # type: ignore[arg-type]
        assert generated.proof is not None and generated.proof.ok
        tiers = {g.policy.name: g.policy for g in generated.cluster_policies}
        assert tiers["shop-allow-dns"].tier == "Admin"
        assert tiers["shop-default-deny"].tier == deny_tier
        accepts = [p for p in tiers.values() if p.name != "shop-default-deny"]
        assert all(r.action == "Accept" for p in accepts for r in (*p.ingress, *p.egress))
        deny = tiers["shop-default-deny"]
        if tier == "admin":  # after every Accept
            assert deny.priority > max(p.priority for p in accepts)
        assert [r.action for r in (*deny.ingress, *deny.egress)] == ["Deny", "Deny"]
        assert deny.egress[0].peers[1].networks == ("0.0.0.0/0", "::/0")
        nps = {g.policy.name: g.policy for g in generated.policies}
        assert nps["default-deny"].policy_types == ("Ingress",)
        (from_outside,) = [p for n, p in nps.items() if n != "default-deny"]
        assert from_outside.ingress[0].peers[0].ip_block is not None
        text = generated.yaml[CLUSTER_KEY]
        assert "kind: ClusterNetworkPolicy" in text and "destinationNamedPort: http" in text
        _check(world, intents, tier, ingress_only=False)  # type: ignore[arg-type]


def test_admin_refuses_pods_inside_a_cidr_source():
    world, intents = _shop()
    inside = Intent(
        Endpoint("cidr", cidr="10.0.0.0/24"),
        Endpoint("workload", "shop", "web"),
        (IntentPort("TCP", 8080),),
        3,
    )
    intents = Intents(intents.namespaces, (*intents.intents, inside), True)
    generated = generate_policies(intents, world.cluster, tier="admin")
    errors = [d.message for d in generated.diagnostics if d.severity == "error"]
    assert len(errors) == 1 and "the CIDR holds pods (shop/api, shop/web)" in errors[0]
    assert generated.proof is None and not generated.cluster_policies
    # the Baseline tier leaves them to the NetworkPolicy: exact
    assert generate_policies(intents, world.cluster, tier="baseline").proof.ok  # type: ignore[union-attr]
