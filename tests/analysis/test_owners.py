"""Owners whose pods are not all treated alike are listed pod by pod, with a warning."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netpolicy.analysis.connectivity import Connectivity, compute_connectivity
from netpolicy.analysis.connlist import endpoint_name
from netpolicy.analysis.owners import owner_name, split_owners
from netpolicy.load import load_manifests
from netpolicy.model import (
    Cluster,
    ContainerPort,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    OwnerRef,
    Pod,
    PolicyPort,
    Rule,
    labels_of,
)
from netpolicy.semantics import ConnectionSet, IntervalSet
from tests.strategies import clusters

GAP = "example_pods_w_same_owner_and_labels_gap_"


def _result(peer_suite: Path, scenario: str) -> Connectivity:
    return compute_connectivity(load_manifests([peer_suite / "tests" / scenario]).cluster)


def _listing(result: Connectivity, split: set[str]) -> dict[tuple[str, str], str]:
    """connlist --workloads with `split` applied, built from the pod-level pairs (an oracle
    independent of ConnectionRows): owners aggregated unless split, self pairs left out."""

    def name(endpoint: Pod | IntervalSet) -> str:
        if isinstance(endpoint, Pod) and owner_name(endpoint) in split:
            return endpoint_name(endpoint, workloads=False)
        return endpoint_name(endpoint, workloads=True)

    merged: dict[tuple[str, str], ConnectionSet] = {}
    for src, dst, conns in result.pod_pairs():
        key = (name(src), name(dst))
        if key[0] != key[1]:
            merged[key] = merged[key] | conns if key in merged else conns
    return {key: conns.describe() for key, conns in sorted(merged.items())}


def test_a_selector_that_tells_the_pods_apart_splits_the_owner(peer_suite: Path) -> None:
    # pods.yaml: pod-1 (app=command-selector) and pod-2 (app=query-selector) are both owned
    # by internal-security; the policy admits TCP 90 only from app In (query-selector), so
    # pod-2 may reach pod-3 and pod-1 may not. netpol-analyzer stops here with "Found Pods
    # of the same owner workload `default/internal-security` and with differences in their
    # labels"; we list the two pods apart and warn.
    result = _result(peer_suite, GAP + "with_bad_match_expression")
    split, [warning] = split_owners(result)
    assert split == {"default/internal-security"}
    assert warning.severity == "warning"
    assert warning.code == "owner-split"
    assert warning.message == (
        "the pods of default/internal-security are not all treated alike: what they may "
        "open differs (their labels differ in app); listed pod by pod: default/pod-1, "
        "default/pod-2"
    )
    assert (Path(warning.source.file).name, warning.source.line) == ("pods.yaml", 8)
    everything = "All Connections"
    assert _listing(result, split) == {
        ("default/pod-1", "0.0.0.0-255.255.255.255"): everything,
        ("default/pod-2", "0.0.0.0-255.255.255.255"): everything,
        ("default/pod-2", "default/pod-1"): "TCP 90",
        ("default/pod-2", "default/pod-3"): "TCP 90",
        ("default/pod-3", "0.0.0.0-255.255.255.255"): everything,
    }
    # Without the split, one line claimed the whole owner reaches pod-3 on TCP 90.
    assert _listing(result, set())[("default/internal-security", "default/pod-3")] == "TCP 90"


@pytest.mark.parametrize(
    ("scenario", "classes"),
    [
        # `app Exists`, and `app In (query-selector, command-selector)`: the policy selects
        # both pods alike, so the owner stays one line (as in netpol-analyzer's goldens).
        ("with_good_match_expression", 3),
        ("with_good_match_expression2", 3),
        # `security: internal`, which both pods have: one class for both.
        ("with_policy_selector_not_in_gap", 2),
        ("no_policy", 1),
    ],
)
def test_pods_treated_alike_stay_under_their_owner(
    peer_suite: Path, scenario: str, classes: int
) -> None:
    result = _result(peer_suite, GAP + scenario)
    assert len(result.classes) == classes
    assert split_owners(result) == (set(), [])


def test_golden_lines_of_the_alike_scenario(peer_suite: Path) -> None:
    # test_outputs/connlist/..._with_good_match_expression_connlist_output.txt lists
    # default/internal-security[Pod] => default/pod-3[Pod] : TCP 90 and the reverse.
    result = _result(peer_suite, GAP + "with_good_match_expression")
    listing = _listing(result, split_owners(result)[0])
    assert listing[("default/internal-security", "default/pod-3")] == "TCP 90"
    assert listing[("default/pod-3", "default/internal-security")] == "TCP 90"


@st.composite
def owned_clusters(draw: st.DrawFn) -> Cluster:
    """Random clusters whose pods belong to one of two owners per namespace, or to none."""
    cluster = draw(clusters())
    pods = tuple(
        replace(pod, owner=OwnerRef("ReplicaSet", f"w{owner}") if owner < 2 else None)
        for pod, owner in ((p, draw(st.integers(0, 2))) for p in cluster.pods)
    )
    return replace(cluster, pods=pods)


@settings(max_examples=200, deadline=None)
@given(owned_clusters())
def test_an_owner_is_split_exactly_when_its_pods_differ_towards_someone(cluster: Cluster) -> None:
    result = compute_connectivity(cluster)
    split, warnings = split_owners(result)
    assert {w.message.split()[3].rstrip(":") for w in warnings} == split
    towards: dict[tuple[int, int], ConnectionSet] = {}  # (id(src), id(dst)) -> connections
    for src, dst, conns in result.pod_pairs():
        towards[id(src), id(dst)] = conns
    none = ConnectionSet.none()
    owners: dict[str, list[Pod]] = defaultdict(list)
    for pod in cluster.pods:
        if (name := owner_name(pod)) is not None:
            owners[name].append(pod)
    others: list[object] = [*cluster.pods, *result.outside]
    for name, pods in owners.items():
        outside = [x for x in others if not (isinstance(x, Pod) and owner_name(x) == name)]
        differs = any(
            towards.get((id(p), id(x)), none) != towards.get((id(q), id(x)), none)
            or towards.get((id(x), id(p)), none) != towards.get((id(x), id(q)), none)
            for p in pods
            for q in pods
            for x in outside
        )
        assert (name in split) == differs, name


def test_a_class_shared_by_two_owners_counts_for_each_apart() -> None:
    # pod0-pod3 (owner w0) and pod5 (owner w1) share a class; pod4 (w0) is apart only for
    # its named port http, which no policy of the input uses towards it; pod6 (w1) is the
    # one p0 selects (and, having no port named http, admits nothing). Only w1's pods are
    # treated differently: pod6 admits nothing, pod5 everything. What w1's own pod6 sends
    # into the shared class must not count against w0.
    w0 = [
        Pod(
            "x",
            f"pod{i}",
            owner=OwnerRef("ReplicaSet", "w0"),
            ports=(ContainerPort(53, "TCP", "http"),) if i == 4 else (),
        )
        for i in range(5)
    ]
    pods = (
        *w0,
        Pod("x", "pod5", owner=OwnerRef("ReplicaSet", "w1")),
        Pod("x", "pod6", labels_of({"app": "a"}), owner=OwnerRef("ReplicaSet", "w1")),
    )
    policy = NetworkPolicy(
        "x",
        "p0",
        LabelSelector(labels_of({"app": "a"})),
        ingress=(Rule((), (PolicyPort("TCP", "http"),)),),
        policy_types=("Ingress",),
    )
    cluster = Cluster((Namespace("x"),), pods, (), (policy,))
    split, _ = split_owners(compute_connectivity(cluster))
    assert split == {"x/w1[ReplicaSet]"}
