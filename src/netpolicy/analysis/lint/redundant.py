"""`redundant`: rules and policies whose removal changes no allowed connection.

Decided on the class engine's own rule tables. Per direction, a rule opens ports at the pairs
of its subjects (the classes its policy selects) and its peers (classes, then outside atoms).
A rule is redundant when, at each of its subjects, what it opens towards its peers is covered
by the other rules selecting that subject: its direction allows the same without it, so no
connection changes. (A rule whose connections the other side happens to deny is not reported:
the input may leave out the pods it is for, like the DNS pods.) At each subject, the few other
rules selecting it take off what they cover of what the candidate opens there, one rule at a
time over the candidate's peer columns: memory and time follow the rules and their subjects,
never every (subject, peer) pair of every rule at once.
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

from netpolicy.analysis.arrays import run_starts
from netpolicy.analysis.connectivity import Connectivity, RuleTable
from netpolicy.analysis.lint.context import LintContext, listing
from netpolicy.analysis.lint.findings import Finding
from netpolicy.semantics import CompiledPolicy, CompiledRule, Direction

DIRECTIONS: tuple[Direction, ...] = ("ingress", "egress")

Index = NDArray[np.int64]
Bools = NDArray[np.bool_]
Mask = NDArray[np.uint64]


@dataclass(slots=True)
class _Side:
    """One direction's rules indexed by the classes they select. What a rule opens at one of
    its subjects is given per column: the classes, then the outside atoms (`classes + atom`);
    the table's index arrays are sorted (made by `np.flatnonzero`), so are the columns."""

    table: RuleTable
    direction: Direction
    classes: int
    words: int
    alone: Bools  # per class: a class of one pod, whose pair with itself is never an entry
    selecting: list[list[int]]  # per class: the rules selecting it, in table order
    reaches: Bools  # per rule: it opens some port at some pair (selects pods, matches peers)
    reaching: Bools  # per class: some rule selecting it opens some port there
    mark: Bools  # scratch, one per column, all False between uses


def _side(result: Connectivity, direction: Direction, sizes: Index) -> _Side:
    n = len(result.classes)
    table = result.rule_tables[direction]
    alone = sizes == 1
    selecting: list[list[int]] = [[] for _ in range(n)]
    reaches = np.zeros(len(table.compiled), dtype=bool)
    reaching = np.zeros(n, dtype=bool)
    for r, subjects in enumerate(table.selects):
        for c in subjects.tolist():
            selecting[c].append(r)
        at = _reach_at(table, direction, r, alone)
        reaches[r] = at.any()
        reaching[subjects[at]] = True
    mark = np.zeros(n + len(result.outside), dtype=bool)
    return _Side(table, direction, n, result.atoms.words, alone, selecting, reaches, reaching, mark)


def _reach_at(table: RuleTable, direction: Direction, r: int, alone: Bools) -> Bools:
    """Per subject of rule `r`: whether it opens some port there towards some peer."""
    subjects, peers, outs = table.selects[r], table.peers[r], table.peers_outside[r]
    static, named = table.static[r], table.by_destination.get(r)
    if direction == "ingress":
        # ports resolve on the destination: the subject, for every peer column alike
        opens: Bools = (
            np.full(len(subjects), bool(static.any()))
            if named is None
            else np.asarray(named[subjects].any(axis=1), dtype=bool)
        )
        if len(outs) or len(peers) > 1:
            return opens
        if not len(peers):
            return np.zeros(len(subjects), dtype=bool)
        return opens & ~((subjects == peers[0]) & alone[subjects])
    # egress: ports resolve on the destination, a peer; named ports never match outside
    if len(outs) and static.any():
        return np.ones(len(subjects), dtype=bool)
    if named is not None:
        opening = peers[named[peers].any(axis=1)]
    else:
        opening = peers if static.any() else peers[:0]
    if len(opening) > 1:
        return np.ones(len(subjects), dtype=bool)
    if not len(opening):
        return np.zeros(len(subjects), dtype=bool)
    return ~((subjects == opening[0]) & alone[subjects])


def _opened(side: _Side, rules: list[int], s: int) -> tuple[Index, Mask]:
    """Where `rules` (all selecting `s`) open ports at their subject `s`: the columns, sorted,
    and the ports at each. A class of one pod paired with itself is that pod's traffic to
    itself, always allowed: never an entry."""
    table, n, w = side.table, side.classes, side.words
    cols: list[Index] = []
    masks: list[Mask] = []
    for r in rules:
        peers, outs = table.peers[r], table.peers_outside[r]
        named = table.by_destination.get(r)
        cols += [peers, n + outs]
        if side.direction == "ingress":
            # ports resolve on the destination: the subject, whatever the peer
            ports = table.static[r] if named is None else named[s]
            masks.append(np.broadcast_to(ports, (len(peers) + len(outs), w)))
        else:
            # ports resolve on the destination, a peer; named ports never match outside
            towards = table.static[r] if named is None else named[peers]
            masks += [np.broadcast_to(towards, (len(peers), w))]
            masks += [np.broadcast_to(table.static[r], (len(outs), w))]
    col, mask = np.concatenate(cols), np.concatenate(masks)
    if len(rules) > 1 and len(col):
        order = np.argsort(col, kind="stable")
        col, mask = col[order], mask[order]
        starts = run_starts(col)
        col, mask = col[starts], np.bitwise_or.reduceat(mask, starts, axis=0)
    keep = mask.any(axis=1)
    if side.alone[s]:
        keep &= col != s
    return col[keep], mask[keep]


