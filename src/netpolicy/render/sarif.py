"""Lint results as SARIF 2.1.0 (the OASIS standard code-scanning tools read).

One run; `tool.driver.rules` holds one rule per check that ran, each result names its rule by
ID and index. `sarif_log` is the document as data; `sarif_chunks` writes the same document in
pieces of one rule or one result each.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from netpolicy.analysis.lint import Check, Finding, LintReport
from netpolicy.render.lint import json_items

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
TOOL_NAME = "netpolicy"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}
"""SARIF's `level` for each severity (SARIF has no `info`; `note` is its lowest level)."""


def rule(check: Check) -> dict[str, object]:
    """The SARIF `reportingDescriptor` of one check."""
    return {
        "id": check.id,
        "shortDescription": {"text": check.title},
        "fullDescription": {"text": check.explanation},
        "help": {"text": check.explanation},
        "defaultConfiguration": {"level": LEVELS[check.severity]},
    }


def message_text(finding: Finding) -> str:
    """The finding's message followed by its fix (a snippet goes on the lines below `Fix:`)."""
    fix = finding.fix.strip("\n")
    if not fix.strip():
        return finding.message
    if "\n" in fix:
        return f"{finding.message}\n\nFix:\n{fix}"
    return f"{finding.message}\nFix: {fix.strip()}"


def result(finding: Finding, rule_index: int | None) -> dict[str, object]:
    """The SARIF `result` of one finding; `rule_index` is its rule's place in `rules`."""
    physical: dict[str, object] = {"artifactLocation": {"uri": finding.source.file}}
    # SARIF requires startLine >= 1: a finding without a line (0) is located by its file only.
    if finding.source.line >= 1:
        physical["region"] = {"startLine": finding.source.line}
    logical: dict[str, object] = {
        "name": finding.object.rsplit("/", 1)[-1],
        "fullyQualifiedName": finding.object,
    }
    if finding.kind:
        logical["kind"] = finding.kind
    out: dict[str, object] = {"ruleId": finding.check}
    if rule_index is not None:
        out["ruleIndex"] = rule_index
    out["level"] = LEVELS[finding.severity]
    out["message"] = {"text": message_text(finding)}
    out["locations"] = [{"physicalLocation": physical, "logicalLocations": [logical]}]
    return out


def _driver(tool_version: str) -> dict[str, object]:
    return {"name": TOOL_NAME, "version": tool_version}


def _results(report: LintReport) -> Iterator[dict[str, object]]:
    index = {c.id: i for i, c in enumerate(report.checks)}
    for finding in report.findings:
        yield result(finding, index.get(finding.check))


def sarif_log(report: LintReport, tool_version: str) -> dict[str, object]:
    """The whole SARIF log of one lint run, as plain data."""
    driver = _driver(tool_version)
    driver["rules"] = [rule(c) for c in report.checks]
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{"tool": {"driver": driver}, "results": list(_results(report))}],
    }


def sarif_chunks(report: LintReport, tool_version: str) -> Iterator[str]:
    """`sarif_log` as JSON text in chunks: the head, then one rule or result per chunk."""
    head = json.dumps({"$schema": SARIF_SCHEMA, "version": SARIF_VERSION})[:-1]
    driver = json.dumps(_driver(tool_version))[:-1]
    yield f'{head}, "runs": [{{\n  "tool": {{"driver": {driver}, "rules": ['
    yield from json_items((rule(c) for c in report.checks), "    ")
    yield '  ]}},\n  "results": ['
    yield from json_items(_results(report), "    ")
    yield "  ]\n}]}\n"


def render_sarif(report: LintReport, tool_version: str) -> str:
    return "".join(sarif_chunks(report, tool_version))
