"""Lint of the cluster-wide guardrails: `admin-rule-shadowed`, `pass-to-nothing` and
`same-priority-overlap`.

The first two are decided on the class engine's tier tables (per rule: the classes its policy
selects, the columns its peers match, the ports as masks, in evaluation order), one subject
class and direction at a time, following the chain of `semantics.tiers`: the Admin tier by
ascending priority and written order, first match per port; then NetworkPolicy where one
selects the pod; then the Baseline tier the same way. Nothing here compares YAML.

A rule is *shadowed* when at every subject, for every peer column, each port it matches is
matched first by rules of higher precedence, whatever their action: earlier rules of its own
policy and rules of policies of its tier with a lower priority number (same-priority
policies have no defined order, so they never shadow each other). A Baseline rule is also
covered where the Admin tier has already allowed or denied the port, and everywhere a
NetworkPolicy selects the subject for that direction (the Baseline tier is not reached then).
A covering rule that is reported too is covered in turn by rules of still higher precedence,
so removing every reported rule together changes no connection (property-tested).
Where policies of one priority overlap, the Admin tier's decisions (and what a Pass hands on)
follow the engine's order, the input order; `same-priority-overlap` reports those.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from netpolicy.analysis.connectivity import TierTable
from netpolicy.analysis.lint.context import LintContext, listing
from netpolicy.analysis.lint.findings import Finding
from netpolicy.model import ClusterPolicy, SourceRef, priorities
from netpolicy.semantics import Direction
from netpolicy.semantics.tiers import CompiledAdminRule

DIRECTIONS: tuple[Direction, ...] = ("ingress", "egress")

Index = NDArray[np.int64]
Mask = NDArray[np.uint64]


@dataclass(frozen=True, slots=True)
class _Step:
    """One rule at one subject class: where it matches and what it decides there."""

    rule: int
    at: Index
    """The columns (classes, then outside atoms) its peers match."""
    mine: Mask
    """len(at) x words: the ports it matches at those columns."""
    new: Mask
    """The part of `mine` it decides: matched by no rule before it in the engine's order."""
    covered: bool
    """Every port of `mine` is matched first by a rule of higher precedence."""


@dataclass(frozen=True, slots=True)
class _Chain:
    """One subject class's direction through the tiers."""

    steps: list[_Step]
    isolated: bool
    """A NetworkPolicy selects the class in this direction (the Baseline tier is not reached)."""
    baseline_decides: Mask
    """columns x words: the ports the Baseline tier allows or denies."""


@dataclass(frozen=True, slots=True)
class Shadowing:
    """A cluster-wide rule that never decides anything, and what decides in its place: rules of
    higher precedence, and NetworkPolicies that keep the Baseline tier from being reached."""

    rule: CompiledAdminRule
    by_rules: tuple[CompiledAdminRule, ...]
    by_policies: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PassToNothing:
    """A Pass rule that passes traffic no NetworkPolicy and no Baseline rule decides."""

    rule: CompiledAdminRule
    subjects: tuple[int, ...]
    """The classes where it passes something."""


def _ports(table: TierTable, direction: Direction, r: int, s: int) -> Mask:
    """What rule `r` matches at subject `s`, per column of its peers."""
    at = table.peer_index[r]
    w = table.atoms.words
    named = table.by_destination.get(r)
    if named is None:
        return np.broadcast_to(table.static[r], (len(at), w))
    if direction == "ingress":
        # ports resolve on the destination: the subject, whatever the peer
        return np.broadcast_to(named[s], (len(at), w))
    # egress: on the destination, a peer class; named ports never match an outside address
    out = np.empty((len(at), w), dtype=np.uint64)
    inside = int(np.searchsorted(at, table.n))
    out[:inside] = named[at[:inside]]
    out[inside:] = table.static[r]
    return out


