"""The report in a real browser (headless Chromium through Playwright): the graph against
connlist, explanations against `explain`, the namespace filter, the matrix, search, and a
cluster of 2,000 workloads that opens grouped and expands on demand."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from netpolicy import api
from netpolicy.load import load_text
from netpolicy.model import Cluster

from .conftest import ARTIFACTS, Opened, write_report

CASES = Path(__file__).resolve().parents[1] / "cases"
FRONTEND = "shop/frontend[Deployment]"
BACKEND = "shop/backend[Deployment]"


def demo() -> Cluster:
    return api.load_input([]).cluster


def connlist_edges(cluster: Cluster, namespace: str | None = None) -> set[tuple[str, str, str]]:
    return {
        (c.src, c.dst, c.connections.describe())
        for c in api.connlist(cluster, workloads=True, namespace=namespace)
    }


def shown_edges(page: Opened) -> set[tuple[str, str, str]]:
    edges = page.js("window.netpolicyReport.edges()")
    assert all(len(e["ports"]) == 1 for e in edges)
    return {(e["src"], e["dst"], e["ports"][0]) for e in edges}


def assert_clean(page: Opened) -> None:
    assert page.errors == []
    # self-contained: nothing but the file itself is ever requested
    assert {url.split(":", 1)[0] for url in page.requests} <= {"file", "data"}


def click_edge(page: Opened, src: str, dst: str) -> None:
    """A real mouse click on the middle of the drawn edge src -> dst."""
    edge_id = next(
        e["id"]
        for e in page.js("window.netpolicyReport.edges()")
        if (e["src"], e["dst"]) == (src, dst)
    )
    box = page.page.locator("#graph").bounding_box()
    point = page.js(
        "id => window.netpolicyReport.cy.getElementById(id).renderedMidpoint()", edge_id
    )
    covering = page.js(
        """p => window.netpolicyReport.cy.nodes().filter(n => {
             const b = n.renderedBoundingBox({includeLabels: false});
             return !n.isParent() && b.x1 <= p.x && p.x <= b.x2 && b.y1 <= p.y && p.y <= b.y2;
           }).map(n => n.id())""",
        point,
    )
    assert covering == [], f"a node lies on the middle of {src} -> {dst}"
    page.page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])


def test_demo_graph_is_connlist_and_an_edge_explains_itself(tmp_path, open_report):
    cluster = demo()
    page = open_report(write_report(cluster, tmp_path / "demo.html", "demo"))
    # the demo is small: every workload and range is a node of its own
    nodes = page.js("window.netpolicyReport.nodes()")
    endpoints = {n["name"] for n in nodes if n["kind"] == "endpoint"}
    wanted = connlist_edges(cluster)
    assert endpoints == {a for a, _, _ in wanted} | {b for _, b, _ in wanted}
    assert {w.name for w in api.coverage(cluster).workloads} <= endpoints
    assert {n["name"] for n in nodes if n["kind"] == "box"} == {
        "default",
        "monitoring",
        "payments",
        "shop",
        "(outside)",
    }
    assert shown_edges(page) == wanted
    assert page.page.get_attribute("#graph", "data-edges") == str(len(wanted))

    click_edge(page, FRONTEND, BACKEND)
    page.page.wait_for_function("() => document.getElementById('explain').textContent.length > 0")
    assert page.page.inner_text("#details h3") == f"{FRONTEND} → {BACKEND}"
    text = page.page.inner_text("#explain")
    assert text.splitlines()[0] == f"ALLOWED  {FRONTEND} → {BACKEND}  TCP 8080"
    decision = api.explain(cluster, FRONTEND, BACKEND).decision
    for m in decision.ingress.matches:
        assert f"allowed by {m.rule_id} ({m.source}): TCP 8080" in text
    assert f"ingress of {BACKEND}: isolated by {', '.join(decision.ingress.policies)}" in text
    # the pointer rests on the edge: its ports are on show
    assert page.page.is_visible("#tooltip")
    assert page.page.inner_text("#tooltip") == f"{FRONTEND} → {BACKEND}\nports: TCP 8080"
    # isolation and exposure to the entire cluster are marked on the nodes, as coverage and
    # exposure have them
    classes = page.js(
        "window.netpolicyReport.cy.nodes('.endpoint').map(n => "
        "[window.netpolicyReport.data.endpoints.name[Number(n.id().slice(2))], n.classes()])"
    )
    isolation = {
        w.name: (w.isolated_ingress, w.isolated_egress) for w in api.coverage(cluster).workloads
    }
    exposed = api.exposure(cluster).exposed_to(["entireCluster"])
    marks = {
        "iso-both": (True, True),
        "iso-in": (True, False),
        "iso-eg": (False, True),
        "iso-none": (False, False),
    }
    for name, cls in classes:
        if name in isolation:
            assert [marks[c] for c in cls if c in marks] == [isolation[name]], name
            assert ("exposed" in cls) == ("ingress" in exposed.get(name, set())), name
        else:
            assert "range" in cls, name
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report-demo.png"
    page.page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
    assert_clean(page)


def explanation_lines(text: str) -> dict[str, Any]:
    """The parts of the page's explanation that `explain` decides too."""
    lines = text.splitlines()
    verdict, _, rest = lines[0].partition("  ")
    sides: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] = {}
    for line in lines[1:]:
        if line.startswith(("egress of ", "ingress of ")):
            current = {"matches": [], "misses": [], "head": line}
            sides[line.split(" ", 1)[0]] = current
        elif line.startswith("  allowed by "):
            current["matches"].append(line[len("  allowed by ") :].split(" (", 1)[0])
        elif line.startswith("    "):
            current["misses"].append(line.strip().split(" (", 1)[0])
    return {"verdict": verdict, "ports": rest.rsplit("  ", 1)[-1], "sides": sides}


