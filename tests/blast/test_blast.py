"""Blast radius on small fixtures whose transitive paths are derived by hand from the spec.

Each expectation below is written from the manifests in `data/` (see the comments there), not
from netpolicy's output: hops, one shortest path with the ports opened at each step, counts
per namespace, and the ranking's counts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netpolicy import api
from netpolicy.analysis.blast import (
    blast_radius,
    blast_ranking,
    class_closure,
    class_graph,
    source_pods,
)
from netpolicy.analysis.connectivity import compute_connectivity
from netpolicy.analysis.connlist import connection_list
from netpolicy.analysis.endpoints import EndpointError
from netpolicy.model import Cluster

from ..cli._helpers import invoke
from ..strategies import clusters

DATA = Path(__file__).parent / "data"
ALL = "All Connections"
EVERYWHERE = "0.0.0.0-255.255.255.255"


def load(name: str) -> Cluster:
    data = api.load_input([DATA / name])
    assert not [d for d in data.diagnostics if d.severity == "error"]
    return data.cluster


def summary(cluster: Cluster, source: str, **kw: object) -> list[tuple[str, int, list[str]]]:
    """(target, hops, path as `name (ports)`) per target, in the result's order."""
    result = api.blast_radius(cluster, source, **kw)  # type: ignore[arg-type]
    return [
        (t.name, t.hops, [f"{h.name} ({h.connections.describe()})" for h in t.path])
        for t in result.targets
    ]


def test_chain_through_three_namespaces():
    # a/web: egress only to a/api on 8080 (web-to-api), which a/api admits from web on `http`
    # (8080). a/api: egress only to b/db on 5432, which b/db admits from a/api. b/db's egress
    # is open: c/cache admits all (no policy) and the outside is one range (no ipBlocks);
    # a/web and a/api admit nothing from b/db, c/lonely admits nothing at all.
    got = summary(load("chain.yaml"), "a/web")
    assert got == [
        ("a/api", 1, ["a/api (TCP 8080)"]),
        ("b/db", 2, ["a/api (TCP 8080)", "b/db (TCP 5432)"]),
        ("c/cache", 3, ["a/api (TCP 8080)", "b/db (TCP 5432)", f"c/cache ({ALL})"]),
        (EVERYWHERE, 3, ["a/api (TCP 8080)", "b/db (TCP 5432)", f"{EVERYWHERE} ({ALL})"]),
    ]
    result = api.blast_radius(load("chain.yaml"), "a/web")
    assert result.per_namespace() == {"a": 1, "b": 1, "c": 1}
    assert (result.outside, result.direct, result.max_hops) == (1, 1, 3)


def test_dead_ends():
    cluster = load("chain.yaml")
    # c/cache: egress open, but every pod but c/cache itself is isolated for ingress and
    # admits nothing from it: only the outside
    assert summary(cluster, "c/cache") == [(EVERYWHERE, 1, [f"{EVERYWHERE} ({ALL})"])]
    # b/db: its egress is open; c/cache admits it; nothing else does
    assert [t[0] for t in summary(cluster, "b/db")] == ["c/cache", EVERYWHERE]
    # --max-hops cuts the search
    assert [t[0] for t in summary(cluster, "a/web", max_hops=2)] == ["a/api", "b/db"]


def test_source_class_reached_again_through_a_cycle():
    # r/w1 and r/w2 share their labels (one class). Workers admit only the gate (7000), the
    # gate admits only workers (TCP 443, UDP 53); egress is open. So r/w2 is reached from
    # r/w1 in two hops, through the gate. r/w3 (canary) is also selected by `workers`: its
    # ingress is the union of both policies selecting it, so the gate gets in on 7000.
    got = summary(load("cycle.yaml"), "r/w1")
    assert got == [
        ("r/gate", 1, ["r/gate (TCP 443,UDP 53)"]),
        (EVERYWHERE, 1, [f"{EVERYWHERE} ({ALL})"]),
        ("r/w2", 2, ["r/gate (TCP 443,UDP 53)", "r/w2 (TCP 7000)"]),
        ("r/w3", 2, ["r/gate (TCP 443,UDP 53)", "r/w3 (TCP 7000)"]),
    ]
    # r/w3 is isolated for egress without an egress rule: it reaches nothing
    assert summary(load("cycle.yaml"), "r/w3") == []