def _chain(
    table: TierTable,
    rules: list[CompiledAdminRule],
    direction: Direction,
    s: int,
    isolated: bool,
) -> _Chain:
    columns = len(table.peers[0])
    w = table.atoms.words
    selecting = [r for r in range(len(rules)) if table.subjects[r][s]]
    steps: list[_Step] = []
    admin_decides = np.zeros((columns, w), dtype=np.uint64)
    baseline_decides = np.zeros((columns, w), dtype=np.uint64)
    for tier in ("Admin", "Baseline"):
        if tier == "Admin":
            taken = np.zeros((columns, w), dtype=np.uint64)
        elif isolated:
            # "v1.NetworkPolicy always makes a final decision for selected pods"
            taken = np.empty((columns, w), dtype=np.uint64)
            taken[:] = table.atoms.full
        else:
            # what reaches the Baseline tier: ports the Admin tier passed or did not match
            taken = admin_decides.copy()
        before = taken.copy()  # matched by rules of a lower priority number (or a tier above)
        group = np.zeros_like(taken)  # matched by the policies of the current priority
        policy: ClusterPolicy | None = None
        priority = -1
        running = np.zeros_like(taken)  # matched by earlier rules of the current policy
        for r in (r for r in selecting if table.tiers[r] == tier):
            rule = rules[r]
            if rule.policy.priority != priority:
                before |= group
                group[:] = 0
                priority = rule.policy.priority
            if rule.policy is not policy:
                running[:] = 0
                policy = rule.policy
            at = table.peer_index[r]
            mine = _ports(table, direction, r, s)
            covered = not (mine & ~(before[at] | running[at])).any()
            new = mine & ~taken[at]
            taken[at] |= mine
            running[at] |= mine
            group[at] |= mine
            if table.actions[r] != "pass":
                (admin_decides if tier == "Admin" else baseline_decides)[at] |= new
            steps.append(_Step(r, at, mine, new, covered))
    return _Chain(steps, isolated, baseline_decides)


def _chains(ctx: LintContext, direction: Direction) -> Iterator[tuple[list[int], _Chain]]:
    """Every subject class of some cluster-wide rule in `direction`, with its chain; classes
    that the same rules select alike (and with the same isolation) share one chain."""
    table = ctx.tier_tables[direction]
    rules = ctx.tier_rules[direction]
    if not rules or not ctx.connectivity.classes:
        return
    isolated = ctx.connectivity.rule_tables[direction].isolated
    named = [r for r in range(len(rules)) if r in table.by_destination]
    groups: dict[tuple[object, ...], list[int]] = {}
    subjects = np.unique(np.concatenate(table.subject_index))
    for s in subjects.tolist():
        selecting = tuple(r for r in range(len(rules)) if table.subjects[r][s])
        key: tuple[object, ...] = (selecting, bool(isolated[s]))
        if direction == "ingress":
            # named ports resolve on the subject itself
            key += tuple(table.by_destination[r][s].tobytes() for r in named if r in selecting)
        groups.setdefault(key, []).append(s)
    for members in groups.values():
        s = members[0]
        yield members, _chain(table, rules, direction, s, bool(isolated[s]))


def find_shadowed(ctx: LintContext) -> Iterator[Shadowing]:
    """The cluster-wide rules that never decide anything, each with what decides instead."""
    for direction in DIRECTIONS:
        rules = ctx.tier_rules[direction]
        chains = list(_chains(ctx, direction))
        reaches = np.zeros(len(rules), dtype=bool)
        decides = np.zeros(len(rules), dtype=bool)
        for _members, chain in chains:
            for step in chain.steps:
                if step.mine.any():
                    reaches[step.rule] = True
                    if not step.covered:
                        decides[step.rule] = True
        for r in np.flatnonzero(reaches & ~decides).tolist():
            yield _shadowing(ctx, direction, chains, r)


def _shadowing(
    ctx: LintContext, direction: Direction, chains: list[tuple[list[int], _Chain]], r: int
) -> Shadowing:
    rules = ctx.tier_rules[direction]
    rule = rules[r]
    columns = len(ctx.tier_tables[direction].peers[0])
    by: set[int] = set()
    policies: set[str] = set()
    for members, chain in chains:
        at_r = [i for i, step in enumerate(chain.steps) if step.rule == r]
        if not at_r:
            continue
        target = chain.steps[at_r[0]]
        if not target.mine.any():
            continue
        if rule.policy.tier == "Baseline" and chain.isolated:
            policies |= _isolating(ctx, direction, members)
        mine = np.zeros((columns, target.mine.shape[1]), dtype=np.uint64)
        mine[target.at] = target.mine
        for step in chain.steps[: at_r[0]]:
            other = rules[step.rule]
            if other.policy.tier == rule.policy.tier:
                if not (
                    other.policy is rule.policy or other.policy.priority < rule.policy.priority
                ):
                    continue  # same priority, another policy: no defined order
                overlap = mine[step.at] & step.mine
            elif ctx.tier_tables[direction].actions[step.rule] == "pass":
                continue  # an Admin Pass hands the traffic on
            else:
                overlap = mine[step.at] & step.new  # what the Admin tier decided
            if overlap.any():
                by.add(step.rule)
    return Shadowing(rule, tuple(rules[b] for b in sorted(by)), tuple(sorted(policies)))


def _isolating(ctx: LintContext, direction: Direction, classes: list[int]) -> set[str]:
    """The NetworkPolicies that select some of `classes` in `direction`."""
    return {
        cp.key
        for cp in ctx.evaluator.policies
        if cp.isolates(direction) and ctx.selected(cp)[classes].any()
    }


