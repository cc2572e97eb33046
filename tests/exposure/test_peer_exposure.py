"""The netpol-analyzer peer suite: every exposure case, compared semantically.

Entries of `index.json` with `exposure: true`: the plain-NetworkPolicy ones, and apart the
AdminNetworkPolicy / BaselineAdminNetworkPolicy ones (`anp_banp`), minus those needing what
netpolicy does not model (Ingress/Route, user-defined networks, NADs, virtual machines). The
suite is read from `../shared` (never copied here); the test skips where it is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netpolicy.analysis.connectivity import compute_connectivity
from netpolicy.analysis.exposure import compute_exposure
from netpolicy.load import load_manifests
from tests.exposure.golden import compare, golden_of, only_direction, read_goldens

EXCLUDED = {
    "anp_banp",
    "multiple_networks_enabled",
    "nad_multi_network",
    "udn",
    "virtual_machines",
    "ingress_routes",
}
KNOWN = Path(__file__).with_name("known_differences.json")
MIN_PASS_RATE = 0.90


def exposure_entries(peer_suite: Path, *, admin: bool = False) -> list[dict]:
    """The plain exposure cases, or (`admin`) those with AdminNetworkPolicies/BANPs."""
    index = json.loads((peer_suite / "index.json").read_text())
    excluded = EXCLUDED - {"anp_banp"} if admin else EXCLUDED
    return [
        e
        for e in index
        if e["kind"] == "connlist"
        and e["options"].get("exposure")
        and ("anp_banp" in e["categories"]) == admin
        and not excluded & set(e["categories"])
    ]


def run_entry(peer_suite: Path, entry: dict) -> list[str]:
    """The differences with every golden file of the entry (txt, json, md, csv, dot)."""
    loaded = load_manifests([peer_suite / entry["scenario_dir"]])
    # netpol-analyzer applies policies to host-network pods like any pod (docs option 1)
    result = compute_connectivity(loaded.cluster, host_network="pod")
    focus = entry["options"].get("focus_workload") or [None]
    assert len(focus) == 1, entry["name"]
    ours = golden_of(compute_exposure(result, focus=focus[0]))
    direction = entry["options"].get("focus_direction")
    if direction:
        ours = only_direction(ours, direction)
    out = []
    for golden in read_goldens(peer_suite, entry):
        if direction:
            golden = only_direction(golden, direction)
        out += [f"{golden.source}: {d}" for d in compare(ours, golden)]
    return out


def _agreement(
    peer_suite: Path, entries: list[dict], what: str, capsys: pytest.CaptureFixture[str]
) -> None:
    known: dict[str, str] = json.loads(KNOWN.read_text())
    passed, failures = 0, {}
    for entry in entries:
        differences = run_entry(peer_suite, entry)
        if differences:
            failures[entry["name"]] = "; ".join(differences[:4])
        else:
            passed += 1
    with capsys.disabled():
        print(f"\npeer suite netpol-analyzer: {passed}/{len(entries)} {what} cases agree")
    names = {e["name"] for e in entries}
    unexplained = {k: v for k, v in failures.items() if k not in known}
    stale = sorted(k for k in known if k in names and k not in failures)
    assert not unexplained, "differences without a recorded reason:\n" + "\n".join(
        f"{k}: {v}" for k, v in unexplained.items()
    )
    assert not stale, f"known differences that now agree (remove them): {stale}"
    assert all(len(reason) > 20 for reason in known.values())
    assert passed / len(entries) >= MIN_PASS_RATE, f"{passed}/{len(entries)}"


def test_peer_suite_exposure(peer_suite: Path, capsys: pytest.CaptureFixture[str]):
    entries = exposure_entries(peer_suite)
    assert len(entries) >= 50, "the suite's exposure cases were not found"
    _agreement(peer_suite, entries, "exposure", capsys)


def test_peer_suite_admin_exposure(peer_suite: Path, capsys: pytest.CaptureFixture[str]):
    """The AdminNetworkPolicy / BaselineAdminNetworkPolicy exposure cases: the tier chain
    decides what each workload is open to beyond the input."""
    entries = exposure_entries(peer_suite, admin=True)
    assert len(entries) >= 20, "the suite's ANP/BANP exposure cases were not found"
    _agreement(peer_suite, entries, "ANP/BANP exposure", capsys)
