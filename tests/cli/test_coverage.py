"""`netpolicy coverage`: the three formats on the demo, `--top`, and the exit codes."""

from __future__ import annotations

import json
import textwrap

import pytest

from ._helpers import DEMO, describe, invoke, no_traceback, run

# The demo's rows (derived in tests/analysis/test_coverage.py::test_demo_rows).
DEMO_ROWS = {
    "default": ("no-policies", 1, {"ingress": 0, "egress": 0, "both": 0, "neither": 1}),
    "monitoring": ("no-policies", 1, {"ingress": 0, "egress": 0, "both": 0, "neither": 1}),
    "payments": ("ingress-allows", 2, {"ingress": 2, "egress": 0, "both": 0, "neither": 0}),
    "shop": ("ingress-allows", 3, {"ingress": 3, "egress": 1, "both": 1, "neither": 0}),
}
DEMO_NEXT = ["default/debug", "monitoring/prometheus[Deployment]", "shop/frontend[Deployment]"]


def test_json_document():
    result = invoke("coverage", "-o", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == {"apiVersion", "kind", "namespaces", "totals", "next"}
    assert (doc["apiVersion"], doc["kind"]) == ("netpolicy/v1", "CoverageReport")
    got = {
        r["namespace"]: (r["step"]["id"], r["workloads"], r["isolated"]) for r in doc["namespaces"]
    }
    assert got == DEMO_ROWS
    shop = next(r for r in doc["namespaces"] if r["namespace"] == "shop")
    assert shop["percent"] == {"ingress": 100.0, "egress": 33.3, "both": 33.3, "neither": 0.0}
    assert shop["step"] == {"id": "ingress-allows", "label": "ingress allows in place", "index": 2}
    assert shop["nextStep"]["id"] == "egress-with-dns"
    backend = next(
        b for b in shop["nextStep"]["blocking"] if b["workload"] == "shop/backend[Deployment]"
    )
    assert backend["reason"] == "dnsBlocked"
    assert backend["protocols"] == ["UDP", "TCP"]
    totals = doc["totals"]
    assert totals["workloads"] == 7
    assert totals["isolated"] == {"ingress": 5, "egress": 1, "both": 1, "neither": 2}
    assert totals["percent"] == {"ingress": 71.4, "egress": 14.3, "both": 14.3, "neither": 28.6}
    assert totals["steps"]["no-policies"] == 2
    assert totals["steps"]["ingress-allows"] == 2
    assert [w["workload"] for w in doc["next"]] == DEMO_NEXT
    frontend = doc["next"][2]
    assert frontend["fromOutside"]["ranges"] == [
        "0.0.0.0-9.255.255.255",
        "11.0.0.0-255.255.255.255",
    ]
    assert frontend["fromOutside"]["ports"] == [{"protocol": "TCP", "from": 8443, "to": 8443}]
    assert frontend["fromOutside"]["all"] is False
    assert frontend["isolated"] == {"ingress": True, "egress": False}
    assert frontend["reachingWorkloads"] == 0
    assert frontend["fromEveryPod"] is False
    assert frontend["kind"] == "Deployment"
    assert frontend["pods"] == 3


def test_text_table_and_do_next():
    result = invoke("coverage")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.splitlines()[0].startswith("NetworkPolicy coverage of the embedded demo")
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "3 100%" in lines["shop"]
    assert "ingress allows in place (3 to go)" in lines["shop"]
    assert "no policies (1 to go)" in lines["monitoring"]
    assert "5  71%" in lines["total"]
    assert "Do next" in out
    positions = [out.index(name) for name in DEMO_NEXT]
    assert positions == sorted(positions)
    assert "from outside: any address (all ports)" in out
    assert "0.0.0.0-9.255.255.255, 11.0.0.0-255.255.255.255 (TCP 8443)" in out


def test_markdown_tables():
    result = invoke("coverage", "-o", "md")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = "| namespace | workloads | ingress | egress | both | neither | step | next |"
    assert header in lines
    start = lines.index(header)
    assert set(lines[start + 1]) <= set("|- :")
    assert "| shop | 3 | 3 (100%) | 1 (33%) | 1 (33%) | 0 (0%) | ingress allows in place |" in (
        result.stdout
    )
    assert "| **total** | **7** | **5 (71%)** |" in result.stdout
    ranked = [line for line in lines if line.startswith(("| 1 |", "| 2 |"))]
    assert "`default/debug`" in ranked[0]
    assert "`monitoring/prometheus[Deployment]`" in ranked[1]
    assert "<details>" in result.stdout


@pytest.mark.parametrize(("args", "count"), [(("--top", "1"), 1), (("--top", "0"), 3), ((), 3)])
def test_top_limits_the_next_list(args, count):
    result = invoke("coverage", "-o", "json", *args)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["next"]) == count