def test_workload_source_and_outside_ranges():
    cluster = load("workload.yaml")
    name, pods = source_pods(cluster, "app/web")
    assert name == "app/web[Deployment]"
    assert sorted(p.name for p in pods) == ["web-5d8f-a", "web-5d8f-b"]
    # web -> store on every port of store's ingress rule (9000); store -> 10.0.0.0/8 on 443.
    # The replicas do not reach each other: web's egress allows only store.
    expected = [
        ("app/store[StatefulSet]", 1, ["app/store[StatefulSet] (TCP 9000)"]),
        (
            "10.0.0.0-10.255.255.255",
            2,
            ["app/store[StatefulSet] (TCP 9000)", "10.0.0.0-10.255.255.255 (TCP 443)"],
        ),
    ]
    assert summary(cluster, "app/web") == expected
    assert summary(cluster, "app/web-5d8f-a") == expected


def test_ranking_counts():
    # Transitive reach (workloads = pods here): web -> api, db, cache; api -> db, cache;
    # db -> cache; lonely (egress open) -> cache; cache -> nothing (all others are isolated).
    ranking = api.blast_ranking(load("chain.yaml"))
    by = {w.name: w for w in ranking.workloads}
    assert {n: (w.reaches, w.reaches_directly) for n, w in by.items()} == {
        "a/web": (3, 1),
        "a/api": (2, 1),
        "b/db": (1, 1),
        "c/lonely": (1, 1),
        "c/cache": (0, 0),
    }
    assert {n: (w.reached_by, w.reached_by_directly) for n, w in by.items()} == {
        "a/web": (0, 0),
        "a/api": (1, 1),
        "b/db": (2, 1),
        "c/cache": (4, 2),
        "c/lonely": (0, 0),
    }
    assert {n for n, w in by.items() if w.from_outside} == {"c/cache"}
    assert [w.name for w in ranking.most_reachable(2)] == ["c/cache", "b/db"]
    assert [w.name for w in ranking.widest_reach(1)] == ["a/web"]


def test_ranking_on_a_cycle_counts_the_same_class():
    # w1 and w2 (one class) reach each other through the gate; w3 reaches nothing.
    by = {w.name: w for w in api.blast_ranking(load("cycle.yaml")).workloads}
    assert (by["r/w1"].reaches, by["r/w1"].reaches_directly) == (3, 1)
    assert (by["r/w2"].reached_by, by["r/w2"].reached_by_directly) == (2, 1)
    assert (by["r/w3"].reaches, by["r/w3"].reached_by) == (0, 3)


def test_errors_name_the_input():
    cluster = load("chain.yaml")
    with pytest.raises(EndpointError, match="no pod, workload"):
        api.blast_radius(cluster, "a/nothing")
    with pytest.raises(EndpointError, match="outside address"):
        api.blast_radius(cluster, "8.8.8.8")


def _pod_reach(cluster: Cluster) -> dict[str, set[str]]:
    """Transitive reach per pod, by a plain search over connlist's pod pairs."""
    edges: dict[str, set[str]] = {}
    for c in connection_list(compute_connectivity(cluster), workloads=False):
        edges.setdefault(c.src, set()).add(c.dst)
    reach: dict[str, set[str]] = {}
    for p in cluster.pods:
        seen: set[str] = set()
        todo = [p.key]
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt not in seen and nxt != p.key:
                    seen.add(nxt)
                    if "/" in nxt:  # outside ranges end a path
                        todo.append(nxt)
        reach[p.key] = seen
    return reach


