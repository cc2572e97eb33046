"""`redundant` by rows per subject reports exactly what the outer product of entries did.

The oracle below is the former algorithm, kept verbatim in spirit: every rule's entries
(subject classes x peer classes or outside atoms) enumerated, sorted by pair, and each
candidate's entries checked against the other rules' entries at the same pair. It needs memory
for every entry of every rule at once, so it only runs here, on small random clusters.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from netpolicy.analysis.connectivity import Connectivity, RuleTable
from netpolicy.analysis.lint.context import LintContext
from netpolicy.analysis.lint.redundant import DIRECTIONS, _side, find_redundant
from netpolicy.model import (
    Cluster,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    Peer,
    Pod,
    PolicyPort,
    PolicyType,
    Rule,
)
from netpolicy.semantics import CompiledPolicy, CompiledRule, Direction
from tests.strategies import clusters, ports

Index = NDArray[np.int64]
Bools = NDArray[np.bool_]
Mask = NDArray[np.uint64]
Found = list[tuple[str, str | None, tuple[str, ...]]]
Item = tuple[CompiledPolicy, CompiledRule | None, tuple[str, ...]]
BOTH: tuple[PolicyType, ...] = ("Ingress", "Egress")


@dataclass(slots=True)
class _Entries:
    keys: Index
    masks: Mask
    rules: Index


def _rule_entries(
    rules: RuleTable, direction: str, n_dst: int, words: int, outside: bool = False
) -> _Entries:
    keys: list[Index] = []
    masks: list[Mask] = []
    owners: list[Index] = []
    peers_of = rules.peers_outside if outside else rules.peers
    for r, subjects in enumerate(rules.selects):
        peers = peers_of[r]
        if not len(subjects) or not len(peers):
            continue
        srcs, dsts = (peers, subjects) if direction == "ingress" else (subjects, peers)
        keys.append(np.add.outer(srcs * n_dst, dsts).ravel())
        owners.append(np.full(len(srcs) * len(dsts), r, dtype=np.int64))
        named = rules.by_destination.get(r)
        if named is None or (outside and direction == "egress"):
            masks.append(np.broadcast_to(rules.static[r], (len(srcs) * len(dsts), words)))
        else:
            masks.append(np.tile(named[dsts], (len(srcs), 1)))
    if not keys:
        empty = np.zeros(0, dtype=np.int64)
        return _Entries(empty, np.zeros((0, words), dtype=np.uint64), empty)
    return _Entries(np.concatenate(keys), np.concatenate(masks), np.concatenate(owners))


@dataclass(slots=True)
class _OracleSide:
    table: RuleTable
    masks: Mask
    rules: Index
    group: Index
    starts: Index
    ends: Index
    by_rule: list[Index]
    reaches: Bools


def _oracle_side(result: Connectivity, direction: Direction, sizes: Index) -> _OracleSide:
    n, e = len(result.classes), len(result.outside)
    w = result.atoms.words
    table = result.rule_tables[direction]
    pods = _rule_entries(table, direction, n, w)
    src, dst = pods.keys // n, pods.keys % n
    keep = (src != dst) | (sizes[src] > 1)
    outs = _rule_entries(table, direction, n if direction == "ingress" else e, w, outside=True)
    all_keys = np.concatenate([pods.keys[keep], outs.keys + n * n])
    all_masks = np.concatenate([np.asarray(pods.masks)[keep], np.asarray(outs.masks)])
    all_rules = np.concatenate([pods.rules[keep], outs.rules])
    reaches = np.zeros(len(table.compiled), dtype=bool)
    reaches[all_rules[all_masks.any(axis=1)]] = True
    order = np.argsort(all_keys, kind="stable")
    all_keys, all_masks, all_rules = all_keys[order], all_masks[order], all_rules[order]
    new_group = np.r_[True, all_keys[1:] != all_keys[:-1]] if len(all_keys) else np.zeros(0, bool)
    starts = np.flatnonzero(new_group)
    ends = np.r_[starts[1:], len(all_keys)].astype(np.int64)
    group = np.cumsum(new_group) - 1
    by_rule_order = np.argsort(all_rules, kind="stable")
    bounds = np.searchsorted(all_rules[by_rule_order], np.arange(len(table.compiled) + 1))
    by_rule = [by_rule_order[bounds[i] : bounds[i + 1]] for i in range(len(table.compiled))]
    return _OracleSide(table, all_masks, all_rules, group, starts, ends, by_rule, reaches)


def _oracle_covered(side: _OracleSide, rules: list[int], gone: Bools) -> tuple[bool, set[int]]:
    positions = [side.by_rule[r] for r in rules]
    if not any(len(p) for p in positions):
        return True, set()
    groups = np.unique(side.group[np.concatenate(positions)])
    lengths = side.ends[groups] - side.starts[groups]
    cuts = np.r_[0, np.cumsum(lengths)[:-1]]
    gathered = np.repeat(side.starts[groups] - cuts, lengths) + np.arange(lengths.sum())
    is_x = np.zeros(len(gone), dtype=bool)
    is_x[rules] = True
    owners = side.rules[gathered]
    mine_rows = is_x[owners]
    theirs_rows = ~mine_rows & ~gone[owners]
    masks = side.masks[gathered]
    mine = np.bitwise_or.reduceat(np.where(mine_rows[:, None], masks, 0), cuts, axis=0)
    theirs = np.bitwise_or.reduceat(np.where(theirs_rows[:, None], masks, 0), cuts, axis=0)
    if (mine & ~theirs).any():
        return False, set()
    overlapping = theirs_rows & (masks & np.repeat(mine, lengths, axis=0)).any(axis=1)
    return True, set(owners[overlapping].tolist())


def _oracle_candidates(side: _OracleSide, owner_of_rule: Index, size: int) -> Bools:
    owners = owner_of_rule[side.rules]
    lo = np.minimum.reduceat(owners, side.starts) if len(owners) else owners
    hi = np.maximum.reduceat(owners, side.starts) if len(owners) else owners
    alone = (lo == hi)[side.group] & side.masks.any(axis=1)
    out = np.ones(size, dtype=bool)
    out[owners[alone]] = False
    return out


def _allows_all(rule: CompiledRule) -> bool:
    return not rule.ports and all(p.peer is None for p in rule.peers)


def _isolation_kept(
    ctx: LintContext, cp: CompiledPolicy, isolating: dict[str, NDArray[np.int64]]
) -> bool:
    for d in DIRECTIONS:
        if not cp.isolates(d):
            continue
        alone = ctx.selected(cp) & (isolating[d] == 1)
        if alone.any() and not any(_allows_all(r) for r in cp.rules(d)):
            return False
    return True


def _oracle(ctx: LintContext) -> Iterator[Item]:
    """The former `find_redundant`, on the entries of every rule."""
    result = ctx.connectivity
    if not result.classes:
        return
    sides = {d: _oracle_side(result, d, ctx.sizes) for d in DIRECTIONS}
    gone = {d: np.zeros(len(s.table.compiled), dtype=bool) for d, s in sides.items()}
    rule_index = {
        d: {id(rule): i for i, rule in enumerate(s.table.compiled)} for d, s in sides.items()
    }
    policies = ctx.evaluator.policies
    policy_index = {id(cp.policy): i for i, cp in enumerate(policies)}
    policy_ok = np.ones(len(policies), dtype=bool)
    rule_ok: dict[str, Bools] = {}
    for d, side in sides.items():
        of_rule = np.array(
            [policy_index[id(r.policy)] for r in side.table.compiled], dtype=np.int64
        )
        policy_ok &= _oracle_candidates(side, of_rule, len(policies))
        count = len(side.table.compiled)
        rule_ok[d] = _oracle_candidates(side, np.arange(count, dtype=np.int64), count)

    def rules_of(cp: CompiledPolicy, d: Direction) -> list[int]:
        return [rule_index[d][id(r)] for r in cp.rules(d) if id(r) in rule_index[d]]

    reported: set[str] = set()
    isolating = {d: count.copy() for d, count in ctx.isolating.items()}
    for i in reversed(range(len(policies))):
        cp = policies[i]
        if not policy_ok[i] or (not cp.ingress and not cp.egress):
            continue
        if not any(sides[d].reaches[rules_of(cp, d)].any() for d in DIRECTIONS):
            continue
        if not _isolation_kept(ctx, cp, isolating):
            continue
        covers: set[str] = set()
        ok = True
        for d in DIRECTIONS:
            covered, by = _oracle_covered(sides[d], rules_of(cp, d), gone[d])
            if not covered:
                ok = False
                break
            covers |= {sides[d].table.compiled[r].policy.key for r in by}
        if not ok:
            continue
        for d in DIRECTIONS:
            gone[d][rules_of(cp, d)] = True
            if cp.isolates(d):
                isolating[d] -= ctx.selected(cp)
        reported.add(cp.key)
        yield cp, None, tuple(sorted(covers))

    for d in DIRECTIONS:
        side = sides[d]
        for r in reversed(range(len(side.table.compiled))):
            rule = side.table.compiled[r]
            if (
                not rule_ok[d][r]
                or gone[d][r]
                or rule.policy.key in reported
                or not side.reaches[r]
            ):
                continue
            covered, by = _oracle_covered(side, [r], gone[d])
            if not covered:
                continue
            gone[d][r] = True
            owner = next(p for p in policies if p.policy is rule.policy)
            yield owner, rule, tuple(sorted(side.table.compiled[b].id for b in by))


@st.composite
def overlapping_clusters(draw: st.DrawFn) -> Cluster:
    """Random clusters plus variants of their own policies (copies with rules dropped,
    repeated, split peer by peer or port by port, widened), so that a good share of rules and
    policies are covered by others, jointly or alone."""
    cluster = draw(clusters())
    aimed = tuple(_aim(draw, p, cluster.pods) for p in cluster.policies)
    extra: list[NetworkPolicy] = []
    for k in range(draw(st.integers(1, 4)) if aimed else 0):
        base = draw(st.sampled_from(aimed))
        extra.append(
            replace(
                base,
                name=f"{base.name}-v{k}",
                ingress=_vary(draw, base.ingress),
                egress=_vary(draw, base.egress),
            )
        )
    order = draw(st.permutations([*aimed, *extra]))
    return replace(cluster, policies=tuple(order))


def _aim(draw: st.DrawFn, policy: NetworkPolicy, pods: tuple[Pod, ...]) -> NetworkPolicy:
    """Mostly, the policy moved to select some pod of the cluster (random selectors rarely do)."""
    if not pods or draw(st.integers(0, 3)) == 0:
        return policy
    pod = draw(st.sampled_from(pods))
    selector = LabelSelector(pod.labels[:1]) if draw(st.booleans()) else LabelSelector()
    return replace(policy, namespace=pod.namespace, pod_selector=selector)


def _vary(draw: st.DrawFn, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
    out = list(rules)
    if not out:
        return ()
    i = draw(st.integers(0, len(out) - 1))
    change = draw(st.sampled_from(("same", "drop", "repeat", "split", "widen", "all ports")))
    if change == "drop":
        out.pop(i)
    elif change == "repeat":
        out.append(out[i])
    elif change == "split" and len(out[i].peers) > 1:
        out[i : i + 1] = [Rule((peer,), out[i].ports) for peer in out[i].peers]
    elif change == "split" and len(out[i].ports) > 1:
        out[i : i + 1] = [Rule(out[i].peers, (port,)) for port in out[i].ports]
    elif change == "widen" and out[i].ports:
        more: list[PolicyPort] = draw(st.lists(ports, min_size=1, max_size=2))
        out[i] = Rule(out[i].peers, (*out[i].ports, *more))
    elif change == "all ports":
        out[i] = Rule(out[i].peers, ())
    return tuple(out)


def _found(items: Iterator[Item]) -> Found:
    return [(cp.key, None if rule is None else rule.id, by) for cp, rule, by in items]


def _check(cluster: Cluster) -> Found:
    ctx = LintContext(cluster)
    expected = _found(_oracle(ctx))
    got = _found((i.policy, i.rule, i.covered_by) for i in find_redundant(LintContext(cluster)))
    assert got == expected
    if ctx.connectivity.classes:
        for d in DIRECTIONS:
            reaches = _side(ctx.connectivity, d, ctx.sizes).reaches
            assert reaches.tolist() == _oracle_side(ctx.connectivity, d, ctx.sizes).reaches.tolist()
    return got


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(overlapping_clusters())
def test_rows_per_subject_find_what_the_entries_found(cluster: Cluster) -> None:
    _check(cluster)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters())
def test_same_on_plain_random_clusters(cluster: Cluster) -> None:
    _check(cluster)


def test_a_policy_whose_rules_of_one_direction_match_nothing() -> None:
    nobody = Rule((Peer(pod_selector=LabelSelector((("app", "none"),))),))
    pods = tuple(Pod("x", f"pod{i}") for i in range(3))
    allow_all = NetworkPolicy("x", "a", LabelSelector(), (Rule(),), (nobody,), BOTH)
    twice = NetworkPolicy("x", "b", LabelSelector(), (Rule(),), (nobody, nobody), BOTH)
    cluster = Cluster((Namespace("x"),), pods, (), (allow_all, twice))
    assert _check(cluster) == [("x/b", None, ("x/a",))]
