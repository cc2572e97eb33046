"""What lint reports: checks with stable IDs, findings, and the report that holds them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from netpolicy.model import Severity, SourceRef

SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
RANK: dict[str, int] = {"error": 3, "warning": 2, "info": 1}


@dataclass(frozen=True, slots=True)
class Check:
    """One lint check: its stable ID (a contract), default severity and what it finds."""

    id: str
    severity: Severity
    title: str
    explanation: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem of the input, located, with what happens at runtime and how to fix it."""

    check: str
    severity: Severity
    object: str
    """`ns/name` of a policy, pod or workload; a namespace by its name."""
    kind: str
    source: SourceRef
    message: str
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The finding as the `LintReport` JSON contract writes it."""
        return {
            "check": self.check,
            "severity": self.severity,
            "object": self.object,
            "kind": self.kind,
            "file": self.source.file,
            "line": self.source.line,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(slots=True)
class LintReport:
    """The findings of one lint run, sorted by file, line and check, and the checks that ran."""

    findings: list[Finding]
    checks: tuple[Check, ...]
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.findings.sort(key=lambda f: (f.source.file, f.source.line, f.check, f.object))
        found = Counter(f.severity for f in self.findings)
        self.counts = {s: found.get(s, 0) for s in SEVERITIES}

    def at_or_above(self, severity: str) -> list[Finding]:
        return [f for f in self.findings if RANK[f.severity] >= RANK[severity]]

    def to_dict(self) -> dict[str, object]:
        return {
            "apiVersion": "netpolicy/v1",
            "kind": "LintReport",
            "findings": [f.to_dict() for f in self.findings],
        }


def with_severity(finding: Finding, severity: Severity) -> Finding:
    return replace(finding, severity=severity)
