"""The grouped view: expanded, exactly the full connection list; selectors pick exactly."""

from __future__ import annotations

import json
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from netpolicy import api
from netpolicy.analysis.connectivity import compute_connectivity
from netpolicy.analysis.connlist import ConnectionRows
from netpolicy.analysis.grouped import grouped_connections
from netpolicy.analysis.owners import split_owners
from netpolicy.model import Cluster, LabelSelector, OwnerRef, Requirement
from netpolicy.render.connlist import connlist_chunks
from netpolicy.render.grouped import grouped_chunks
from netpolicy.semantics.selectors import selector_matches
from tests.strategies import clusters

Pairs = dict[tuple[str, str], str]


def _full(cluster: Cluster, workloads: bool) -> Pairs:
    """The connection list's JSON, as (src, dst) -> ports."""
    result = compute_connectivity(cluster)
    split = split_owners(result)[0] if workloads else set()
    rows = ConnectionRows(result, workloads=workloads, split=split)
    doc = json.loads(b"".join(connlist_chunks(rows, "json")))
    return {(c["src"], c["dst"]): json.dumps(c["ports"]) for c in doc["connections"]}


def _grouped_doc(cluster: Cluster, workloads: bool) -> dict[str, object]:
    result = compute_connectivity(cluster)
    split = split_owners(result)[0] if workloads else set()
    view = grouped_connections(result, workloads=workloads, split=split)
    doc: dict[str, object] = json.loads(b"".join(grouped_chunks(view, "json")))
    return doc


def _expanded(doc: dict[str, object]) -> Pairs:
    """Every (member, member) pair of every grouped connection; each pair at most once."""
    members = {g["id"]: g["members"] for g in doc["groups"]}  # type: ignore[attr-defined]
    pairs: Pairs = {}
    for c in doc["connections"]:  # type: ignore[attr-defined]
        for a in members[c["src"]]:
            for b in members[c["dst"]]:
                if a == b:
                    continue
                assert (a, b) not in pairs, f"{a} => {b} covered twice"
                pairs[a, b] = json.dumps(c["ports"])
    return pairs


def _selector(doc: dict[str, object]) -> LabelSelector:
    labels = tuple(sorted(doc.get("matchLabels", {}).items()))  # type: ignore[attr-defined]
    exprs = tuple(
        Requirement(e["key"], e["operator"], tuple(e.get("values", ())))
        for e in doc.get("matchExpressions", [])  # type: ignore[attr-defined]
    )
    return LabelSelector(labels, exprs)


def _pod_endpoint(pod_key: str, owner: str | None, workloads: bool, split: set[str]) -> str:
    return owner if workloads and owner is not None and owner not in split else pod_key


@st.composite
def owned_clusters(draw: st.DrawFn) -> Cluster:
    """Random clusters, some pods under one of two owners per namespace."""
    cluster = draw(clusters())
    pods = tuple(
        replace(pod, owner=OwnerRef("ReplicaSet", f"w{owner}") if owner < 2 else None)
        for pod, owner in ((p, draw(st.integers(0, 2))) for p in cluster.pods)
    )
    return replace(cluster, pods=pods)


@settings(max_examples=300, deadline=None)
@given(owned_clusters(), st.booleans())
def test_the_grouped_view_expands_to_exactly_the_full_list(
    cluster: Cluster, workloads: bool
) -> None:
    doc = _grouped_doc(cluster, workloads)
    assert doc["kind"] == "GroupedConnectivityList"
    assert _expanded(doc) == _full(cluster, workloads)
    # every endpoint is in exactly one group
    names = [m for g in doc["groups"] for m in g["members"]]  # type: ignore[attr-defined]
    assert len(names) == len(set(names))


@settings(max_examples=300, deadline=None)
@given(owned_clusters(), st.booleans())
def test_each_selector_picks_exactly_its_members(cluster: Cluster, workloads: bool) -> None:
    doc = _grouped_doc(cluster, workloads)
    result = compute_connectivity(cluster)
    split = split_owners(result)[0] if workloads else set()
    for group in doc["groups"]:  # type: ignore[attr-defined]
        if group["selector"] is None:
            continue
        selector = _selector(group["selector"])
        members = set(group["members"])
        for pod in cluster.pods:
            if pod.namespace not in group["namespaces"] or pod.host_network:
                continue
            owner = f"{pod.namespace}/{pod.owner.name}[{pod.owner.kind}]" if pod.owner else None
            inside = _pod_endpoint(pod.key, owner, workloads, split) in members
            assert selector_matches(selector, dict(pod.labels)) == inside, (group, pod)


def test_the_demo_groups() -> None:
    # The demo (src/netpolicy/demo/shop.yaml): no two workloads are treated alike, so the
    # groups are the workloads; the outside ranges 0.0.0.0-9.255.255.255 and
    # 11.0.0.0-255.255.255.255 (cut apart by the 10.0.0.0/8 ipBlock) are treated alike.
    view = api.grouped(api.load_demo().cluster)
    outside = [g for g in view.groups if not g.namespaces]
    assert [g.members for g in outside] == [
        ("0.0.0.0-9.255.255.255", "11.0.0.0-255.255.255.255"),
        ("10.0.0.0-10.255.255.255",),
    ]
    assert all(g.selector is None for g in outside)
    frontend = next(g for g in view.groups if g.members == ("shop/frontend[Deployment]",))
    assert frontend.namespaces == ("shop",)
    assert view.connection_count() == len(api.connlist(api.load_demo().cluster))
