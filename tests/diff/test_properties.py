"""diff(old, new) is the pair-by-pair comparison of connlist(old) and connlist(new) (hypothesis).

Random clusters (tests/strategies.py) take one to three random mutations: remove a policy,
add one, add a default deny, change a port, relabel a pod, add or delete a pod, change a
namespace's labels. The expected diff is built two independent ways:

- from `connlist` of each side alone, as a user sees it: each side cuts the outside addresses
  by its own ipBlocks only, so its ranges are expanded to the common pieces (the cuts of the
  ipBlocks of both sides, computed here from the model);
- from the one-pair evaluator, pod by pod and piece by piece.

Both must equal what `diff` reports, pair for pair, with the right kind; the summary's counts,
newly isolated pods and new exposure must follow from the same expected values.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from netpolicy import api
from netpolicy.model import Cluster, LabelSelector, NetworkPolicy, Pod, Rule, labels_of
from netpolicy.semantics import (
    ConnectionSet,
    Evaluator,
    External,
    IntervalSet,
    cut_points,
    format_range,
    ipblock_set,
    parse_range,
)
from netpolicy.semantics.addresses import IPV4
from tests.strategies import (
    NAMESPACES,
    clusters,
    container_ports,
    label_maps,
    policies,
    ports,
)

Pairs = dict[tuple[str, str], ConnectionSet]

MUTATIONS = (
    "remove-policy",
    "add-policy",
    "default-deny",
    "change-port",
    "relabel-pod",
    "add-pod",
    "delete-pod",
    "namespace-labels",
)


def _without(items: tuple, i: int) -> tuple:
    return items[:i] + items[i + 1 :]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[Cluster, Cluster, list[str]]:
    """A random cluster and the same after one to three random mutations."""
    old = draw(clusters())
    new = old
    done = []
    for step in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(MUTATIONS))
        pols, pods, nss = new.policies, new.pods, new.namespaces
        if kind == "remove-policy" and pols:
            pols = _without(pols, draw(st.integers(0, len(pols) - 1)))
        elif kind == "add-policy":
            pols = (*pols, draw(policies(100 + step)))
        elif kind == "default-deny":
            types = draw(st.sampled_from((("Ingress",), ("Egress",), ("Ingress", "Egress"))))
            ns = draw(st.sampled_from(NAMESPACES))
            pols = (*pols, NetworkPolicy(ns, f"deny-{step}", LabelSelector(), (), (), types))
        elif kind == "change-port" and pols:
            i = draw(st.integers(0, len(pols) - 1))
            pol = pols[i]
            direction = draw(st.sampled_from(("ingress", "egress")))
            rules = getattr(pol, direction)
            if not rules:
                continue
            j = draw(st.integers(0, len(rules) - 1))
            rule: Rule = rules[j]
            port = draw(ports)
            if rule.ports:
                k = draw(st.integers(0, len(rule.ports) - 1))
                new_ports = (*rule.ports[:k], port, *rule.ports[k + 1 :])
            else:
                new_ports = (port,)
            rules = (*rules[:j], replace(rule, ports=new_ports), *rules[j + 1 :])
            pols = (*pols[:i], replace(pol, **{direction: rules}), *pols[i + 1 :])
        elif kind == "relabel-pod" and pods:
            i = draw(st.integers(0, len(pods) - 1))
            pods = (*pods[:i], replace(pods[i], labels=labels_of(draw(label_maps))), *pods[i + 1 :])
        elif kind == "add-pod":
            pod = Pod(
                draw(st.sampled_from(NAMESPACES)),
                f"new{step}",
                labels_of(draw(label_maps)),
                ip=draw(st.sampled_from((None, f"10.0.{step}.200", f"192.168.7.{step + 1}"))),
                ports=tuple(draw(container_ports)),
            )
            pods = (*pods, pod)
        elif kind == "delete-pod" and pods:
            pods = _without(pods, draw(st.integers(0, len(pods) - 1)))
        elif kind == "namespace-labels":
            i = draw(st.integers(0, len(nss) - 1))
            team = draw(
                st.dictionaries(st.just("team"), st.sampled_from(("red", "blue")), max_size=1)
            )
            nss = (*nss[:i], replace(nss[i], labels=labels_of({**team})), *nss[i + 1 :])
        else:
            continue
        done.append(kind)
        new = Cluster(nss, pods, (), pols)
    return old, new, done


def _blocks(cluster: Cluster) -> list[IntervalSet]:
    return [
        ipblock_set(peer.ip_block)
        for pol in cluster.policies
        for rule in (*pol.ingress, *pol.egress)
        for peer in rule.peers
        if peer.ip_block is not None
    ]


def _pieces(old: Cluster, new: Cluster) -> list[IntervalSet]:
    """The common outside pieces: IPv4 cut by every ipBlock of both sides."""
    return cut_points([*_blocks(old), *_blocks(new)], IPV4)


def _is_range(name: str) -> bool:
    return "/" not in name


def _from_connlist(cluster: Cluster, pieces: list[IntervalSet]) -> Pairs:
    """connlist of one side alone, its outside ranges expanded to the common pieces."""
    out: Pairs = {}
    for c in api.connlist(cluster, workloads=False):
        srcs, dsts = [c.src], [c.dst]
        for names in (srcs, dsts):
            if _is_range(names[0]):
                whole = parse_range(names[0])
                inside = [p for p in pieces if p.is_subset(whole)]
                assert inside, names[0]
                names[:] = [format_range(*p.ranges[0]) for p in inside]
        for s in srcs:
            for d in dsts:
                out[s, d] = c.connections
    return out


def _from_evaluator(cluster: Cluster, pieces: list[IntervalSet]) -> Pairs:
    ev = Evaluator(cluster)
    infos = [ev.pod_info(p) for p in cluster.pods]
    out: Pairs = {}
    for a, ia in zip(cluster.pods, infos, strict=True):
        for b, ib in zip(cluster.pods, infos, strict=True):
            if a is not b:
                out[a.key, b.key] = ev.allowed(ia, ib)
        for piece in pieces:
            name = format_range(*piece.ranges[0])
            out[a.key, name] = ev.allowed(ia, External(piece))
            out[name, a.key] = ev.allowed(External(piece), ia)
    return {k: v for k, v in out.items() if not v.is_empty()}


def _compare(
    before: Pairs, after: Pairs
) -> dict[tuple[str, str], tuple[ConnectionSet, ConnectionSet]]:
    none = ConnectionSet.none()
    out = {}
    for key in before.keys() | after.keys():
        was, now = before.get(key, none), after.get(key, none)
        if was != now:
            out[key] = (was, now)
    return out


def _isolated(cluster: Cluster, direction: str) -> set[str]:
    ev = Evaluator(cluster)
    return {p.key for p in cluster.pods if ev.policies_selecting(ev.pod_info(p), direction)}


@settings(max_examples=250, deadline=None)
@given(mutated())
def test_diff_is_the_pairwise_comparison_of_connlists(case):
    old, new, _done = case
    pieces = _pieces(old, new)
    expected = _compare(_from_connlist(old, pieces), _from_connlist(new, pieces))
    independent = _compare(_from_evaluator(old, pieces), _from_evaluator(new, pieces))
    assert expected == independent

    result = api.diff(old, new, workloads=False)
    got = {}
    for c in result.changes():
        assert (c.src, c.dst) not in got, "a pair is listed once"
        got[c.src, c.dst] = (c.before, c.after)
        kind = "added" if c.before.is_empty() else "removed" if c.after.is_empty() else "changed"
        assert c.change == kind
    assert got == expected
    # the ranges named are exactly the common pieces
    names = {format_range(*p.ranges[0]) for p in pieces}
    assert {n for pair in got for n in pair if _is_range(n)} <= names
    # listed in (src, dst) name order, as connlist lists
    order = [(c.src, c.dst) for c in result.changes()]
    assert order == sorted(order)

    summary = result.summary()
    assert summary.added == sum(1 for b, _ in expected.values() if b.is_empty())
    assert summary.removed == sum(1 for _, a in expected.values() if a.is_empty())
    assert summary.total == len(expected)
    losing = sum(1 for b, a in expected.values() if not b.is_subset(a))
    assert summary.losing == losing
    assert result.removes_ports == (losing > 0)

    both = {p.key for p in old.pods} & {p.key for p in new.pods}
    for direction in ("ingress", "egress"):
        was, now = _isolated(old, direction), _isolated(new, direction)
        got_isolated = {i.endpoint: i for i in summary.isolated if i.direction == direction}
        assert set(got_isolated) == (now - was) & both
        for name, item in got_isolated.items():
            mine = [
                (b, a)
                for (s, d), (b, a) in expected.items()
                if (d if direction == "ingress" else s) == name
            ]
            assert item.losing == sum(1 for b, a in mine if not b.is_subset(a))
            assert item.cut == sum(1 for _, a in mine if a.is_empty())
            assert len(item.examples) == min(3, item.losing)
            for lost in item.examples:
                pair = (lost.peer, name) if direction == "ingress" else (name, lost.peer)
                assert expected[pair] == (lost.before, lost.after)
                assert not lost.before.is_subset(lost.after)
        opened = {n for n, d in summary.opened if d == direction}
        assert opened == (was - now) & both
    exposure = {}
    for (s, d), (b, a) in expected.items():
        if not _is_range(d) and not a.is_subset(b):
            exposure.setdefault(d, [0, 0])[1 if _is_range(s) else 0] += 1
    assert {e.endpoint: [e.sources, e.outside] for e in summary.exposure} == exposure


@settings(max_examples=60, deadline=None)
@given(clusters())
def test_no_change_no_diff(cluster: Cluster):
    result = api.diff(cluster, cluster)
    assert list(result.changes()) == []
    summary = result.summary()
    assert (summary.total, summary.isolated, summary.opened, summary.exposure) == (0, [], [], [])
    assert not result.removes_ports


@settings(max_examples=60, deadline=None)
@given(clusters())
def test_against_nothing_everything_is_added(cluster: Cluster):
    """An empty old side: every allowed connection of the new side is added, and the reverse
    diff removes it (named and cut as the new side's connlist with its own pieces)."""
    pieces = _pieces(cluster, cluster)
    allowed = _from_connlist(cluster, pieces)
    added = {(c.src, c.dst): c for c in api.diff(Cluster(), cluster).changes()}
    assert {k: c.after for k, c in added.items()} == allowed
    assert all(c.change == "added" for c in added.values())
    removed = {(c.src, c.dst): c for c in api.diff(cluster, Cluster()).changes()}
    assert {k: c.before for k, c in removed.items()} == allowed
    assert all(c.change == "removed" for c in removed.values())