def check_explanations(page: Opened, cluster: Cluster) -> int:
    """Every ordered pair of the page's endpoints against `api.explain`; the pairs checked."""
    names = page.js("window.netpolicyReport.data.endpoints.name")
    columns = page.js("window.netpolicyReport.data.endpoints.columns")
    single = [n for n, cols in zip(names, columns, strict=True) if len(cols) == 1]
    texts = page.js(
        """names => names.flatMap(a => names.filter(b => b !== a).map(b =>
             [a, b, window.netpolicyReport.explain(a, b)]))""",
        single,
    )
    outside = set(
        page.js(
            "window.netpolicyReport.data.endpoints.name.filter((n, i) => "
            "window.netpolicyReport.data.namespaces["
            "window.netpolicyReport.data.endpoints.ns[i]] === '(outside)')"
        )
    )
    for a, b, text in texts:
        if a in outside and b in outside:  # no policy applies; connlist lists no such pair
            assert text.startswith(f"NOT CLUSTER TRAFFIC  {a} → {b}\n"), text
            continue
        got = explanation_lines(text)
        decision = api.explain(cluster, a, b).decision
        assert got["verdict"] == ("ALLOWED" if decision.allowed else "DENIED"), (a, b, text)
        if decision.allowed:
            assert got["ports"] == decision.connections.describe(), (a, b, text)
        for direction, side in (("egress", decision.egress), ("ingress", decision.ingress)):
            shown = got["sides"][direction]
            if not side.applies:
                assert "outside the cluster" in shown["head"], (a, b, text)
            elif not side.isolated:
                assert "not isolated" in shown["head"], (a, b, text)
            else:
                assert shown["head"].endswith("isolated by " + ", ".join(side.policies)), text
                assert shown["matches"] == [m.rule_id for m in side.matches], (a, b, text)
                assert shown["misses"] == [m.rule_id for m in side.misses[:5]], (a, b, text)
    return len(texts)


def test_explanations_agree_with_explain(tmp_path, open_report):
    """Demo and every spec case: the page's explanation of each pair, made from the
    engine's rule table, names the verdict, policies and rules `netpolicy explain` names."""
    clusters = [("demo", demo())] + [
        (case.name, api.load_input([case / "manifests.yaml"]).cluster)
        for case in sorted(CASES.iterdir())
        if (case / "manifests.yaml").exists()
    ]
    checked = 0
    for name, cluster in clusters:
        page = open_report(write_report(cluster, tmp_path / f"{name}.html", name))
        checked += check_explanations(page, cluster)
        assert_clean(page)
        page.page.close()
    assert checked > 1000


def test_namespace_filter_shows_connlist_of_the_namespace(tmp_path, open_report):
    cluster = demo()
    page = open_report(write_report(cluster, tmp_path / "demo.html"))
    for namespace in ("shop", "payments", "default"):
        page.page.select_option("#namespace-filter", label=namespace)
        page.page.wait_for_function(
            "n => document.getElementById('graph').dataset.edges == n",
            arg=str(len(connlist_edges(cluster, namespace))),
        )
        assert shown_edges(page) == connlist_edges(cluster, namespace)
        # the namespace's workloads and the peers they connect with; nothing else
        wanted = connlist_edges(cluster, namespace)
        nodes = page.js("window.netpolicyReport.nodes()")
        assert {n["name"] for n in nodes if n["kind"] == "endpoint"} == {
            x for a, b, _ in wanted for x in (a, b)
        }
    page.page.select_option("#namespace-filter", label="all namespaces")
    page.page.wait_for_function("() => document.getElementById('graph').dataset.edges == '43'")
    assert shown_edges(page) == connlist_edges(cluster)
    assert_clean(page)


