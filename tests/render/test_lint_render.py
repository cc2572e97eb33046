"""The lint renderers on hand-built reports: text (grouped, with fixes and counts) and JSON."""

from __future__ import annotations

import io
import json

from rich.console import Console

from netpolicy.analysis.lint import CHECKS, Finding, LintReport
from netpolicy.model import SourceRef
from netpolicy.render.lint import (
    checks_json_chunks,
    fix_lines,
    lint_json_chunks,
    render_checks,
    render_lint,
    render_lint_json,
    summary_line,
)

from ._reports import empty_report, sample_report

FINDING_KEYS = ["check", "severity", "object", "kind", "file", "line", "message", "fix"]


def text_of(render, *args, width: int = 120) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer, width=width, highlight=False, soft_wrap=True, markup=False, color_system=None
    )
    render(console, *args)
    return buffer.getvalue()


def test_text_groups_by_file_with_located_lines_and_fixes_below() -> None:
    lines = text_of(render_lint, sample_report()).splitlines()
    assert lines[0] == "demo/shop.yaml"
    assert lines[1] == (
        "demo/shop.yaml: info [namespace-without-policies] "
        "every pod of monitoring accepts connections from everywhere"
    )
    assert lines[2] == "    fix: Add a default deny for ingress."
    assert lines[3] == (
        "demo/shop.yaml:41: warning [dns-egress-blocked] "
        "shop/backend cannot resolve names: no egress rule allows UDP/TCP 53"
    )
    # a YAML snippet keeps its own indentation, below `fix:`
    assert lines[4:12] == [
        "    fix:",
        "      egress:",
        "        - to:",
        "            - namespaceSelector: {}",
        "              podSelector: {matchLabels: {k8s-app: kube-dns}}",
        "          ports:",
        "            - {port: 53, protocol: UDP}",
        "            - {port: 53, protocol: TCP}",
    ]
    assert lines[12] == ""
    assert lines[13] == "policies/web.yaml"
    assert lines[14].startswith("policies/web.yaml:12: error [duplicate-object] q/allow-web")
    assert lines[-1] == "1 error, 1 warning, 1 info"


def test_text_of_a_clean_report_says_no_findings() -> None:
    text = text_of(render_lint, empty_report())
    assert text.strip() == f"no findings ({len(CHECKS)} checks run)"


def test_summary_counts_every_severity_with_plurals() -> None:
    source = SourceRef("a.yaml", 1)
    findings = [
        Finding("rules-ignored", "error", "a/p", "NetworkPolicy", source, "m"),
        *(
            Finding("broad-peer", "warning", f"a/p{i}", "NetworkPolicy", source, "m")
            for i in (1, 2)
        ),
        *(Finding("redundant", "info", f"a/q{i}", "NetworkPolicy", source, "m") for i in (1, 2)),
    ]
    assert summary_line(LintReport(findings, CHECKS)) == "1 error, 2 warnings, 2 info"
    no_errors = [f for f in findings if f.severity != "error"]
    assert summary_line(LintReport(no_errors, CHECKS)) == "0 errors, 2 warnings, 2 info"


def test_fix_lines() -> None:
    assert fix_lines("") == []
    assert fix_lines("\n  \n") == []
    assert fix_lines("Use the port number.\n") == ["    fix: Use the port number."]
    assert fix_lines("a:\n  b: 1\n") == ["    fix:", "      a:", "        b: 1"]


def test_text_prints_user_text_as_written() -> None:
    # `[x]` must not be read as rich markup, nor a path with brackets lose them
    finding = Finding(
        "redundant", "info", "a/p", "NetworkPolicy", SourceRef("[dir]/a.yaml", 3), "rule [1] [b]"
    )
    text = text_of(render_lint, LintReport([finding], CHECKS))
    assert "[dir]/a.yaml:3: info [redundant] rule [1] [b]" in text


def test_json_is_exactly_the_report_dict() -> None:
    for report in (sample_report(), empty_report()):
        doc = json.loads(render_lint_json(report))
        assert doc == report.to_dict()
    doc = json.loads(render_lint_json(sample_report()))
    assert doc["apiVersion"] == "netpolicy/v1"
    assert doc["kind"] == "LintReport"
    assert list(doc) == ["apiVersion", "kind", "findings"]
    for finding in doc["findings"]:
        assert list(finding) == FINDING_KEYS
    assert [f["check"] for f in doc["findings"]] == [
        "namespace-without-policies",
        "dns-egress-blocked",
        "duplicate-object",
    ]


def test_json_comes_in_chunks_of_one_finding() -> None:
    report = sample_report()
    chunks = list(lint_json_chunks(report))
    assert len(chunks) == len(report.findings) + 3
    assert max(len(c) for c in chunks) < 1000


def test_check_list_as_text_and_json() -> None:
    text = text_of(render_checks, CHECKS, width=80)
    for check in CHECKS:
        assert f"{check.id}  {check.severity}" in text
        assert " ".join(check.title.split()) in " ".join(text.split())
    assert max(len(line) for line in text.splitlines()) <= 80
    # the explanation is wrapped, not cut: every word is there
    assert " ".join(text.split()).count(" ".join(CHECKS[0].explanation.split())) == 1
    doc = json.loads("".join(checks_json_chunks(CHECKS)))
    assert doc["kind"] == "LintCheckList"
    assert [c["id"] for c in doc["checks"]] == [c.id for c in CHECKS]
    assert doc["checks"][0] == {
        "id": CHECKS[0].id,
        "severity": CHECKS[0].severity,
        "title": CHECKS[0].title,
        "explanation": CHECKS[0].explanation,
    }
