"""Every probe of the upstream Kubernetes e2e NetworkPolicy connectivity tests.

Each case folder holds the manifests of one test stage and the verdict upstream expects for
every (from, to, port, protocol) probe; `netpolicy connlist -o json` must reproduce them all.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from netpolicy.analysis.connectivity import compute_connectivity
from netpolicy.analysis.connlist import connection_list
from netpolicy.load import load_manifests
from netpolicy.render.connlist import render_json

CASES = sorted(p for p in (Path(__file__).parent / "cases").iterdir() if p.is_dir())


def allowed_table(doc: dict) -> dict[tuple[str, str], list[dict]]:
    return {(c["src"], c["dst"]): c["ports"] for c in doc["connections"]}


def is_allowed(table: dict[tuple[str, str], list[dict]], probe: dict) -> bool:
    return any(
        p["protocol"] == probe["protocol"] and p["from"] <= probe["port"] <= p["to"]
        for p in table.get((probe["from"], probe["to"]), [])
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_upstream_case(case: Path):
    loaded = load_manifests([case / "manifests.yaml"])
    assert not [d for d in loaded.diagnostics if d.severity == "error"]
    doc = json.loads(render_json(connection_list(compute_connectivity(loaded.cluster))))
    table = allowed_table(doc)
    probes = json.loads((case / "probes.json").read_text())["probes"]
    wrong = [p for p in probes if is_allowed(table, p) != p["allowed"]]
    assert not wrong, f"{len(wrong)}/{len(probes)} probes differ, e.g. {wrong[:3]}"


def test_cli_reproduces_a_case():
    """The same through the real command line, end to end."""
    case = next(c for c in CASES if "except" in c.name)
    run = subprocess.run(
        [sys.executable, "-m", "netpolicy", "connlist", str(case / "manifests.yaml"), "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    table = allowed_table(json.loads(run.stdout))
    probes = json.loads((case / "probes.json").read_text())["probes"]
    assert all(is_allowed(table, p) == p["allowed"] for p in probes)
