"""`lint -o sarif`: valid against the official SARIF 2.1.0 schema, and carrying what it must."""

from __future__ import annotations

import json

import pytest

from netpolicy import api
from netpolicy.analysis.lint import CHECKS, Finding, LintReport
from netpolicy.model import SourceRef
from netpolicy.render.sarif import render_sarif, sarif_chunks, sarif_log

from ._reports import DNS_FIX, empty_report, sample_report
from ._sarif_schema import SCHEMA_FILE, sarif_validator, schema_errors

VERSION = "9.8.7"


def test_the_schema_is_the_oasis_one_and_rejects_what_it_should() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert schema["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    log = sarif_log(sample_report(), VERSION)
    # a validator that accepted anything would make the other tests worthless
    bad_level = json.loads(json.dumps(log))
    bad_level["runs"][0]["results"][0]["level"] = "info"
    assert schema_errors(bad_level)
    line_zero = json.loads(json.dumps(log))
    line_zero["runs"][0]["results"][1]["locations"][0]["physicalLocation"]["region"] = {
        "startLine": 0
    }
    assert schema_errors(line_zero)
    assert schema_errors({"version": "2.1.0"})  # runs is required


@pytest.mark.parametrize("report", [sample_report(), empty_report()], ids=["findings", "clean"])
def test_hand_built_report_is_valid_sarif(report: LintReport) -> None:
    log = json.loads(render_sarif(report, VERSION))
    assert schema_errors(log) == []
    assert log == sarif_log(report, VERSION)


def test_the_demo_lint_is_valid_sarif() -> None:
    report = api.lint(api.load_demo().cluster)
    assert report.findings, "the demo is meant to show findings"
    log = json.loads(render_sarif(report, VERSION))
    sarif_validator().validate(log)
    assert {r["ruleId"] for r in log["runs"][0]["results"]} == {f.check for f in report.findings}


def test_one_rule_per_check_with_its_help_and_default_level() -> None:
    report = LintReport([], tuple(c for c in CHECKS if c.id != "redundant"))
    log = sarif_log(report, VERSION)
    [run] = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "netpolicy"
    assert driver["version"] == VERSION
    assert [r["id"] for r in driver["rules"]] == [c.id for c in report.checks]
    levels = {"error": "error", "warning": "warning", "info": "note"}
    for rule, check in zip(driver["rules"], report.checks, strict=True):
        assert rule["shortDescription"] == {"text": check.title}
        assert rule["fullDescription"] == {"text": check.explanation}
        assert rule["help"] == {"text": check.explanation}
        assert rule["defaultConfiguration"] == {"level": levels[check.severity]}
    assert run["results"] == []


def test_a_result_per_finding_located_by_the_path_as_given() -> None:
    report = sample_report()
    [run] = sarif_log(report, VERSION)["runs"]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    results = run["results"]
    assert len(results) == len(report.findings)
    by_rule = {r["ruleId"]: r for r in results}
    for result in results:
        assert rules[result["ruleIndex"]] == result["ruleId"]

    dns = by_rule["dns-egress-blocked"]
    assert dns["level"] == "warning"
    [location] = dns["locations"]
    assert location["physicalLocation"] == {
        "artifactLocation": {"uri": "demo/shop.yaml"},
        "region": {"startLine": 41},
    }
    assert location["logicalLocations"] == [
        {
            "name": "backend-egress",
            "fullyQualifiedName": "shop/backend-egress",
            "kind": "NetworkPolicy",
        }
    ]
    text = dns["message"]["text"]
    assert text.startswith("shop/backend cannot resolve names")
    assert DNS_FIX.strip() in text

    error = by_rule["duplicate-object"]
    assert error["level"] == "error"
    assert error["message"]["text"].endswith("\nFix: Rename one of them or merge them.")
    assert error["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "policies/web.yaml"
    )

    # info is SARIF's `note`; a finding without a line has no region (startLine must be >= 1)
    note = by_rule["namespace-without-policies"]
    assert note["level"] == "note"
    assert "region" not in note["locations"][0]["physicalLocation"]
    assert note["locations"][0]["logicalLocations"][0]["name"] == "monitoring"


def test_paths_are_kept_exactly_and_the_log_stays_valid() -> None:
    findings = [
        Finding("redundant", "info", "a/p", "NetworkPolicy", SourceRef(path, 2), "m")
        for path in ("./deploy/x.yaml", "/abs/y.yml", "<stdin>", "dir/z.json")
    ]
    log = sarif_log(LintReport(findings, CHECKS), VERSION)
    uris = [
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in log["runs"][0]["results"]
    ]
    assert sorted(uris) == sorted(f.source.file for f in findings)
    assert schema_errors(log) == []


def test_sarif_comes_in_chunks_of_one_rule_or_result() -> None:
    report = sample_report()
    chunks = list(sarif_chunks(report, VERSION))
    assert len(chunks) == len(report.checks) + len(report.findings) + 5
    assert max(len(c) for c in chunks) < 2000
    assert json.loads("".join(chunks)) == sarif_log(report, VERSION)