@pytest.mark.parametrize(
    "args",
    [
        ("-o", "bogus"),
        ("--top", "-1"),
        ("--host-network", "bogus"),
        ("/nonexistent/manifests.yaml",),
    ],
)
def test_bad_usage_or_unreadable_input_exits_2(args):
    result = invoke("coverage", *args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_txt_is_an_alias_of_text():
    assert invoke("coverage", "-o", "txt").stdout == invoke("coverage").stdout


@pytest.mark.parametrize("fmt", ["text", "json", "md"])
def test_formats_through_the_real_program(fmt):
    proc = run("coverage", "-o", fmt, str(DEMO))
    assert proc.returncode == 0, describe(proc)
    assert proc.stdout.strip()
    assert no_traceback(proc)


@pytest.fixture(scope="module")
def steps_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tests.analysis.test_coverage import STEPS_CLUSTER

    path = tmp_path_factory.mktemp("coverage") / "steps.yaml"
    path.write_text(textwrap.dedent(STEPS_CLUSTER))
    return str(path)


def test_text_names_every_step_and_the_empty_namespaces(steps_file):
    result = invoke("coverage", steps_file)
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "0 no policies (2 to go)" in lines["open"]
    assert "0 has policies, some ingress open (1 to go)" in lines["partial"]
    assert "1 ingress default deny (2 to go)" in lines["deny"]
    assert "2 ingress allows in place (2 to go)" in lines["allows"]
    assert "3 egress with DNS" in lines["done"]
    assert "No workloads: empty" in result.stdout


def test_json_keeps_empty_namespaces_with_null_percentages(steps_file):
    result = invoke("coverage", steps_file, "-o", "json")
    assert result.exit_code == 0, result.output
    empty = next(r for r in json.loads(result.stdout)["namespaces"] if r["namespace"] == "empty")
    assert empty["workloads"] == 0
    assert empty["step"] == {"id": "no-workloads", "label": "no workloads", "index": None}
    assert empty["nextStep"] is None
    assert set(empty["percent"].values()) == {None}


def test_percentages_never_round_to_all_or_nothing():
    from netpolicy.analysis.coverage import IsolationCounts
    from netpolicy.render.coverage import _pct

    counts = IsolationCounts(1503, 1502, 0, 0)
    assert _pct(counts, 1502) == ">99%"  # 99.93%: not everything
    assert _pct(counts, 1) == "<1%"  # 0.07%: not nothing
    assert _pct(counts, 0) == "0%"
    assert _pct(IsolationCounts(3, 3, 1, 1), 1) == "33%"
    assert _pct(IsolationCounts(), 0) == "—"


@pytest.mark.parametrize(
    ("ranges", "text"),
    [
        ("0.0.0.0/0", "any address"),
        ("203.0.113.0/24", "203.0.113.0/24"),
        ("11.0.0.0-255.255.255.255", "11.0.0.0-255.255.255.255"),
    ],
)
def test_outside_addresses_read_as_cidrs_where_exact(ranges, text):
    from netpolicy.render.coverage import address_text
    from netpolicy.semantics import parse_range

    assert address_text(parse_range(ranges)) == text
