"""`redundant` is exact: removing everything it reports changes no allowed connection."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings

from netpolicy.analysis.lint.context import LintContext
from netpolicy.analysis.lint.redundant import find_redundant
from netpolicy.model import Cluster
from netpolicy.semantics import ConnectionSet, Evaluator, External
from tests.strategies import clusters


def _without(cluster: Cluster, ctx: LintContext) -> tuple[Cluster, int]:
    """The cluster with every reported policy and rule removed, and how many were."""
    drop_policies: set[str] = set()
    drop_rules: set[tuple[str, str, int]] = set()
    count = 0
    for item in find_redundant(ctx):
        count += 1
        if item.rule is None:
            drop_policies.add(item.policy.key)
        else:
            drop_rules.add((item.policy.key, item.rule.direction, item.rule.index))
    kept = []
    for p in cluster.policies:
        if p.key in drop_policies:
            continue
        kept.append(
            replace(
                p,
                ingress=tuple(
                    r for i, r in enumerate(p.ingress) if (p.key, "ingress", i) not in drop_rules
                ),
                egress=tuple(
                    r for i, r in enumerate(p.egress) if (p.key, "egress", i) not in drop_rules
                ),
            )
        )
    return replace(cluster, policies=tuple(kept)), count


def _sides(ev: Evaluator, cluster: Cluster, outside: list[External]) -> dict:
    """What each direction allows, per ordered pair of pods and per pod and outside range."""
    infos = [ev.pod_info(p) for p in cluster.pods]
    out: dict[tuple[object, ...], ConnectionSet] = {}
    for i, a in enumerate(infos):
        for j, b in enumerate(infos):
            if i != j:
                out["egress", i, j] = ev.side("egress", a, b).allowed
                out["ingress", j, i] = ev.side("ingress", b, a).allowed
        for k, rng in enumerate(outside):
            out["egress", i, ("out", k)] = ev.side("egress", a, rng).allowed
            out["ingress", i, ("out", k)] = ev.side("ingress", a, rng).allowed
    return out


def _allowed(ev: Evaluator, cluster: Cluster, outside: list[External]) -> dict:
    infos = [ev.pod_info(p) for p in cluster.pods]
    out: dict[tuple[object, object], ConnectionSet] = {}
    for i, a in enumerate(infos):
        for j, b in enumerate(infos):
            if i != j:
                out[i, j] = ev.allowed(a, b)
        for k, rng in enumerate(outside):
            out[i, ("out", k)] = ev.allowed(a, rng)
            out[("out", k), i] = ev.allowed(rng, a)
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters())
def test_removing_every_redundant_rule_and_policy_changes_nothing(cluster: Cluster) -> None:
    ctx = LintContext(cluster)
    outside = [External(r) for r in ctx.connectivity.outside]
    pruned, _count = _without(cluster, ctx)
    before = _allowed(Evaluator(cluster), cluster, outside)
    after = _allowed(Evaluator(pruned), pruned, outside)
    assert before == after


def test_the_later_of_two_identical_rules_is_reported_once() -> None:
    from netpolicy.model import LabelSelector, Namespace, NetworkPolicy, Peer, Pod, PolicyPort, Rule

    rule = Rule((Peer(pod_selector=LabelSelector((("app", "web"),))),), (PolicyPort("TCP", 80),))
    cluster = Cluster(
        (Namespace("x"),),
        (Pod("x", "web", (("app", "web"),)), Pod("x", "db", (("app", "db"),))),
        (),
        (
            NetworkPolicy("x", "db-a", LabelSelector((("app", "db"),)), (rule,)),
            NetworkPolicy("x", "db-b", LabelSelector((("app", "db"),)), (rule, rule)),
        ),
    )
    found = [
        (i.policy.key, i.rule.index if i.rule else None)
        for i in find_redundant(LintContext(cluster))
    ]
    # db-b as a whole allows nothing db-a does not, and isolates nothing db-a does not
    assert found == [("x/db-b", None)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters())
def test_every_rule_left_after_pruning_matters(cluster: Cluster) -> None:
    """Complete for rules that open anything at all: once the reported ones are gone, removing
    any further rule that opens a port towards some peer changes what its direction allows
    (rules that match nothing are left to policy-selects-nothing, peer-selects-nothing and
    named-port-unmatched)."""
    from netpolicy.analysis.lint.redundant import DIRECTIONS, _side

    ctx = LintContext(cluster)
    outside = [External(r) for r in ctx.connectivity.outside]
    pruned, _count = _without(cluster, ctx)
    pruned_ctx = LintContext(pruned)
    sides = {d: _side(pruned_ctx.connectivity, d, pruned_ctx.sizes) for d in DIRECTIONS}
    base = _sides(Evaluator(pruned), pruned, outside)
    for pi, p in enumerate(pruned.policies):
        for d in DIRECTIONS:
            rules = getattr(p, d)
            table = sides[d].table.compiled
            for ri in range(len(rules)):
                [k] = [k for k, r in enumerate(table) if r.policy is p and r.index == ri]
                if not sides[d].reaches[k]:
                    continue
                smaller = replace(p, **{d: rules[:ri] + rules[ri + 1 :]})
                other = replace(
                    pruned, policies=(*pruned.policies[:pi], smaller, *pruned.policies[pi + 1 :])
                )
                assert _sides(Evaluator(other), other, outside) != base, (p.key, d, ri)
