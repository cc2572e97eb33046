"""The netpol-analyzer peer suite: every core-NetworkPolicy connlist case, compared semantically."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netpolicy.analysis.connectivity import compute_connectivity
from netpolicy.analysis.connlist import connection_list
from netpolicy.load import load_manifests
from tests.peer.compare import (
    apply_focus,
    compare,
    read_expected,
    table_of,
    table_of_rows,
)

EXCLUDED = {
    "anp_banp",
    "multiple_networks_enabled",
    "nad_multi_network",
    "udn",
    "virtual_machines",
    "ingress_routes",
    "exposure",
}
KNOWN = Path(__file__).with_name("known_differences.json")
MIN_PASS_RATE = 0.95


def core_entries(peer_suite: Path) -> list[dict]:
    index = json.loads((peer_suite / "index.json").read_text())
    return [e for e in index if e["kind"] == "connlist" and not EXCLUDED & set(e["categories"])]


def run_entry(peer_suite: Path, entry: dict):
    loaded = load_manifests([peer_suite / entry["scenario_dir"]])
    # netpol-analyzer applies policies to host-network pods like any pod (docs option 1)
    result = compute_connectivity(loaded.cluster, host_network="pod")
    ours = apply_focus(table_of(connection_list(result, workloads=True)), entry["options"])
    rows, _ = read_expected(peer_suite, entry)
    focus_conn = bool(entry["options"].get("focus_conn"))
    theirs = table_of_rows(rows)
    if focus_conn:
        theirs = {k: ours.get(k, v) for k, v in theirs.items()}
    return compare(ours, theirs, with_conns=not focus_conn)


def test_peer_suite_core_connlist(peer_suite: Path, capsys: pytest.CaptureFixture[str]):
    entries = core_entries(peer_suite)
    known: dict[str, str] = json.loads(KNOWN.read_text()) if KNOWN.exists() else {}
    passed, failures = 0, {}
    for entry in entries:
        outcome = run_entry(peer_suite, entry)
        if outcome.ok:
            passed += 1
        else:
            failures[entry["name"]] = outcome.summary()
    with capsys.disabled():
        print(f"\npeer suite netpol-analyzer: {passed}/{len(entries)} core connlist cases pass")
    unexplained = {k: v for k, v in failures.items() if k not in known}
    stale = sorted(k for k in known if k not in failures)
    assert not unexplained, "differences without a recorded reason:\n" + "\n".join(
        f"{k}: {v}" for k, v in unexplained.items()
    )
    assert not stale, f"known differences that now pass (remove them): {stale}"
    assert all(len(reason) > 20 for reason in known.values())
    assert passed / len(entries) >= MIN_PASS_RATE, f"{passed}/{len(entries)}"