def find_pass_to_nothing(ctx: LintContext) -> Iterator[PassToNothing]:
    """Pass rules whose passed traffic no NetworkPolicy and no Baseline rule decides, at any
    subject: the Pass allows it, exactly like Allow. A Baseline Pass always is one."""
    for direction in DIRECTIONS:
        table = ctx.tier_tables[direction]
        rules = ctx.tier_rules[direction]
        passes: dict[int, list[int]] = {}
        behind: set[int] = set()
        for members, chain in _chains(ctx, direction):
            for step in chain.steps:
                if table.actions[step.rule] != "pass" or not step.new.any():
                    continue
                passes.setdefault(step.rule, []).extend(members)
                if table.tiers[step.rule] == "Admin" and (
                    chain.isolated or (chain.baseline_decides[step.at] & step.new).any()
                ):
                    behind.add(step.rule)
        for r, subjects in sorted(passes.items()):
            if r not in behind:
                yield PassToNothing(rules[r], tuple(sorted(subjects)))


# --- findings ------------------------------------------------------------------------------


def _finding(
    check: str, policy: ClusterPolicy, source: SourceRef, message: str, fix: str
) -> Finding:
    return Finding(check, "warning", policy.name, policy.kind, source, message, fix)


def _admin_ports_text(rule: CompiledAdminRule) -> str:
    if not rule.ports:
        return "every port"
    parts = []
    for p in rule.ports:
        if isinstance(p.port, str):
            parts.append(f"named port {p.port}")
        elif p.end_port is not None:
            parts.append(f"{p.protocol or 'TCP'} {p.port}-{p.end_port}")
        else:
            parts.append(f"{p.protocol or 'TCP'} {p.port}")
    return ", ".join(parts)


def _accept(policy: ClusterPolicy) -> str:
    return "Accept" if policy.kind == "ClusterNetworkPolicy" else "Allow"


def admin_rule_shadowed(ctx: LintContext) -> Iterator[Finding]:
    if not ctx.evaluator.tiers:
        return
    for item in find_shadowed(ctx):
        rule = item.rule
        by = [f"{b.id} {b.action} ({b.source})" for b in item.by_rules]
        if item.by_policies:
            nps = list(item.by_policies)
            by.append(
                f"NetworkPolicy {listing(nps)}, which {'selects' if len(nps) == 1 else 'select'} "
                f"its subjects for {rule.direction} (the Baseline tier applies only to pods no "
                "NetworkPolicy selects)"
            )
        yield _finding(
            "admin-rule-shadowed",
            rule.policy,
            rule.source,
            f"{rule.id} ({rule.action}, {_admin_ports_text(rule)}) never decides anything: "
            f"every pod, peer and port it matches is taken first by {'; '.join(by)}",
            "Delete the rule, or give it precedence: move it above the rules that shadow it, or "
            "into a policy with a lower priority number",
        )


def pass_to_nothing(ctx: LintContext) -> Iterator[Finding]:
    if not ctx.evaluator.tiers:
        return
    for item in find_pass_to_nothing(ctx):
        rule = item.rule
        pods = listing(ctx.class_owners(list(item.subjects)))
        accept = _accept(rule.policy)
        if rule.policy.tier == "Baseline":
            why = (
                f"in the Baseline tier a Pass goes on to the default, which allows: for {pods} "
                f"it allows what it matches, exactly like {accept}"
            )
        else:
            why = (
                f"no NetworkPolicy selects {pods} for {rule.direction} and no Baseline rule "
                f"matches the traffic it passes, so the Pass allows it, exactly like {accept}"
            )
        yield _finding(
            "pass-to-nothing",
            rule.policy,
            rule.source,
            f"{rule.id} (Pass, {_admin_ports_text(rule)}): {why}",
            f"Write `action: {accept}` if the traffic is meant to be allowed; to delegate it, "
            f"add NetworkPolicies selecting {pods} for {rule.direction}, or a Baseline rule "
            "that decides it (e.g. Deny)",
        )


def same_priority_overlap(ctx: LintContext) -> Iterator[Finding]:
    # the loader's decision too (`load.admin.warn_same_priority`): one place
    for pair in priorities.same_priority_overlaps(ctx.cluster.cluster_policies):
        directions = " and ".join(pair.directions)
        for policy, other in ((pair.first, pair.later), (pair.later, pair.first)):
            yield _finding(
                "same-priority-overlap",
                policy,
                policy.priority_source,
                f"{policy.key} and {other.key} ({other.priority_source}) have the same priority "
                f"{policy.priority} in the {policy.tier} tier and can select the same pods for "
                f"{directions}: which one applies first is undefined by the API, so network "
                "plugins may decide their common connections differently",
                "Give one of them another priority (a lower number applies first):\nspec:\n"
                f"  priority: {min(policy.priority + 1, 1000)}",
            )