def _ports_at(side: _Side, r: int, s: int, cols: Index) -> Mask:
    """What rule `r` opens at its subject `s` towards each of `cols` (sorted columns)."""
    table, n = side.table, side.classes
    named = table.by_destination.get(r)
    hit = _hits(side, r, cols)[:, None]
    if side.direction == "ingress":
        return hit * (table.static[r] if named is None else named[s])
    out = hit * table.static[r]
    if named is not None:
        towards = hit[:, 0] & (cols < n)
        out[towards] = named[cols[towards]]  # named ports never match an outside address
    return out


def _hits(side: _Side, r: int, cols: Index) -> Bools:
    """Which of `cols` (sorted columns) are peers of rule `r`."""
    n, mark = side.classes, side.mark
    peers, outs = side.table.peers[r], side.table.peers_outside[r]
    if len(cols) * 16 < len(peers) + len(outs):
        # a few columns: looked up one by one in the (sorted) peers
        cut = int(np.searchsorted(cols, n))
        return np.concatenate([_members(cols[:cut], peers), _members(cols[cut:] - n, outs)])
    # else by marking the peers in a scratch row: linear, no sorting
    mark[peers] = True
    mark[n:][outs] = True
    hit = mark[cols]
    mark[peers] = False
    mark[n:][outs] = False
    return hit


def _members(needles: Index, haystack: Index) -> Bools:
    """Which of `needles` are in `haystack` (sorted, without repeats)."""
    if not len(haystack):
        return np.zeros(len(needles), dtype=bool)
    at = np.minimum(np.searchsorted(haystack, needles), len(haystack) - 1)
    return haystack[at] == needles


def _uncovered(side: _Side, others: list[int], s: int, cols: Index, left: Mask) -> int:
    """How many of `cols` keep ports of `left` that none of `others` opens at subject `s`."""
    for r in others:
        if not len(cols):
            break
        left = left & ~_ports_at(side, r, s, cols)
        keep = left.any(axis=1)
        cols, left = cols[keep], left[keep]
    return len(cols)


SAMPLE = 64
"""Columns tried first: a rule that is not covered is most often not covered in many places."""


def _covered(side: _Side, rules: list[int], gone: Bools) -> tuple[bool, set[int]]:
    """Whether what `rules` open is all covered by rules not `gone`, and the covering rules
    (those that overlap them)."""
    own = set(rules)
    selects = [side.table.selects[r] for r in rules]
    if not selects:
        return True, set()
    same = all(x is selects[0] for x in selects)  # a policy's rules share its selection
    subjects = (selects[0] if same else np.unique(np.concatenate(selects))).tolist()
    # each subject in turn, the other rules taking off what they cover of what is left: most
    # candidates fail, at one subject, on a sample of its columns; the covering rules are
    # found only once covered
    for s in subjects:
        cols, mine = _opened(side, [r for r in side.selecting[s] if r in own], s)
        if not len(cols):
            continue
        others = [r for r in side.selecting[s] if r not in own and not gone[r]]
        if not others:
            return False, set()
        if len(cols) > SAMPLE:
            pick = slice(None, None, len(cols) // SAMPLE)
            if _uncovered(side, others, s, cols[pick], mine[pick]):
                return False, set()
        if _uncovered(side, others, s, cols, mine):
            return False, set()
    by: set[int] = set()
    for s in subjects:
        others = [r for r in side.selecting[s] if r not in own and not gone[r] and r not in by]
        if others:
            cols, mine = _opened(side, [r for r in side.selecting[s] if r in own], s)
            by.update(r for r in others if (_ports_at(side, r, s, cols) & mine).any())
    return True, by


def _candidates(side: _Side, owner_of_rule: Index, size: int) -> Bools:
    """Per owner (rule or policy): False when it alone selects some class where it opens
    something, so nothing can cover it there (a cheap filter before the exact check)."""
    out = np.ones(size, dtype=bool)
    for s, rules in enumerate(side.selecting):
        if rules and side.reaching[s]:
            owners = owner_of_rule[rules]
            if (owners == owners[0]).all():
                out[owners[0]] = False
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
    owner_index: dict[int, int] = {}  # the first compiled policy of each policy
    for i, cp in enumerate(policies):
        owner_index.setdefault(id(cp.policy), i)
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
            owner = policies[owner_index[id(rule.policy)]]
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
