"""The report's data: what the page reads is exactly the engine's answer, and stays small."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from netpolicy import api
from netpolicy.analysis.report import OUTSIDE, ReportData
from netpolicy.model import Cluster
from netpolicy.render.report import render_report, report_document, runs

from ..strategies import clusters

CASES = Path(__file__).resolve().parents[1] / "cases"


def decode(values: list[int]) -> list[int]:
    """The page's decoder of `runs`, in Python."""
    out: list[int] = []
    for v in values:
        if v < 0:
            out += range(out[-1] + 1, -v + 1)
        else:
            out.append(v)
    return out


def expanded(data: ReportData) -> set[tuple[str, str, str]]:
    """Every endpoint pair the group rows stand for, with its ports."""
    names = [e.name for e in data.endpoints]
    found = set()
    for row in data.rows:
        for pid, dsts in row.parts:
            text = data.port_sets.sets[pid].describe()
            for a in data.groups[row.src].members:
                for d in dsts.tolist():
                    for b in data.groups[d].members:
                        if a != b:
                            found.add((names[a], names[b], text))
    return found


def connlist_pairs(cluster: Cluster) -> set[tuple[str, str, str]]:
    return {(c.src, c.dst, c.connections.describe()) for c in api.connlist(cluster, workloads=True)}


def check_against_connlist(cluster: Cluster) -> None:
    data = api.report(cluster)
    pairs = connlist_pairs(cluster)
    assert expanded(data) == pairs
    assert data.connection_count() == len(pairs)
    # per namespace pair: the pairs connected, those allowing everything, the ports' union
    ns_of = {e.name: e.namespace for e in data.endpoints}
    want: dict[tuple[str, str], list[object]] = defaultdict(lambda: [0, 0, set()])
    for c in api.connlist(cluster, workloads=True):
        cell = want[ns_of[c.src], ns_of[c.dst]]
        cell[0] += 1  # type: ignore[operator]
        cell[1] += c.connections.is_all()  # type: ignore[operator]
        cell[2].add(c.connections)  # type: ignore[union-attr]
    got = {
        (p.src, p.dst): (p.connected, p.everything, data.port_sets.sets[p.ports])
        for p in data.namespace_pairs
    }
    assert set(got) == set(want)
    for key, (connected, everything, conns) in want.items():
        union = next(iter(conns))  # type: ignore[call-overload]
        for c in conns:  # type: ignore[attr-defined]
            union = union | c
        assert got[key] == (connected, everything, union), key


def test_demo_rows_expand_to_connlist() -> None:
    demo = api.load_input([])
    check_against_connlist(demo.cluster)
    data = api.report(demo.cluster)
    names = {e.name for e in data.endpoints}
    assert "shop/frontend[Deployment]" in names and "10.0.0.0-10.255.255.255" in names
    assert data.namespaces[-1] == OUTSIDE


def test_spec_cases_rows_expand_to_connlist() -> None:
    for case in sorted(CASES.iterdir()):
        manifests = case / "manifests.yaml"
        if manifests.exists():
            check_against_connlist(api.load_input([manifests]).cluster)


@settings(max_examples=60)
@given(clusters())
def test_random_clusters_rows_expand_to_connlist(cluster: Cluster) -> None:
    check_against_connlist(cluster)


@given(st.sets(st.integers(0, 200)))
def test_runs_round_trip(values: set[int]) -> None:
    ordered = sorted(values)
    encoded = runs(ordered)
    assert decode(encoded) == ordered
    assert len(encoded) <= len(ordered)


def test_endpoint_marks_come_from_the_engine() -> None:
    demo = api.load_input([]).cluster
    data = api.report(demo)
    by_name = {e.name: e for e in data.endpoints}
    coverage = {w.name: w for w in api.coverage(demo).workloads}
    for name, w in coverage.items():
        assert by_name[name].isolated_ingress == w.isolated_ingress, name
        assert by_name[name].isolated_egress == w.isolated_egress, name
    exposed = api.exposure(demo).exposed_to(["entireCluster"])
    for e in data.endpoints:
        assert set(e.entire_cluster) == exposed.get(e.name, set()), e.name
    assert by_name["default/debug"].entire_cluster == ("ingress", "egress")
    assert not by_name["shop/backend[Deployment]"].entire_cluster
    assert [f.check for f in data.lint.findings] == [f.check for f in api.lint(demo).findings]


def dense_cluster(namespaces: int, per_namespace: int) -> Cluster:
    """Every pod may reach every pod (no policies), workloads all labelled alike."""
    items = []
    for n in range(namespaces):
        items.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"ns{n}"}})
        for w in range(per_namespace):
            items.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": f"w{w}", "namespace": f"ns{n}"},
                    "spec": {
                        "selector": {"matchLabels": {"app": "x"}},
                        "template": {"metadata": {"labels": {"app": "x"}}, "spec": {}},
                    },
                }
            )
    doc = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
    from netpolicy.load import load_text

    return load_text(doc, filename="dense.json").cluster


def test_size_follows_groups_not_pairs() -> None:
    small = api.report(dense_cluster(4, 10))
    # 1,000 workloads and the one outside range: 1,001,000 allowed pairs
    large = api.report(dense_cluster(20, 50))
    assert large.connection_count() == 1001 * 1000
    small_doc = report_document(small)
    large_doc = report_document(large)
    assert len(large.rows) <= 2 and len(large.namespace_pairs) <= 21 * 21
    # the endpoints grow, and the namespace pairs; nothing grows with the endpoint pairs
    assert len(json.dumps(large_doc["rows"])) == len(json.dumps(small_doc["rows"]))
    assert len(json.dumps(large_doc, separators=(",", ":"))) < 200 * len(large.endpoints)


def test_page_is_self_contained() -> None:
    data = api.report(api.load_input([]).cluster, description='demo "<shop>"')
    page = "".join(render_report(data))
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<(script|img|iframe)[^>]*\bsrc=", page)
    assert not re.search(r"<link\b", page)
    assert "demo &#34;&lt;shop&gt;&#34;" in page  # user text is escaped
    blob = page.split('<script id="report-data" type="application/json">', 1)[1]
    blob = blob.split("</script>", 1)[0]
    doc = json.loads(blob)
    assert doc["kind"] == "Report" and doc["connections"] == 43
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
