"""Lint: the classic NetworkPolicy mistakes, each decided by the one `semantics` layer."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from netpolicy.analysis.connectivity import Connectivity
from netpolicy.analysis.lint.catalog import CHECK_IDS, CHECKS, check
from netpolicy.analysis.lint.findings import (
    RANK,
    SEVERITIES,
    Check,
    Finding,
    LintReport,
    with_severity,
)
from netpolicy.model import Cluster, Severity
from netpolicy.semantics import HostNetworkMode


def lint(
    cluster: Cluster,
    *,
    disable: Collection[str] = (),
    severity: Mapping[str, Severity] | None = None,
    host_network: HostNetworkMode = "node",
    connectivity: Connectivity | None = None,
) -> LintReport:
    """Every finding of the enabled checks; `severity` overrides a check's default.

    Unknown check IDs in `disable` or `severity` raise `KeyError` (the CLI reports them).
    `connectivity`, when the caller has it already, must be of this `cluster`.
    """
    from netpolicy.analysis.lint.context import LintContext
    from netpolicy.analysis.lint.rules import run_checks

    unknown = (set(disable) | set(severity or {})) - CHECK_IDS
    if unknown:
        raise KeyError(", ".join(sorted(unknown)))
    enabled = tuple(c for c in CHECKS if c.id not in disable)
    ctx = LintContext(cluster, host_network, connectivity)
    overrides = severity or {}
    findings = [
        with_severity(f, overrides[f.check]) if f.check in overrides else f
        for f in run_checks(ctx, {c.id for c in enabled})
    ]
    return LintReport(findings, enabled)


__all__ = [
    "CHECKS",
    "CHECK_IDS",
    "RANK",
    "SEVERITIES",
    "Check",
    "Finding",
    "LintReport",
    "check",
    "lint",
]
