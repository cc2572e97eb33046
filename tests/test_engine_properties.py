"""The all-pairs engine agrees with the one-pair evaluator everywhere (hypothesis)."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netpolicy.analysis.connectivity import compute_connectivity
from netpolicy.model import Cluster, Protocol
from netpolicy.semantics import ConnectionSet, Evaluator, External, IntervalSet
from tests.strategies import clusters

PROBE_PORTS: list[tuple[Protocol, int]] = [
    ("TCP", 53),
    ("TCP", 80),
    ("UDP", 53),
    ("SCTP", 85),
    ("TCP", 8080),
    ("UDP", 9999),
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters())
def test_engine_agrees_with_evaluator_on_every_pair(cluster: Cluster):
    result = compute_connectivity(cluster)
    ev = Evaluator(cluster)
    infos = {id(p): ev.pod_info(p) for p in cluster.pods}
    got: dict[tuple[object, object], ConnectionSet] = {}
    for src, dst, conns in result.pod_pairs():
        key = (
            src if isinstance(src, IntervalSet) else id(src),
            dst if isinstance(dst, IntervalSet) else id(dst),
        )
        got[key] = conns
    for a in cluster.pods:
        for b in cluster.pods:
            if a is b:
                continue
            expected = ev.allowed(infos[id(a)], infos[id(b)])
            assert got.get((id(a), id(b)), ConnectionSet.none()) == expected, (a, b)
            for proto, port in PROBE_PORTS:
                d = ev.decide(infos[id(a)], infos[id(b)], proto, port)
                assert d.allowed == expected.allows(proto, port)
        for rng in result.outside:
            out = External(rng)
            assert got.get((id(a), rng), ConnectionSet.none()) == ev.allowed(infos[id(a)], out)
            assert got.get((rng, id(a)), ConnectionSet.none()) == ev.allowed(out, infos[id(a)])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(tiers=True), st.sampled_from(("node", "pod")))
def test_engine_agrees_with_evaluator_with_cluster_wide_tiers(cluster: Cluster, mode: str):
    """Random AdminNetworkPolicies, BaselineAdminNetworkPolicies and ClusterNetworkPolicies
    (both tiers, Pass, networks, named ports, host-network pods): the class engine and the
    one-pair evaluator still agree on every pair and every outside range."""
    result = compute_connectivity(cluster, host_network=mode)  # type: ignore[arg-type]
    ev = Evaluator(cluster, mode)  # type: ignore[arg-type]
    infos = {id(p): ev.pod_info(p) for p in cluster.pods}
    got: dict[tuple[object, object], ConnectionSet] = {}
    for src, dst, conns in result.pod_pairs():
        key = (
            src if isinstance(src, IntervalSet) else id(src),
            dst if isinstance(dst, IntervalSet) else id(dst),
        )
        got[key] = conns
    for a in cluster.pods:
        for b in cluster.pods:
            if a is b:
                continue
            expected = ev.allowed(infos[id(a)], infos[id(b)])
            assert got.get((id(a), id(b)), ConnectionSet.none()) == expected, (a, b)
            for proto, port in PROBE_PORTS:
                d = ev.decide(infos[id(a)], infos[id(b)], proto, port)
                assert d.allowed == expected.allows(proto, port)
        for rng in result.outside:
            out = External(rng)
            assert got.get((id(a), rng), ConnectionSet.none()) == ev.allowed(infos[id(a)], out)
            assert got.get((rng, id(a)), ConnectionSet.none()) == ev.allowed(out, infos[id(a)])


@settings(max_examples=150, deadline=None)
@given(clusters(), st.data())
def test_adding_a_policy_never_widens_beyond_union(cluster: Cluster, data):
    """Policies are additive: on sides already isolated, adding a policy only adds."""
    from tests.strategies import policies

    extra = data.draw(policies(99))
    before = Evaluator(cluster)
    after_cluster = Cluster(cluster.namespaces, cluster.pods, (), (*cluster.policies, extra))
    after = Evaluator(after_cluster)
    for a in cluster.pods:
        for b in cluster.pods:
            if a is b:
                continue
            old = before.allowed(before.pod_info(a), before.pod_info(b))
            new = after.allowed(after.pod_info(a), after.pod_info(b))
            # policies are additive per isolated side; a newly isolated side can only shrink
            if before.policies_selecting(
                before.pod_info(b), "ingress"
            ) and before.policies_selecting(before.pod_info(a), "egress"):
                assert old.is_subset(new)
