"""The netpol-analyzer peer suite's AdminNetworkPolicy / BaselineAdminNetworkPolicy connlist
cases (54 entries without UDN/NAD/VM, Ingress/Route, exposure or focus options), compared
semantically with their goldens; each difference is listed with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netpolicy.analysis.connectivity import compute_connectivity
from netpolicy.analysis.connlist import connection_list
from netpolicy.load import load_manifests
from netpolicy.semantics import parse_range
from netpolicy.semantics.addresses import IPV6
from tests.peer.compare import (
    EXTERNAL,
    Outcome,
    Table,
    compare,
    read_expected,
    table_of,
    table_of_rows,
)

OTHER_FEATURES = {
    "multiple_networks_enabled",
    "nad_multi_network",
    "udn",
    "virtual_machines",
    "ingress_routes",
    "exposure",
}
OPTIONS = ("focus_workload", "focus_workload_peer", "focus_direction", "focus_conn", "exposure")
KNOWN = Path(__file__).with_name("known_differences.json")
MIN_PASS_RATE = 0.95


def admin_entries(peer_suite: Path) -> list[dict]:
    index = json.loads((peer_suite / "index.json").read_text())
    return [
        e
        for e in index
        if e["kind"] == "connlist"
        and "anp_banp" in e["categories"]
        and not OTHER_FEATURES & set(e["categories"])
        and not any(e["options"].get(k) for k in OPTIONS)
    ]


def _ipv4_only(table: Table) -> Table:
    """netpol-analyzer does not model IPv6 ("IPv6 addresses are not supported"): where its
    golden lists no IPv6 range, IPv6 outside ranges are left out of the comparison."""
    out: Table = {}
    for (src, dst), conns in table.items():
        ends = [e[: -len(EXTERNAL)] for e in (src, dst) if e.endswith(EXTERNAL)]
        if any(parse_range(e).is_subset(IPV6) for e in ends):
            continue
        out[(src, dst)] = conns
    return out


def run_entry(peer_suite: Path, entry: dict) -> Outcome:
    loaded = load_manifests([peer_suite / entry["scenario_dir"]])
    # netpol-analyzer applies policies to host-network pods like any pod (docs option 1)
    result = compute_connectivity(loaded.cluster, host_network="pod")
    ours = table_of(connection_list(result, workloads=True))
    rows, _ = read_expected(peer_suite, entry)
    theirs = table_of_rows(rows)
    if theirs == _ipv4_only(theirs):
        ours = _ipv4_only(ours)
    return compare(ours, theirs)


def test_entry_count(peer_suite: Path) -> None:
    assert len(admin_entries(peer_suite)) == 54


def test_peer_suite_admin_connlist(peer_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entries = admin_entries(peer_suite)
    known: dict[str, str] = json.loads(KNOWN.read_text())
    passed, failures = 0, {}
    for entry in entries:
        outcome = run_entry(peer_suite, entry)
        if outcome.ok:
            passed += 1
        else:
            failures[entry["name"]] = outcome.summary()
    with capsys.disabled():
        print(f"\npeer suite netpol-analyzer: {passed}/{len(entries)} ANP/BANP connlist cases pass")
    unexplained = {k: v for k, v in failures.items() if k not in known}
    stale = sorted(k for k in known if k not in failures)
    assert not unexplained, "differences without a recorded reason:\n" + "\n".join(
        f"{k}: {v}" for k, v in unexplained.items()
    )
    assert not stale, f"known differences that now pass (remove them): {stale}"
    assert all(len(reason) > 20 for reason in known.values())
    assert passed / len(entries) >= MIN_PASS_RATE, f"{passed}/{len(entries)}"
