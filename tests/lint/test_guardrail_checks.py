"""The guardrail checks (`admin-rule-shadowed`, `pass-to-nothing`, `same-priority-overlap`)
beyond their case folders: the tier chain's corners, one shared decision with the loader,
and every output format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netpolicy import api
from netpolicy.analysis.lint import CHECKS, LintReport
from netpolicy.load import load_text
from netpolicy.model import priorities
from tests.cli._helpers import invoke
from tests.render._sarif_schema import schema_errors

from .test_lint_cases import CASES_DIR

GUARDRAIL_CHECKS = ("admin-rule-shadowed", "pass-to-nothing", "same-priority-overlap")

PODS = """\
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {tenant: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b, labels: {tenant: b}}
---
apiVersion: v1
kind: Pod
metadata: {name: x, namespace: a, labels: {app: x}}
spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: y, namespace: b, labels: {app: y}}
spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 80}]}]}
"""


def anp(name: str, priority: int, subject: str, *rules: str, kind: str = "ANP") -> str:
    """An AdminNetworkPolicy (or the BANP) with ingress `rules` (`Action from-namespace-label
    [port]`), subject namespaces labelled tenant=`subject` ('' = every namespace)."""
    subject_yaml = f"{{matchLabels: {{tenant: {subject}}}}}" if subject else "{}"
    out = []
    for rule in rules:
        action, peer, *port = rule.split()
        peer_yaml = "{}" if peer == "*" else f"{{matchLabels: {{tenant: {peer}}}}}"
        text = f"    - action: {action}\n      from:\n        - namespaces: {peer_yaml}\n"
        if port:
            value = (
                f"namedPort: {port[0]}"
                if not port[0].isdigit()
                else (f"portNumber: {{protocol: TCP, port: {port[0]}}}")
            )
            text += f"      ports:\n        - {value}\n"
        out.append(text)
    head = (
        "apiVersion: policy.networking.k8s.io/v1alpha1\n"
        + (
            "kind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec:\n"
            if kind == "BANP"
            else f"kind: AdminNetworkPolicy\nmetadata: {{name: {name}}}\nspec:\n"
            f"  priority: {priority}\n"
        )
        + f"  subject:\n    namespaces: {subject_yaml}\n  ingress:\n"
    )
    return head + "".join(out)


# the first policy after PODS starts at line 19: `spec.priority` at 23, its first rule at 27;
# a second policy (after a one-rule first one) has `spec.priority` at 35


def lint_text(*docs: str) -> LintReport:
    loaded = load_text("---\n".join([PODS, *docs]), "g.yaml")
    assert not loaded.errors, loaded.errors
    return api.lint(loaded.cluster)


def found(report: LintReport, check_id: str) -> list[tuple[str, int]]:
    return sorted((f.object, f.source.line) for f in report.findings if f.check == check_id)


def shadowed(report: LintReport) -> list[str]:
    return sorted(
        f.message.split(" never decides")[0]
        for f in report.findings
        if f.check == "admin-rule-shadowed"
    )


# --- admin-rule-shadowed: what has precedence -----------------------------------------------


def test_an_earlier_rule_of_the_same_policy_shadows_whatever_its_action() -> None:
    report = lint_text(anp("p", 1, "a", "Pass * 80", "Deny b 80", "Allow b"))
    # rule #2 (b, 80) is matched first by the Pass on every namespace; rule #3 is not: it
    # also covers the other ports
    assert shadowed(report) == ["ANP p ingress rule #2 (Deny, TCP 80)"]


def test_a_lower_priority_number_shadows_and_a_higher_does_not() -> None:
    report = lint_text(anp("first", 1, "", "Deny *"), anp("second", 2, "a", "Allow b 80"))
    assert shadowed(report) == ["ANP second ingress rule #1 (Allow, TCP 80)"]
    report = lint_text(anp("first", 3, "", "Deny *"), anp("second", 2, "a", "Allow b 80"))
    assert shadowed(report) == []


def test_policies_of_one_priority_never_shadow_each_other() -> None:
    """Their order is undefined: either may apply first (same-priority-overlap says so)."""
    report = lint_text(anp("first", 1, "", "Deny *"), anp("second", 1, "a", "Allow b 80"))
    assert shadowed(report) == []
    assert found(report, "same-priority-overlap") == [("first", 23), ("second", 35)]


def test_a_rule_covered_only_at_some_subjects_is_not_shadowed() -> None:
    # `first` covers the subjects in namespace a only; `second` also selects b's pod
    report = lint_text(anp("first", 1, "a", "Deny *"), anp("second", 2, "", "Allow b 80"))
    assert shadowed(report) == []


def test_named_ports_resolve_on_the_subject_for_ingress() -> None:
    # http is port 80 on every pod: a rule on TCP 80 covers the named port
    report = lint_text(anp("p", 1, "a", "Deny b 80", "Allow b http"))
    assert shadowed(report) == ["ANP p ingress rule #2 (Allow, named port http)"]


def test_a_baseline_rule_is_shadowed_by_admin_decisions_not_by_admin_passes() -> None:
    banp = anp("", 0, "a", "Deny b", kind="BANP")
    report = lint_text(anp("p", 1, "a", "Allow b"), banp)
    assert shadowed(report) == ["BANP default ingress rule #1 (Deny, every port)"]
    [finding] = [f for f in report.findings if f.check == "admin-rule-shadowed"]
    assert "ANP p ingress rule #1 Allow (g.yaml:" in finding.message
    report = lint_text(anp("p", 1, "a", "Pass b"), banp)
    assert shadowed(report) == []


def test_rules_that_match_nothing_are_left_to_other_checks() -> None:
    # tenant c has no namespace: the second rule matches no pod
    report = lint_text(anp("p", 1, "a", "Deny *", "Allow c"))
    assert shadowed(report) == []


# --- pass-to-nothing ------------------------------------------------------------------------

NP_A = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: x-in, namespace: a}
spec: {podSelector: {}, policyTypes: [Ingress]}
"""


