"""Table-driven lint cases: one folder per check ID, expectations reasoned from the spec.

Each folder `cases/<check-id>/` holds a realistic input that triggers the check
(`bad.yaml`), the same scenario corrected (`good.yaml`) and `expect.yaml`:

    why: the rule of the Kubernetes NetworkPolicy spec (and of the check) the case pins down
    bad:               # every finding of this check on bad.yaml, exactly
      - {check: dns-egress-blocked, object: shop/backend-egress, kind: NetworkPolicy, line: 55}
    good: []           # every finding of this check on good.yaml (normally none)
    also:              # optional: findings of other checks at warning/error allowed in good.yaml
      - {check: ..., object: ..., kind: ..., line: ...}

A finding's line is where the check's definition puts it (a field or list item of bad.yaml),
else the object's first line: the first line of its YAML document after `---`, blank lines
and comments. Severity is always the catalog default (no overrides here).

A correct configuration (default deny, DNS allowed, narrow allows) lints clean of warnings
and errors, so no good.yaml may produce one unless `also` lists it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from netpolicy import api
from netpolicy.analysis.lint import CHECKS, Finding, LintReport, check
from netpolicy.model import Cluster

HERE = Path(__file__).parent
CASES_DIR = HERE / "cases"
CASES = sorted(p for p in CASES_DIR.iterdir() if p.is_dir())
FIXED_DEMO = HERE / "demo-fixed" / "shop.yaml"
ENTRY_KEYS = {"check", "object", "kind", "line"}

Row = tuple[str, str, str, int, str]
"""(check, object, kind, line, severity): what a case pins of each finding."""


def load(path: Path) -> Cluster:
    loaded = api.load_input([path])
    errors = [str(d) for d in loaded.diagnostics if d.severity == "error"]
    assert not errors, f"{path.name} must be valid input: {errors}"
    return loaded.cluster


def row(finding: Finding) -> Row:
    return (finding.check, finding.object, finding.kind, finding.source.line, finding.severity)


def expected_rows(entries: list[dict[str, Any]]) -> list[Row]:
    return sorted(
        (e["check"], e["object"], e["kind"], e["line"], check(e["check"]).severity) for e in entries
    )


def findings_of(report: LintReport, check_id: str, path: Path) -> list[Row]:
    found = [f for f in report.findings if f.check == check_id]
    for f in found:
        assert Path(f.source.file).name == path.name, f"{f} points at another file"
    return sorted(row(f) for f in found)


def read_expect(case: Path) -> dict[str, Any]:
    expect = yaml.safe_load((case / "expect.yaml").read_text())
    assert isinstance(expect, dict)
    return expect


def describe(report: LintReport) -> str:
    return "\n".join(
        f"  {f.severity} {f.check} {f.object} [{f.kind}] line {f.source.line}: {f.message}"
        for f in report.findings
    )


def test_every_check_has_a_case():
    assert {c.id for c in CHECKS} <= {p.name for p in CASES}


def test_every_case_is_a_check():
    assert {p.name for p in CASES} <= {c.id for c in CHECKS}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_is_well_formed(case: Path):
    assert (case / "bad.yaml").is_file()
    assert (case / "good.yaml").is_file()
    expect = read_expect(case)
    assert set(expect) <= {"why", "bad", "good", "also"}, set(expect)
    assert str(expect.get("why", "")).strip(), "say which rule of the spec the case pins"
    assert expect["bad"], "bad.yaml must trigger the check"
    assert expect["good"] == [] or all(e["check"] == case.name for e in expect["good"])
    for entry in [*expect["bad"], *expect["good"], *(expect.get("also") or [])]:
        assert set(entry) == ENTRY_KEYS, entry
        assert isinstance(entry["line"], int), entry
    for entry in expect["bad"]:
        assert entry["check"] == case.name, entry


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_triggers_the_check(case: Path):
    path = case / "bad.yaml"
    report = api.lint(load(path))
    want = expected_rows(read_expect(case)["bad"])
    got = findings_of(report, case.name, path)
    assert got == want, f"all findings of {path}:\n{describe(report)}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_good_does_not_trigger_the_check(case: Path):
    path = case / "good.yaml"
    report = api.lint(load(path))
    want = expected_rows(read_expect(case)["good"])
    got = findings_of(report, case.name, path)
    assert got == want, f"all findings of {path}:\n{describe(report)}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_good_lints_clean_of_warnings(case: Path):
    path = case / "good.yaml"
    loaded = api.load_input([path])
    noisy = [str(d) for d in loaded.diagnostics if d.severity in ("error", "warning")]
    assert not noisy, f"{path.name} must load without warnings: {noisy}"
    report = api.lint(loaded.cluster)
    allowed = expected_rows(read_expect(case).get("also") or [])
    got = sorted(row(f) for f in report.at_or_above("warning") if f.check != case.name)
    assert got == allowed, f"all findings of {path}:\n{describe(report)}"


# --- the embedded demo and its corrected copy -------------------------------------------------


def test_demo_has_exactly_the_deliberate_mistake():
    """The demo's one mistake: shop/backend-egress isolates the backend for egress and
    forgets DNS; the demo has no DNS pods, so any address on UDP/TCP 53 would do."""
    loaded = api.load_demo()
    assert not loaded.errors
    report = api.lint(loaded.cluster)
    got = [(*row(f), f.source.file) for f in report.at_or_above("warning")]
    assert got == [
        (
            "dns-egress-blocked",
            "shop/backend-egress",
            "NetworkPolicy",
            168,
            "warning",
            "demo/shop.yaml",
        )
    ], describe(report)


def test_fixed_demo_lints_clean():
    loaded = api.load_input([FIXED_DEMO])
    assert [str(d) for d in loaded.diagnostics] == []
    report = api.lint(loaded.cluster)
    assert report.findings == [], describe(report)


@pytest.mark.parametrize("protocol", ["UDP", "TCP"])
def test_fixed_demo_backend_reaches_dns(protocol: str):
    """The fix itself: the backend, still isolated for egress, reaches the DNS pods on 53."""
    cluster = load(FIXED_DEMO)
    dns = api.explain(cluster, "shop/backend", "kube-system/coredns", protocol, 53)
    assert dns.decision.allowed
    http = api.explain(cluster, "shop/backend", "kube-system/coredns", "TCP", 80)
    assert not http.decision.allowed


def test_fixed_demo_only_adds_to_the_demo():
    """The fix adds the DNS servers and policies; the demo's own objects stay as they were."""
    demo, fixed = api.load_demo().cluster, load(FIXED_DEMO)
    added_pods = {p.key for p in fixed.pods} - {p.key for p in demo.pods}
    assert added_pods == {"kube-system/coredns"}
    assert {p.key for p in demo.pods} <= {p.key for p in fixed.pods}
    rules_before = {p.key: (p.ingress, p.egress) for p in demo.policies}
    rules_after = {p.key: (p.ingress, p.egress) for p in fixed.policies}
    assert set(rules_before) < set(rules_after)
    changed = {key for key, rules in rules_before.items() if rules != rules_after[key]}
    assert changed == {"shop/backend-egress"}