def test_matrix_cell_expands_to_workloads_and_explains(tmp_path, open_report):
    cluster = demo()
    page = open_report(write_report(cluster, tmp_path / "demo.html"))
    # every cell's colour from connlist: all / some / none of the workload pairs
    ns_of = {
        n: n.split("/", 1)[0] if "/" in n else "(outside)"
        for n in page.js("window.netpolicyReport.data.endpoints.name")
    }
    sizes: dict[str, int] = {}
    for ns in ns_of.values():
        sizes[ns] = sizes.get(ns, 0) + 1
    cells: dict[tuple[str, str], list[int]] = {}
    for c in api.connlist(cluster, workloads=True):
        cell = cells.setdefault((ns_of[c.src], ns_of[c.dst]), [0, 0])
        cell[0] += 1
        cell[1] += c.connections.is_all()
    shown = {
        (c["src"], c["dst"]): c["status"]
        for c in page.js(
            "[...document.querySelectorAll('#matrix td.cell')].map(td => "
            "({src: td.dataset.src, dst: td.dataset.dst, status: td.dataset.status}))"
        )
    }
    assert set(shown) == {(a, b) for a in sizes for b in sizes}
    for (a, b), status in shown.items():
        total = sizes[a] * sizes[b] - (sizes[a] if a == b else 0)
        connected, everything = cells.get((a, b), (0, 0))
        if total == 0 or a == b == "(outside)":
            assert status == "na"
        else:
            assert status == ("none" if not connected else "all" if everything == total else "some")
    assert shown["default", "shop"] == "none" and shown["shop", "payments"] == "some"
    cell = page.page.locator('#matrix td[data-src="shop"][data-dst="payments"]')
    cell.click()
    sub = page.page.locator(
        '#cell-detail td[data-src="shop/frontend[Deployment]"]'
        '[data-dst="payments/payments-api[Deployment]"]'
    )
    assert sub.get_attribute("data-status") == "some"
    sub.click()
    text = page.page.inner_text("#cell-detail pre.cell-explain")
    assert text.startswith(
        "ALLOWED  shop/frontend[Deployment] → payments/payments-api[Deployment]  TCP 8080"
    )
    denied = page.page.locator(
        '#cell-detail td[data-src="shop/backend[Deployment]"]'
        '[data-dst="payments/payments-api[Deployment]"]'
    )
    assert denied.get_attribute("data-status") == "none"
    denied.click()
    text = page.page.inner_text("#cell-detail pre.cell-explain")
    assert text.startswith("DENIED  shop/backend[Deployment] → payments/payments-api[Deployment]")
    assert "no rule matched" in text
    # lint and coverage tables are there, with the engine's rows
    lint = api.lint(cluster)
    assert page.page.locator("#lint tr").count() == len(lint.findings) + 1
    coverage = api.coverage(cluster)
    assert page.page.locator("#coverage table[data-testid=coverage] tr").count() == (
        len(coverage.namespaces) + 2
    )
    assert_clean(page)


def test_search_reveals_a_workload(tmp_path, open_report):
    page = open_report(write_report(demo(), tmp_path / "demo.html"))
    page.page.fill("#search", "db")
    page.page.wait_for_selector("#search-results li")
    assert page.page.inner_text("#search-results li >> nth=0") == "payments/db[StatefulSet]"
    page.page.click("#search-results li >> nth=0")
    page.page.wait_for_function(
        "() => document.querySelector('#details h3') && "
        "document.querySelector('#details h3').textContent == 'payments/db[StatefulSet]'"
    )
    details = page.page.inner_text("#details-body")
    assert "isolated for ingress only" in details
    assert page.js("window.netpolicyReport.cy.$(':selected').map(n => n.id())") == [
        page.js(
            "'e:' + window.netpolicyReport.data.endpoints.name.indexOf('payments/db[StatefulSet]')"
        )
    ]
    assert_clean(page)


