"""Table-driven semantic cases: one folder per case, verdicts reasoned by hand from the spec.

Each folder holds `manifests.yaml` (a complete input) and `expect.yaml`:

    description: one line
    spec: the sentence(s) of the Kubernetes NetworkPolicy docs this case pins down
    probes:
      - {from: x/a, to: y/b, port: 80, protocol: TCP, allowed: true}
      - {from: x/a, to: 192.168.1.7, port: 443, protocol: TCP, allowed: false}
    errors:            # optional: diagnostics (severity error) the input must produce
      - message: must be greater than or equal to `port`   # a substring of the message
        path: spec.ingress[0].ports[0].endPort            # a substring of the field path
        line: 42
    absent: [x/done]   # optional: names that must not appear in the connection list

Every probe is checked twice: against `connlist -o json` (the all-pairs engine) and against
`explain` (the one-pair evaluator). A probe endpoint is `ns/name`, `ns/name[Kind]` or an
address outside every pod; the address is looked up in the `first-last` range containing it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from netpolicy import api
from netpolicy.analysis.connectivity import compute_connectivity
from netpolicy.analysis.connlist import connection_list
from netpolicy.load import LoadResult, load_manifests
from netpolicy.render.connlist import render_json
from netpolicy.semantics import parse_range

HERE = Path(__file__).parent
CASES = sorted(p for p in HERE.iterdir() if (p / "expect.yaml").is_file())
PROBE_KEYS = {"from", "to", "port", "protocol", "allowed"}

Table = dict[tuple[str, str], list[dict[str, Any]]]


def is_address(name: str) -> bool:
    """Pods and workloads are `ns/name`; outside endpoints are addresses or `first-last`."""
    return "/" not in name


def table_key(table: Table, name: str, ranges: list[str]) -> str:
    """The connlist name of a probe endpoint: itself, or the range holding the address."""
    if not is_address(name):
        return name
    point = parse_range(name)
    holding = [r for r in ranges if point.is_subset(parse_range(r))]
    assert len(holding) <= 1, f"{name} lies in several ranges: {holding}"
    return holding[0] if holding else name


def connlist_allows(table: Table, probe: dict[str, Any]) -> bool:
    ranges = sorted({n for pair in table for n in pair if is_address(n)})
    src = table_key(table, str(probe["from"]), ranges)
    dst = table_key(table, str(probe["to"]), ranges)
    return any(
        p["protocol"] == probe["protocol"] and p["from"] <= probe["port"] <= p["to"]
        for p in table.get((src, dst), [])
    )


def explain_allows(loaded: LoadResult, probe: dict[str, Any]) -> bool:
    result = api.explain(
        loaded.cluster, str(probe["from"]), str(probe["to"]), probe["protocol"], probe["port"]
    )
    return result.decision.allowed


def read_case(case: Path) -> tuple[LoadResult, dict[str, Any], Table]:
    expect = yaml.safe_load((case / "expect.yaml").read_text())
    loaded = load_manifests([case / "manifests.yaml"])
    doc = json.loads(render_json(connection_list(compute_connectivity(loaded.cluster))))
    assert doc["apiVersion"] == "netpolicy/v1"
    assert doc["kind"] == "ConnectivityList"
    table = {(c["src"], c["dst"]): c["ports"] for c in doc["connections"]}
    return loaded, expect, table


def test_cases_exist():
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_expect_file_is_well_formed(case: Path):
    expect = yaml.safe_load((case / "expect.yaml").read_text())
    assert expect["description"]
    assert expect["spec"]
    assert expect["probes"]
    for probe in expect["probes"]:
        assert set(probe) == PROBE_KEYS, probe
        assert probe["protocol"] in ("TCP", "UDP", "SCTP"), probe
        assert isinstance(probe["allowed"], bool), probe


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Path):
    loaded, expect, table = read_case(case)

    errors = [d for d in loaded.diagnostics if d.severity == "error"]
    wanted = expect.get("errors") or []
    for want in wanted:
        hits = [
            d
            for d in errors
            if want["message"] in d.message
            and want.get("path", "") in d.source.path
            and d.source.line == want["line"]
            and d.source.file.endswith("manifests.yaml")
        ]
        assert hits, f"no error with {want!r} among {[str(d) for d in errors]}"
    if not wanted:
        assert not errors, [str(d) for d in errors]

    names = {n for pair in table for n in pair}
    for name in expect.get("absent") or []:
        assert name not in names, f"{name} appears in the connection list"

    wrong = []
    for probe in expect["probes"]:
        want = probe["allowed"]
        if probe["from"] == probe["to"]:
            # self pairs are left out of the connection list by contract; only explain decides
            assert (probe["from"], probe["to"]) not in table
        elif connlist_allows(table, probe) != want:
            wrong.append(("connlist", probe))
        if explain_allows(loaded, probe) != want:
            wrong.append(("explain", probe))
    assert not wrong, f"{len(wrong)} verdicts differ from the spec: {wrong}"
