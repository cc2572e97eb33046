"""`admin-rule-shadowed` is exact: removing every rule it reports changes no allowed
connection, on random clusters with random guardrails and on the peer suite's scenarios."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings

from netpolicy import api
from netpolicy.analysis.lint.context import LintContext
from netpolicy.analysis.lint.guardrails import find_pass_to_nothing, find_shadowed
from netpolicy.model import Cluster, ClusterPolicy
from netpolicy.semantics import ConnectionSet, Evaluator, External
from tests.strategies import clusters


def _without_shadowed(cluster: Cluster, ctx: LintContext) -> tuple[Cluster, int]:
    """The cluster with every rule `admin-rule-shadowed` reports removed, and how many were."""
    drop = {(id(s.rule.policy), s.rule.direction, s.rule.index) for s in find_shadowed(ctx)}

    def kept(policy: ClusterPolicy) -> ClusterPolicy:
        return replace(
            policy,
            ingress=tuple(
                r for i, r in enumerate(policy.ingress) if (id(policy), "ingress", i) not in drop
            ),
            egress=tuple(
                r for i, r in enumerate(policy.egress) if (id(policy), "egress", i) not in drop
            ),
        )

    pruned = tuple(kept(p) for p in cluster.cluster_policies)
    return replace(cluster, cluster_policies=pruned), len(drop)


def _allowed(cluster: Cluster, outside: list[External]) -> dict[object, ConnectionSet]:
    """Every allowed connection between pods, and between pods and outside ranges."""
    ev = Evaluator(cluster)
    infos = [ev.pod_info(p) for p in cluster.pods]
    out: dict[object, ConnectionSet] = {}
    for i, a in enumerate(infos):
        for j, b in enumerate(infos):
            if i != j:
                out[i, j] = ev.allowed(a, b)
        for k, rng in enumerate(outside):
            out[i, ("out", k)] = ev.allowed(a, rng)
            out[("out", k), i] = ev.allowed(rng, a)
    return out


def _assert_removal_changes_nothing(cluster: Cluster) -> int:
    ctx = LintContext(cluster)
    outside = [External(r) for r in ctx.connectivity.outside]
    pruned, count = _without_shadowed(cluster, ctx)
    if count:
        assert _allowed(pruned, outside) == _allowed(cluster, outside)
    return count


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(tiers=True))
def test_removing_every_shadowed_rule_changes_nothing(cluster: Cluster) -> None:
    count = _assert_removal_changes_nothing(cluster)
    event("some rule shadowed" if count else "no rule shadowed")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(tiers=True))
def test_pass_to_nothing_is_the_same_as_allow(cluster: Cluster) -> None:
    """A Pass that `pass-to-nothing` reports allows what it passes: written as Allow/Accept
    instead, no connection changes."""
    ctx = LintContext(cluster)
    reported = {
        (id(p.rule.policy), p.rule.direction, p.rule.index) for p in find_pass_to_nothing(ctx)
    }
    event("some pass to nothing" if reported else "no pass to nothing")
    if not reported:
        return

    def accept(policy: ClusterPolicy, direction: str) -> tuple:
        action = "Accept" if policy.kind == "ClusterNetworkPolicy" else "Allow"
        return tuple(
            replace(r, action=action) if (id(policy), direction, i) in reported else r
            for i, r in enumerate(getattr(policy, direction))
        )

    changed = replace(
        cluster,
        cluster_policies=tuple(
            replace(p, ingress=accept(p, "ingress"), egress=accept(p, "egress"))
            for p in cluster.cluster_policies
        ),
    )
    outside = [External(r) for r in ctx.connectivity.outside]
    assert _allowed(changed, outside) == _allowed(cluster, outside)


def _guardrail_scenarios(peer_suite: Path) -> list[Path]:
    return [
        d
        for d in sorted((peer_suite / "tests").iterdir())
        if d.is_dir() and ("anp" in d.name.lower() or "banp" in d.name.lower())
    ]


def test_peer_suite_shadowed_rules_change_nothing(peer_suite: Path) -> None:
    total = 0
    for scenario in _guardrail_scenarios(peer_suite):
        loaded = api.load_input([scenario])
        if not loaded.cluster.cluster_policies:
            continue
        total += _assert_removal_changes_nothing(loaded.cluster)
    assert total > 20  # the suite repeats rules on purpose (first match wins)
