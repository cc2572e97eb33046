"""`redundant`: rules and policies whose removal changes no allowed connection.

Decided on the class engine's own rule tables. Per direction, every rule contributes entries
(source class or outside atom, destination class, port mask). A rule is redundant when each of
its entries is covered by entries of other rules at the same pair: its direction allows the
same without it, so no connection changes. (A rule whose connections the other side happens to
deny is not reported: the input may leave out the pods it is for, like the DNS pods.)
Candidates are taken from the last to the first, and each one found redundant is treated as
removed before the next is judged: of two identical rules only the later is reported, and
removing everything reported together still changes nothing.

A whole policy is redundant when its rules are, jointly, and removing it opens no pod that it
alone isolates. Policies without rules (default deny) are never reported: they exist for pods
created later; nor are rules that open nothing (named-port-unmatched and the selects-nothing
checks report those).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from netpolicy.analysis.connectivity import Connectivity, RuleTable, rule_entries
from netpolicy.analysis.lint.context import LintContext, listing
from netpolicy.analysis.lint.findings import Finding
from netpolicy.semantics import CompiledPolicy, CompiledRule, Direction

DIRECTIONS: tuple[Direction, ...] = ("ingress", "egress")

Index = NDArray[np.int64]
Bools = NDArray[np.bool_]


@dataclass(slots=True)
class _Side:
    """One direction's entries, sorted by pair, with their effective port masks."""

    table: RuleTable
    keys: Index  # sorted
    masks: NDArray[np.uint64]  # the ports each entry opens
    rules: Index  # the rule of each entry
    group: Index  # the pair group of each entry
    starts: Index  # first entry of each group
    ends: Index
    by_rule: list[Index]  # each rule's entry positions
    reaches: Bools  # per rule: it has entries at all (selects pods and matches peers)


def _side(result: Connectivity, direction: Direction, sizes: Index) -> _Side:
    n, e = len(result.classes), len(result.outside)
    w = result.atoms.words
    table = result.rule_tables[direction]
    pods = rule_entries(table, direction, n, w)
    src, dst = pods.keys // n, pods.keys % n
    # a class of one pod paired with itself is that pod's traffic to itself: always allowed
    keep = (src != dst) | (sizes[src] > 1)
    outs = rule_entries(table, direction, n if direction == "ingress" else e, w, outside=True)
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
    return _Side(table, all_keys, all_masks, all_rules, group, starts, ends, by_rule, reaches)


def _covered(side: _Side, rules: list[int], gone: Bools) -> tuple[bool, set[int]]:
    """Whether the entries of `rules` are all covered by rules not `gone`, and the
    covering rules (those that overlap them)."""
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


def _candidates(side: _Side, owner_of_rule: Index, size: int) -> Bools:
    """Per owner (rule or policy): False when some effective entry of it is the only one at its
    pair, so it cannot be redundant (a cheap filter before the exact check)."""
    owners = owner_of_rule[side.rules]
    lo = np.minimum.reduceat(owners, side.starts) if len(owners) else owners
    hi = np.maximum.reduceat(owners, side.starts) if len(owners) else owners
    alone = (lo == hi)[side.group] & side.masks.any(axis=1)
    out = np.ones(size, dtype=bool)
    out[owners[alone]] = False
    return out


def _allows_all(rule: CompiledRule) -> bool:
    return not rule.ports and all(p.peer is None for p in rule.peers)


@dataclass(frozen=True, slots=True)
class Redundancy:
    """A whole policy (`rule` None) or one rule whose removal changes no allowed connection;
    `covered_by`: the policies (or rule ids) that allow the same, empty when the other side of
    each connection denies it anyway."""

    policy: CompiledPolicy
    rule: CompiledRule | None
    covered_by: tuple[str, ...]


def find_redundant(ctx: LintContext) -> Iterator[Redundancy]:
    """Redundant policies, then redundant rules of the others; removable all together."""
    result = ctx.connectivity
    if not result.classes:
        return
    sizes = ctx.sizes
    sides = {d: _side(result, d, sizes) for d in DIRECTIONS}
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
        policy_ok &= _candidates(side, of_rule, len(policies))
        count = len(side.table.compiled)
        rule_ok[d] = _candidates(side, np.arange(count, dtype=np.int64), count)

    def rules_of(cp: CompiledPolicy, d: Direction) -> list[int]:
        return [rule_index[d][id(r)] for r in cp.rules(d) if id(r) in rule_index[d]]

    reported: set[str] = set()
    isolating = {d: count.copy() for d, count in ctx.isolating.items()}
    for i in reversed(range(len(policies))):
        cp = policies[i]
        if not policy_ok[i] or (not cp.ingress and not cp.egress):
            continue
        if not any(sides[d].reaches[rules_of(cp, d)].any() for d in DIRECTIONS):
            continue  # selects nothing or matches nothing: other checks say so
        if not _isolation_kept(ctx, cp, isolating):
            continue
        covers: set[str] = set()
        ok = True
        for d in DIRECTIONS:
            covered, by = _covered(sides[d], rules_of(cp, d), gone[d])
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
        yield Redundancy(cp, None, tuple(sorted(covers)))

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
            covered, by = _covered(side, [r], gone[d])
            if not covered:
                continue
            gone[d][r] = True
            owner = next(p for p in policies if p.policy is rule.policy)
            yield Redundancy(owner, rule, tuple(sorted(side.table.compiled[b].id for b in by)))


def redundant_findings(ctx: LintContext) -> Iterator[Finding]:
    for item in find_redundant(ctx):
        cp, rule = item.policy, item.rule
        if rule is None:
            by_text = (
                f"also allowed by {listing(list(item.covered_by))}"
                if item.covered_by
                else "nothing"
            )
            yield Finding(
                "redundant",
                "info",
                cp.key,
                "NetworkPolicy",
                cp.policy.source,
                f"{cp.key} changes no allowed connection: every connection its rules allow is "
                f"{by_text}, and every pod it isolates stays isolated without it",
                f"Delete the policy: kubectl delete networkpolicy -n {cp.policy.namespace} "
                f"{cp.policy.name}",
            )
            continue
        by_text = (
            f"also allowed by {listing(list(item.covered_by))}" if item.covered_by else "nothing"
        )
        yield Finding(
            "redundant",
            "info",
            cp.key,
            "NetworkPolicy",
            rule.source,
            f"{rule.id} changes no allowed connection: everything it allows is {by_text}",
            f"Delete spec.{rule.direction}[{rule.index}] of {cp.key}",
        )


def _isolation_kept(
    ctx: LintContext, cp: CompiledPolicy, isolating: dict[str, NDArray[np.int64]]
) -> bool:
    """Whether removing `cp` leaves every pod's isolation as it was (`isolating`: how many
    policies still isolate each class), or opens only pods it already allows everything."""
    for d in DIRECTIONS:
        if not cp.isolates(d):
            continue
        alone = ctx.selected(cp) & (isolating[d] == 1)
        if alone.any() and not any(_allows_all(r) for r in cp.rules(d)):
            return False
    return True