def test_a_pass_reaching_a_network_policy_or_a_baseline_rule_is_fine() -> None:
    passing = anp("p", 1, "a", "Pass b")
    assert found(lint_text(passing), "pass-to-nothing") == [("p", 27)]
    assert found(lint_text(passing, NP_A), "pass-to-nothing") == []
    banp = anp("", 0, "a", "Deny b 80", kind="BANP")
    assert found(lint_text(passing, banp), "pass-to-nothing") == []
    # a baseline rule for other traffic than the passed one is not behind it
    other = anp("", 0, "a", "Deny a", kind="BANP")
    assert found(lint_text(passing, other), "pass-to-nothing") == [("p", 27)]


def test_a_shadowed_pass_passes_nothing() -> None:
    report = lint_text(anp("p", 1, "a", "Deny *", "Pass b"))
    assert found(report, "pass-to-nothing") == []
    assert shadowed(report) == ["ANP p ingress rule #2 (Pass, every port)"]


# --- same-priority-overlap: one decision with the loader --------------------------------------


def test_same_priority_overlap_is_the_loaders_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES_DIR / "same-priority-overlap" / "bad.yaml"
    loaded = api.load_input([case])
    warned = {d.source.line for d in loaded.diagnostics if d.code == "same-priority-overlap"}
    linted = {
        f.source.line
        for f in api.lint(loaded.cluster).findings
        if f.check == "same-priority-overlap"
    }
    # the loader warns once per pair (at the later policy), lint at both policies
    assert warned and warned < linted
    # both ask the one decision: changing it changes both
    calls: list[str] = []

    def never(policies: object) -> list[priorities.PriorityOverlap]:
        calls.append("asked")
        return []

    monkeypatch.setattr(priorities, "same_priority_overlaps", never)
    loaded = api.load_input([case])
    assert not [d for d in loaded.diagnostics if d.code == "same-priority-overlap"]
    report = api.lint(loaded.cluster)
    assert not [f for f in report.findings if f.check == "same-priority-overlap"]
    assert calls == ["asked", "asked"]


# --- every output --------------------------------------------------------------------------


def test_lint_list_has_the_guardrail_checks() -> None:
    text = invoke("lint", "--list").stdout
    listed = json.loads(invoke("lint", "--list", "-o", "json").stdout)["checks"]
    by_id = {c["id"]: c["severity"] for c in listed}
    for check_id in GUARDRAIL_CHECKS:
        assert f"{check_id}  warning" in text
        assert by_id[check_id] == "warning"
    assert [c["id"] for c in listed] == [c.id for c in CHECKS]


@pytest.mark.parametrize("check_id", GUARDRAIL_CHECKS)
def test_every_output_format_carries_the_findings(check_id: str) -> None:
    path = CASES_DIR / check_id / "bad.yaml"
    want = sorted(
        (f.object, f.kind, f.source.line)
        for f in api.lint(api.load_input([path]).cluster).findings
        if f.check == check_id
    )
    result = invoke("lint", str(path), "-o", "json", "--fail-on", "warning")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    got = sorted(
        (f["object"], f["kind"], f["line"]) for f in doc["findings"] if f["check"] == check_id
    )
    assert got == want and all(Path(f["file"]).name == "bad.yaml" for f in doc["findings"])
    sarif = json.loads(invoke("lint", str(path), "-o", "sarif").stdout)
    assert schema_errors(sarif) == []
    results = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == check_id]
    lines = sorted(r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in results)
    assert lines == sorted(line for _, _, line in want)
    assert all(r["level"] == "warning" for r in results)
    text = invoke("lint", str(path), "-o", "text").stdout
    for _obj, _kind, line in want:
        assert f"bad.yaml:{line}: warning [{check_id}]" in text
