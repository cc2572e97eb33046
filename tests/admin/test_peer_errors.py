"""The netpol-analyzer peer suite's AdminNetworkPolicy / BaselineAdminNetworkPolicy error and
warning cases (49 entries): each is reported with a located error or warning (or exit 2 for a
usage netpolicy does not have), never a traceback."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.cli._helpers import run_many

KINDS = ("expect_fatal_error", "expect_logged_warning", "expect_nonfatal_error_or_warning")
LOCATED = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+): (?P<severity>error|warning): ", re.M)


def error_entries(peer_suite: Path) -> list[dict]:
    index = json.loads((peer_suite / "index.json").read_text())
    return [e for e in index if e["kind"] in KINDS and "anp_banp" in e["categories"]]


def argv(peer_suite: Path, entry: dict) -> list[str]:
    """The entry as a `netpolicy connlist` command line (its options mapped to ours; those
    netpolicy has no equivalent of stay flags, a usage error)."""
    options = entry["options"]
    args = ["connlist", str(peer_suite / entry["scenario_dir"]), "--host-network", "pod"]
    for name in options.get("focus_workload") or []:
        args += ["--focus", name]
    for name in options.get("focus_workload_peer") or []:
        args += ["--focus-workload-peer", name]
    if options.get("focus_direction"):
        args += ["--focus-direction", options["focus_direction"]]
    if options.get("explain_only"):
        args += ["--explain-only", options["explain_only"]]
    if options.get("explain"):
        args.append("--explain")
    if options.get("exposure"):
        args.append("--exposure")
    return args


def test_entry_count(peer_suite: Path) -> None:
    assert len(error_entries(peer_suite)) == 49


def test_every_error_case_is_located_or_usage(peer_suite: Path) -> None:
    entries = error_entries(peer_suite)
    results = run_many([argv(peer_suite, e) for e in entries])
    problems = []
    for entry, proc in zip(entries, results, strict=True):
        out = proc.stdout + proc.stderr
        name = f"{entry['scenario_dir']} {entry['options']}"
        if "Traceback" in out:
            problems.append(f"{name}: traceback")
            continue
        located = [
            m
            for m in LOCATED.finditer(proc.stderr)
            if entry["scenario_dir"] in m["file"] and int(m["line"]) > 0
        ]
        if proc.returncode == 2 and proc.stderr.strip():
            continue  # a usage error, said on stderr
        if not located:
            problems.append(f"{name}: exit {proc.returncode}, no located error or warning")
    assert not problems, "\n".join(problems)


def test_fatal_cases_name_the_cause(peer_suite: Path) -> None:
    """Each scenario that netpol-analyzer rejects outright gets our error (the object is left
    out) or warning at the offending object, whatever options the entry has."""
    entries = [
        e
        for e in error_entries(peer_suite)
        if e["kind"] == "expect_fatal_error" and "pods_w_same_owner" not in e["scenario_dir"]
    ]
    results = run_many(
        [["connlist", str(peer_suite / e["scenario_dir"]), "-o", "json"] for e in entries]
    )
    for entry, proc in zip(entries, results, strict=True):
        assert "Traceback" not in proc.stderr
        found = [m for m in LOCATED.finditer(proc.stderr) if entry["scenario_dir"] in m["file"]]
        assert found, f"{entry['scenario_dir']}: {proc.stderr[-400:]}"