@settings(max_examples=150)
@given(clusters())
def test_class_search_agrees_with_pod_search(cluster):
    """On random clusters: the class-graph search reaches exactly what a search over
    connlist's pod pairs reaches, and the closure of the class graph agrees with it."""
    result = compute_connectivity(cluster)
    reach = _pod_reach(cluster)
    for pod in cluster.pods:
        found = blast_radius(result, pod.key, [pod])
        assert {t.name for t in found.targets} == reach[pod.key]
        for t in found.targets:  # every path is made of allowed steps, hop by hop
            assert len(t.path) == t.hops and t.path[-1].name == t.name
            assert all(not h.connections.is_empty() for h in t.path)
    ranking = blast_ranking(result)
    pods_only = {p: {x for x in r if "/" in x} for p, r in reach.items()}
    assert {w.name: w.reaches for w in ranking.workloads} == {
        p: len(r) for p, r in pods_only.items()
    }
    indptr, succ, _ = class_graph(result)
    assert class_closure(indptr, succ).shape[0] == len(result.classes)


@given(st.integers(1, 40), st.data())
@settings(max_examples=80)
def test_closure_on_random_graphs(n, data):
    """Tarjan + bitsets against repeated squaring of the adjacency."""
    import numpy as np

    adj = np.array(data.draw(st.lists(st.booleans(), min_size=n * n, max_size=n * n)))
    adj = adj.reshape(n, n)
    indptr = np.r_[0, np.cumsum(adj.sum(axis=1))].astype(np.int64)
    succ = np.concatenate([np.flatnonzero(r) for r in adj]).astype(np.int64)
    bits = class_closure(indptr, succ)
    got = np.unpackbits(bits.view(np.uint8), axis=1, bitorder="little")[:, :n].astype(bool)
    want = adj.copy()
    for _ in range(n):
        want = want | ((want.astype(int) @ want.astype(int)) > 0)
    assert (got == want).all()


def test_cli_text_json_and_ranking():
    path = str(DATA / "chain.yaml")
    text = invoke("blast-radius", "a/web", path)
    assert text.exit_code == 0, text.output
    assert "a/web => a/api (TCP 8080) => b/db (TCP 5432) => c/cache (All Connections)" in (
        text.stdout
    )
    doc = json.loads(invoke("blast-radius", "a/web", path, "-o", "json").stdout)
    assert (doc["apiVersion"], doc["kind"]) == ("netpolicy/v1", "BlastRadius")
    assert doc["namespaces"] == [
        {"namespace": "a", "reached": 1},
        {"namespace": "b", "reached": 1},
        {"namespace": "c", "reached": 1},
    ]
    db = next(t for t in doc["targets"] if t["target"] == "b/db")
    assert db["hops"] == 2
    assert db["path"] == [
        {"endpoint": "a/api", "ports": [{"protocol": "TCP", "from": 8080, "to": 8080}]},
        {"endpoint": "b/db", "ports": [{"protocol": "TCP", "from": 5432, "to": 5432}]},
    ]
    top = json.loads(invoke("blast-radius", "--top", "2", path, "-o", "json").stdout)
    assert top["kind"] == "BlastRadiusRanking"
    assert [w["workload"] for w in top["mostReachable"]] == ["c/cache", "b/db"]
    assert top["mostReachable"][0]["reachedBy"] == 4
    assert [w["workload"] for w in top["widestReach"]] == ["a/web", "a/api"]


def test_demo_works_without_input():
    result = invoke("blast-radius", "default/debug")
    assert result.exit_code == 0, result.output
    assert "payments/db[StatefulSet]" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give SRC"),
        (("a/nothing", str(DATA / "chain.yaml")), "no pod, workload"),
        (("8.8.8.8",), "outside address"),
        (("a/web", "-o", "csv"), "not supported"),
        (("--top", "-1"), "--top must be"),
        (("--top", "3", "a/web"), "give only manifests"),
        (("a/web", str(DATA / "missing.yaml")), ""),
    ],
)
def test_bad_usage_exits_2(args, message):
    result = invoke("blast-radius", *args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert message in result.output