def large_cluster(namespaces: int = 25, per_namespace: int = 80) -> Cluster:
    """2,000 workloads: per namespace a default deny, an allowance from the namespaces of
    one team to tier t0 on `http`, and from tier t0 to tier t1 on 9090."""
    items: list[dict[str, Any]] = []
    for n in range(namespaces):
        ns = f"ns{n:02d}"
        meta = {"name": ns, "labels": {"team": f"t{n % 4}"}}
        items.append({"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
        for w in range(per_namespace):
            labels = {"app": f"a{w % 5}", "tier": f"t{w % 3}"}
            container = {
                "name": "c",
                "image": "x",
                "ports": [{"name": "http", "containerPort": 8080}],
            }
            items.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": f"w{w:02d}", "namespace": ns},
                    "spec": {
                        "selector": {"matchLabels": {"app": labels["app"]}},
                        "template": {
                            "metadata": {"labels": labels},
                            "spec": {"containers": [container]},
                        },
                    },
                }
            )
        policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy"}
        items.append(
            policy | {"metadata": {"name": "deny", "namespace": ns}, "spec": {"podSelector": {}}}
        )
        items.append(
            policy
            | {
                "metadata": {"name": "team", "namespace": ns},
                "spec": {
                    "podSelector": {"matchLabels": {"tier": "t0"}},
                    "ingress": [
                        {
                            "from": [{"namespaceSelector": {"matchLabels": {"team": f"t{n % 4}"}}}],
                            "ports": [{"port": "http"}],
                        }
                    ],
                },
            }
        )
        items.append(
            policy
            | {
                "metadata": {"name": "tiers", "namespace": ns},
                "spec": {
                    "podSelector": {"matchLabels": {"tier": "t1"}},
                    "ingress": [
                        {
                            "from": [{"podSelector": {"matchLabels": {"tier": "t0"}}}],
                            "ports": [{"port": 9090}],
                        }
                    ],
                },
            }
        )
    doc = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
    return load_text(doc, filename="large.json").cluster


def test_two_thousand_workloads_open_grouped_and_expand(tmp_path, open_report, browser):
    cluster = large_cluster()
    path = write_report(cluster, tmp_path / "large.html", "2,000 workloads")
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    opened = Opened(page)
    started = time.perf_counter()
    opened.open(path)
    seconds = time.perf_counter() - started
    print(f"2,000 workloads: page ready in {seconds:.2f} s")
    assert seconds < 5
    nodes = opened.js("window.netpolicyReport.nodes()")
    assert {n["kind"] for n in nodes} == {"namespace"}  # the grouped view first
    assert len(nodes) == 26  # 25 namespaces and the outside ranges
    # namespace edges carry the engine's per-namespace-pair counts
    data = api.report(cluster)
    want = {(p.src, p.dst): p.connected for p in data.namespace_pairs}
    got = {
        (e["src"], e["dst"]): e["connected"] for e in opened.js("window.netpolicyReport.edges()")
    }
    assert got == want
    # a real double click on a namespace expands it into its groups
    box = page.locator("#graph").bounding_box()
    point = opened.js("window.netpolicyReport.cy.getElementById('ns:0').renderedPosition()")
    page.mouse.dblclick(box["x"] + point["x"], box["y"] + point["y"])
    page.wait_for_function("() => window.netpolicyReport.nodes().some(n => n.kind !== 'namespace')")
    # 80 workloads: shown as the groups the policies tell apart (here by tier)
    nodes = opened.js("window.netpolicyReport.nodes()")
    inside = [n for n in nodes if n["kind"] == "group"]
    assert len(inside) == 3 and sum(n["members"] for n in inside) == 80
    assert all(n["name"].startswith("ns00 ") for n in inside)
    assert sum(n["kind"] == "namespace" for n in nodes) == 25
    # and a group expands into its workloads
    point = opened.js(
        f"window.netpolicyReport.cy.getElementById('{inside[0]['id']}').renderedPosition()"
    )
    page.mouse.dblclick(box["x"] + point["x"], box["y"] + point["y"])
    page.wait_for_function("() => window.netpolicyReport.nodes().some(n => n.kind === 'endpoint')")
    shown = [n for n in opened.js("window.netpolicyReport.nodes()") if n["kind"] == "endpoint"]
    assert len(shown) == inside[0]["members"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-2000-workloads.png"))
    # every workload at once still renders
    started = time.perf_counter()
    opened.js("window.netpolicyReport.expandAll()")
    seconds = time.perf_counter() - started
    print(f"2,000 workloads expanded in {seconds:.2f} s")
    assert seconds < 10
    # every workload and range, and a box per namespace (and one for the ranges)
    assert opened.page.get_attribute("#graph", "data-nodes") == str(len(data.endpoints) + 26)
    edges = int(opened.page.get_attribute("#graph", "data-edges") or 0)
    assert edges == data.connection_count()  # every pair known, the busiest drawn
    assert opened.js("window.netpolicyReport.cy.edges().length") == 4000
    assert "drawing the 4000 edges" in opened.page.inner_text("#graph-status")
    assert_clean(opened)
    page.close()


def test_cli_report_opens_in_the_browser(tmp_path, open_report):
    """The file the command writes is the page the other tests drive."""
    from typer.testing import CliRunner

    from netpolicy.cli import app

    target = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", "-o", str(target)])
    assert result.exit_code == 0, result.output
    page = open_report(target)
    assert shown_edges(page) == connlist_edges(demo())
    assert shutil.which("chromium") or Path("/usr/bin/chromium").exists()
    assert_clean(page)
